/**
 * Keeps the proxy's route table in step with the store (ARCHITECTURE.md "Data flow"): one watch
 * of apps and machines, a rebuild debounced by ~10 ms, and none at all when nothing the table
 * reads changed (machine events are written far more often than state, routing or checks), as
 * uncloud skips no-op reloads (STYLE.md).
 */
import { buildRouteTable, type RouteMachine, type RouteTableOptions } from '../core/proxy/table.js';
import type { RouteTable } from '../core/proxy/types.js';
import { KINDS, type AppRecord } from '../core/model.js';
import type { MachineRecord } from '../core/machine/types.js';
import type { StateStore } from '../store/types.js';
import { sortedBy, StoreMirror } from '../store/mirror.js';

export interface RouteFeederOptions extends RouteTableOptions {
  store: StateStore;
  /** Called with every new table (the first one before `start()` resolves). */
  onTable: (table: RouteTable) => void | Promise<void>;
  debounceMs?: number;
  onError?: (err: Error) => void;
}

/** The table's view of a machine: only what `buildRouteTable` reads. */
export function routeMachine(m: MachineRecord): RouteMachine {
  return {
    id: m.id,
    app: m.app,
    region: m.region,
    state: m.state,
    cordoned: m.cordoned === true,
    // outputs and times change without changing routing: left out so they cause no rebuild
    checks: (m.checks ?? []).map((c) => ({ ...c, output: '', updated_at: '' })),
    routing: m.routing ?? null,
    config: { services: m.config?.services, checks: m.config?.checks, image: m.config?.image, statics: m.config?.statics },
    instance_id: m.instance_id,
    image_ref: m.image_ref ? { digest: m.image_ref.digest } : null,
  };
}

type RouteView = { apps: Array<{ name: string; org: string; network: string }>; machines: RouteMachine[] };

export class RouteFeeder {
  private readonly mirror: StoreMirror<RouteView>;

  constructor(private readonly opts: RouteFeederOptions) {
    this.mirror = new StoreMirror<RouteView>({
      store: opts.store,
      kinds: [KINDS.app, KINDS.machine],
      view: () => ({
        apps: sortedBy([...this.mirror.values<AppRecord>(KINDS.app)].map((a) => ({ name: a.name, org: a.org, network: a.network })), (a) => a.name),
        machines: sortedBy([...this.mirror.values<MachineRecord>(KINDS.machine)].map(routeMachine), (m) => m.id),
      }),
      rebuild: (view) => this.opts.onTable(buildRouteTable(view.apps, view.machines, this.opts)),
      ...(opts.debounceMs === undefined ? {} : { debounceMs: opts.debounceMs }),
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
  }

  /** Tables built so far (a no-op change builds none). */
  get builds(): number {
    return this.mirror.builds;
  }

  /** Watches the store; resolves once the first table (from the snapshot) was handed over. */
  start(): Promise<void> {
    return this.mirror.start();
  }

  /** The machine records as last seen (the autostop loop reads them each round). */
  machineRecords(): Iterable<MachineRecord> {
    return this.mirror.values<MachineRecord>(KINDS.machine);
  }

  /** Resolves once every change up to `revision` is applied and its table handed over. */
  settled(revision: number): Promise<void> {
    return this.mirror.settled(revision);
  }

  close(): void {
    this.mirror.close();
  }
}
