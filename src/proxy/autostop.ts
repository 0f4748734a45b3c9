/**
 * The autostop loop (reference §1c "Autostop"): every `intervalMs`, read the machines the route
 * feeder knows and the proxy's live load, let the pure rule (core/proxy/autostop.ts) pick at
 * most one machine per service and region, and stop or suspend it through the same control-plane
 * action as the API. One owner of the timer; rounds never overlap.
 */
import { decideAutostop, type AutostopAction, type AutostopMachine } from '../core/proxy/autostop.js';
import type { MachineRecord } from '../core/machine/types.js';
import type { LoadMap } from '../core/proxy/types.js';
import type { MachineStopper } from './autostart.js';
import type { ProxyMetrics } from './metrics.js';

/** Fly checks every few minutes; Hangar's default. */
export const DEFAULT_AUTOSTOP_INTERVAL_MS = 3 * 60_000;

export interface AutostopLoopOptions {
  intervalMs?: number;
  /** The machines as the proxy currently sees them (RouteFeeder.machineRecords). */
  machines: () => Iterable<MachineRecord>;
  load: LoadMap;
  stopper: MachineStopper;
  metrics?: ProxyMetrics;
  /** Each action taken (for the log). */
  onAction?: (a: AutostopAction) => void;
  onError?: (err: Error, a: AutostopAction) => void;
}

/** The machine fields the rule reads, from a record. */
export function autostopMachine(m: MachineRecord): AutostopMachine {
  return {
    id: m.id,
    app: m.app,
    region: m.region,
    state: m.state,
    primaryRegion: m.config?.env?.PRIMARY_REGION,
    services: m.config?.services ?? [],
  };
}

export class AutostopLoop {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private running: Promise<unknown> = Promise.resolve();
  /** Rounds run so far (tests wait on it). */
  rounds = 0;

  constructor(private readonly opts: AutostopLoopOptions) {}

  start(): void {
    this.schedule();
  }

  /** One round now: decide, then act on each decision; resolves with what was done. */
  async round(): Promise<AutostopAction[]> {
    const machines = [...this.opts.machines()].map(autostopMachine);
    const load = this.opts.load;
    const actions = decideAutostop(machines, (id, port) => load.get(`${id}:${port}`) ?? 0);
    const done: AutostopAction[] = [];
    for (const a of actions) {
      try {
        if (a.action === 'suspend') await this.opts.stopper.suspend(a.app, a.machineId);
        else await this.opts.stopper.stop(a.app, a.machineId);
        this.opts.metrics?.autostopped(a.app, a.machineId);
        this.opts.onAction?.(a);
        done.push(a);
      } catch (err) {
        // Leased by a deploy, already stopping, gone: the next round looks again.
        this.opts.onError?.(err instanceof Error ? err : new Error(String(err)), a);
      }
    }
    this.rounds += 1;
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.round().finally(() => this.schedule());
    }, this.opts.intervalMs ?? DEFAULT_AUTOSTOP_INTERVAL_MS);
    this.timer.unref();
  }
}
