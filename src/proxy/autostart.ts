/**
 * Autostart (reference §1c): when a request finds no started machine below its soft limit, the
 * proxy starts the nearest stopped (or suspended) machine of the service and holds the request
 * until the machine routes. It never creates or destroys machines.
 *
 * One `Autostarter` per proxy keeps the starts in flight. A start is expected to absorb a soft
 * limit's worth of held requests, so a second machine is started only when more requests are
 * held than the machines already starting can take ("more are started as soft limits are
 * reached"). A start ends when the machine shows up as a backend, fails, or times out.
 */
import { regionDistance } from '../core/proxy/region.js';
import type { BalanceOptions } from '../core/proxy/balance.js';
import type { Route, RouteTable, StoppedMachine } from '../core/proxy/types.js';

/**
 * Starts (and, for autostop, stops) machines on the proxy's behalf: in process through the
 * control plane's own actions (`InProcessMachines`, src/server/proxy.ts), or, for a proxy
 * running apart from the API, over the Machines API.
 */
export interface MachineStarter {
  start(app: string, machineId: string): Promise<void>;
}

/** What the autostop loop needs besides starting. */
export interface MachineStopper {
  stop(app: string, machineId: string): Promise<void>;
  suspend(app: string, machineId: string): Promise<void>;
}

const FAILED_COOLDOWN_MS = 5000;

interface Pending {
  readonly route: string;
  readonly app: string;
  readonly softLimit: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

export interface AutostarterOptions {
  starter: MachineStarter | undefined;
  balance: BalanceOptions;
  /** A start not seen routing after this long no longer counts as capacity (ms). */
  startTimeoutMs: number;
  /** How many requests are held for a route right now (the queue's length). */
  waiting: (routeKey: string) => number;
  onStarted?: (app: string, publicPort: number, machineId: string) => void;
  onError?: (err: Error, app: string, machineId: string) => void;
  /** A start failed or timed out: let the held requests look again. */
  onSettled?: (routeKey: string) => void;
}

export class Autostarter {
  private readonly pending = new Map<string, Pending>();
  /** Machines whose start just failed (id → until when, ms): not tried again before then. */
  private readonly failed = new Map<string, number>();

  constructor(private readonly opts: AutostarterOptions) {}

  /** Machines whose start is in flight (tests). */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * A request of `route` (key `key`) is held. True when it can wait for a start in flight or one
   * begun now; false when there is nothing to start (autostart off, no stopped machine, no starter).
   */
  request(route: Route, key: string): boolean {
    if (!this.opts.starter || !route.autostart) return false;
    let capacity = 0;
    for (const p of this.pending.values()) if (p.route === key) capacity += p.softLimit;
    const held = this.opts.waiting(key);
    if (capacity > 0 && held <= capacity) return true;
    const next = this.nearest(route.stoppedMachines);
    if (!next) return capacity > 0;
    this.begin(route, key, next);
    return true;
  }

  /** A new table: starts whose machine now routes are done. */
  onTable(table: RouteTable): void {
    if (this.pending.size === 0) return;
    const routed = new Set<string>();
    const visit = (r: Route) => {
      for (const b of r.backends) if (this.pending.has(b.machineId)) routed.add(b.machineId);
    };
    for (const r of table.ports.values()) visit(r);
    for (const hosts of table.hosts.values()) for (const r of hosts.values()) visit(r);
    for (const id of routed) this.end(id);
  }

  close(): void {
    for (const id of [...this.pending.keys()]) this.end(id);
  }

  private nearest(stopped: readonly StoppedMachine[]): StoppedMachine | undefined {
    const { region, distances } = this.opts.balance;
    let best: StoppedMachine | undefined;
    let bestD = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (const m of stopped) {
      if (this.pending.has(m.machineId)) continue;
      const until = this.failed.get(m.machineId);
      if (until !== undefined) {
        if (until > now) continue;
        this.failed.delete(m.machineId);
      }
      const d = regionDistance(distances, region, m.region);
      if (!best || d < bestD) {
        best = m;
        bestD = d;
      }
    }
    return best;
  }

  private begin(route: Route, key: string, m: StoppedMachine): void {
    const timer = setTimeout(() => {
      this.end(m.machineId);
      this.opts.onSettled?.(key);
    }, this.opts.startTimeoutMs);
    timer.unref();
    this.pending.set(m.machineId, { route: key, app: route.app, softLimit: Math.max(1, m.softLimit), timer });
    this.opts.onStarted?.(route.app, route.publicPort, m.machineId);
    this.opts.starter!.start(route.app, m.machineId).catch((err: unknown) => {
      this.end(m.machineId);
      // Without a pause the held requests would retry the same failing start in a tight loop.
      this.failed.set(m.machineId, Date.now() + FAILED_COOLDOWN_MS);
      this.opts.onError?.(err instanceof Error ? err : new Error(String(err)), route.app, m.machineId);
      this.opts.onSettled?.(key);
    });
  }

  private end(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
  }
}
