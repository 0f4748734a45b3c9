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
import type { StateStore, StoreWatcher, WatchEvent } from '../store/types.js';

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
    config: { services: m.config?.services, checks: m.config?.checks },
  };
}

export class RouteFeeder {
  private readonly apps = new Map<string, AppRecord>();
  private readonly machines = new Map<string, MachineRecord>();
  private watcher: StoreWatcher | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastKey = '';
  private closed = false;
  private applied = 0;
  private waiters: { revision: number; resolve: () => void }[] = [];
  /** Tables built so far (a no-op change builds none). */
  builds = 0;

  constructor(private readonly opts: RouteFeederOptions) {}

  async start(): Promise<void> {
    const watcher = await this.opts.store.watch([KINDS.app, KINDS.machine]);
    this.watcher = watcher;
    const it = watcher[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done) return;
    this.apply(first.value);
    await this.rebuild();
    void this.pump(it);
  }

  /** The machine records as last seen (the autostop loop reads them each round). */
  machineRecords(): Iterable<MachineRecord> {
    return this.machines.values();
  }

  /** Resolves once every change up to `revision` is applied and its table handed over. */
  settled(revision: number): Promise<void> {
    if (this.isSettled(revision)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.wake();
  }

  private isSettled(revision: number): boolean {
    return this.closed || (this.applied >= revision && this.timer === undefined && !this.building);
  }

  private building = false;

  private wake(): void {
    const ready = this.waiters.filter((w) => this.isSettled(w.revision));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private async pump(it: AsyncIterator<WatchEvent>): Promise<void> {
    try {
      for (;;) {
        const next = await it.next();
        if (next.done || this.closed) return;
        this.apply(next.value);
        if (!this.timer) this.timer = setTimeout(() => void this.rebuild(), this.opts.debounceMs ?? 10);
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
    } else if (ev.type === 'put') this.put(ev.entity.kind, ev.entity.id, ev.entity.value);
    else if (ev.entity.kind === KINDS.app) this.apps.delete(ev.entity.id);
    else if (ev.entity.kind === KINDS.machine) this.machines.delete(ev.entity.id);
  }

  private put(kind: string, id: string, value: unknown): void {
    if (kind === KINDS.app) this.apps.set(id, value as AppRecord);
    else if (kind === KINDS.machine) this.machines.set(id, value as MachineRecord);
  }

  private async rebuild(): Promise<void> {
    this.timer = undefined;
    if (this.closed) return;
    this.building = true;
    try {
      const apps = [...this.apps.values()].map((a) => ({ name: a.name })).sort((a, b) => (a.name < b.name ? -1 : 1));
      const machines = [...this.machines.values()].map(routeMachine).sort((a, b) => (a.id < b.id ? -1 : 1));
      const key = JSON.stringify([apps, machines]);
      if (key === this.lastKey) return;
      this.lastKey = key;
      this.builds += 1;
      await this.opts.onTable(buildRouteTable(apps, machines, this.opts));
    } catch (err) {
      this.opts.onError?.(err as Error);
    } finally {
      this.building = false;
      this.wake();
    }
  }
}
