/**
 * Keeps the `.internal` zone in step with the store (ARCHITECTURE.md "Data flow"): one watch of
 * apps and machines (snapshot, then changes), a rebuild debounced by ~10 ms so a burst of writes
 * (a deploy touching many machines) costs one build, and no rebuild at all when what the zone
 * reads did not change (a machine's events or checks are written far more often than its state
 * or address), as uncloud skips no-op reloads (STYLE.md).
 */
import { buildZone, type ZoneApp, type ZoneInput, type ZoneMachine, type Zone } from '../core/dns/zone.js';
import { KINDS, networkId, type AppRecord } from '../core/model.js';
import type { MachineRecord } from '../core/machine/types.js';
import type { StateStore } from '../store/types.js';
import { sortedBy, StoreMirror } from '../store/mirror.js';

export interface ZoneFeederOptions {
  store: StateStore;
  /** Called with every new zone (the first one before `start()` resolves). */
  onZone?: (zone: Zone) => void;
  /** Called instead of `onZone` with what a zone is built from, for a resolver that builds it elsewhere (thread.ts). */
  onInput?: (input: ZoneInput) => void;
  debounceMs?: number;
  /** Networks to answer for even without apps (one per listener). */
  networks?: readonly string[];
  localRegion?: string;
  distances?: ZoneInput['distances'];
  onError?: (err: Error) => void;
}

/** The zone's view of an app record; networks are told apart by org and name (`networkId`). */
export function zoneApp(app: AppRecord): ZoneApp {
  return { name: app.name, network: networkId(app.org, app.network), org: app.org };
}

/** The zone's view of a machine record: only the fields the zone reads (reference §1d). */
export function zoneMachine(m: MachineRecord): ZoneMachine {
  const out: ZoneMachine = { id: m.id, app: m.app, region: m.region, state: m.state, private_ip: m.private_ip ?? '' };
  const group = m.config?.metadata?.fly_process_group;
  if (group) out.process_group = group;
  if (m.config?.dns?.skip_registration === true) out.skip_registration = true;
  const metadata = m.config?.metadata;
  if (metadata && Object.keys(metadata).length > 0) out.metadata = { ...metadata };
  return out;
}

type ZoneView = { apps: ZoneApp[]; machines: ZoneMachine[] };

export class ZoneFeeder {
  private readonly mirror: StoreMirror<ZoneView>;

  constructor(private readonly opts: ZoneFeederOptions) {
    this.mirror = new StoreMirror<ZoneView>({
      store: opts.store,
      kinds: [KINDS.app, KINDS.machine],
      view: () => ({
        apps: sortedBy([...this.mirror.values<AppRecord>(KINDS.app)].map(zoneApp), (a) => a.name),
        machines: sortedBy([...this.mirror.values<MachineRecord>(KINDS.machine)].map(zoneMachine), (m) => m.id),
      }),
      rebuild: (view) => this.rebuild(view),
      ...(opts.debounceMs === undefined ? {} : { debounceMs: opts.debounceMs }),
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
  }

  /** Zones built so far (a no-op change builds none); each zone's serial is its number. */
  get builds(): number {
    return this.mirror.builds;
  }

  /** Watches the store; resolves once the first zone (from the snapshot) was handed to `onZone`. */
  start(): Promise<void> {
    return this.mirror.start();
  }

  /**
   * Resolves once every store change up to `revision` has been applied and any rebuild it asked
   * for is done (or was skipped as a no-op). For callers that must know the zone caught up with a
   * write, such as tests and `hangar server` start-up.
   */
  settled(revision: number): Promise<void> {
    return this.mirror.settled(revision);
  }

  /** Stops watching; no zone is delivered afterwards. */
  close(): void {
    this.mirror.close();
  }

  private rebuild(view: ZoneView): void {
    const input: ZoneInput = { ...view, serial: this.mirror.builds };
    if (this.opts.networks) input.networks = this.opts.networks;
    if (this.opts.localRegion !== undefined) input.localRegion = this.opts.localRegion;
    if (this.opts.distances) input.distances = this.opts.distances;
    if (this.opts.onInput) this.opts.onInput(input);
    else this.opts.onZone?.(buildZone(input));
  }
}
