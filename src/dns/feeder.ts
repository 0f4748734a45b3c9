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
import type { StateStore, StoreWatcher, WatchEvent } from '../store/types.js';

export interface ZoneFeederOptions {
  store: StateStore;
  /** Called with every new zone (the first one before `start()` resolves). */
  onZone: (zone: Zone) => void;
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

export class ZoneFeeder {
  private readonly opts: ZoneFeederOptions;
  private readonly apps = new Map<string, AppRecord>();
  private readonly machines = new Map<string, MachineRecord>();
  private watcher: StoreWatcher | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastKey = '';
  private serial = 0;
  private closed = false;
  private applied = 0;
  private waiters: { revision: number; resolve: () => void }[] = [];

  constructor(opts: ZoneFeederOptions) {
    this.opts = opts;
  }

  /** Zones built so far (a no-op change builds none). */
  get builds(): number {
    return this.serial;
  }

  /** Watches the store; resolves once the first zone (from the snapshot) was handed to `onZone`. */
  async start(): Promise<void> {
    const watcher = await this.opts.store.watch([KINDS.app, KINDS.machine]);
    this.watcher = watcher;
    const iterator = watcher[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) return;
    this.apply(first.value);
    this.rebuild();
    void this.pump(iterator);
  }

  /**
   * Resolves once every store change up to `revision` has been applied and any rebuild it asked
   * for is done (or was skipped as a no-op). For callers that must know the zone caught up with a
   * write, such as tests and `hangar server` start-up.
   */
  settled(revision: number): Promise<void> {
    if (this.isSettled(revision)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  private isSettled(revision: number): boolean {
    return this.closed || (this.applied >= revision && this.timer === undefined);
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => this.isSettled(w.revision));
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  /** Stops watching; no zone is delivered afterwards. */
  close(): void {
    this.closed = true;
    this.wake();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
  }

  private async pump(iterator: AsyncIterator<WatchEvent>): Promise<void> {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done || this.closed) return;
        this.apply(next.value);
        this.schedule();
      }
    } catch (err) {
      this.opts.onError?.(err as Error);
    }
  }

  private apply(ev: WatchEvent): void {
    this.applied = ev.revision;
    if (ev.type === 'snapshot') {
      this.apps.clear();
      this.machines.clear();
      for (const e of ev.entities) this.put(e.kind, e.id, e.value);
    } else if (ev.type === 'put') {
      this.put(ev.entity.kind, ev.entity.id, ev.entity.value);
    } else if (ev.entity.kind === KINDS.app) {
      this.apps.delete(ev.entity.id);
    } else {
      this.machines.delete(ev.entity.id);
    }
  }

  private put(kind: string, id: string, value: unknown): void {
    if (kind === KINDS.app) this.apps.set(id, value as AppRecord);
    else if (kind === KINDS.machine) this.machines.set(id, value as MachineRecord);
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.rebuild();
    }, this.opts.debounceMs ?? 10);
  }

  private rebuild(): void {
    try {
      const apps = [...this.apps.values()].map(zoneApp).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const machines = [...this.machines.values()].map(zoneMachine).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const key = JSON.stringify([apps, machines]);
      if (key === this.lastKey) return;
      this.lastKey = key;
      this.serial += 1;
      const input: ZoneInput = { apps, machines, serial: this.serial };
      if (this.opts.networks) input.networks = this.opts.networks;
      if (this.opts.localRegion !== undefined) input.localRegion = this.opts.localRegion;
      if (this.opts.distances) input.distances = this.opts.distances;
      this.opts.onZone(buildZone(input));
    } catch (err) {
      this.opts.onError?.(err as Error);
    } finally {
      this.wake();
    }
  }
}
