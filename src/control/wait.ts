/**
 * `GET /machines/{id}/wait` (reference §1a "/wait semantics") on a store watch, not polling:
 * one watcher of kind `machine` per control plane process feeds every pending wait. A wait
 * registers first, then reads the machine, so no change can fall between the read and the watch;
 * watch events older than that read are ignored.
 */
import { KINDS } from '../core/model.js';
import { satisfiesWait, waitIsHopeless, type WaitableState } from '../core/machine/state.js';
import type { StateStore, StoreWatcher, Entity } from '../store/types.js';
import { ApiError, notFound, precondition } from './errors.js';
import type { MachineRecord } from '../core/machine/types.js';

export interface WaitRequest {
  app: string;
  id: string;
  states: WaitableState[];
  /** seconds, already clamped to 1..60 */
  timeout: number;
  /** `version` or legacy `instance_id`: only this version of the machine counts. */
  version?: string | undefined;
  /** Only a state reached after this event counts. */
  fromEventId?: string | undefined;
}

type Outcome = { ok: true } | { ok: false; error: ApiError };

interface Waiter {
  req: WaitRequest;
  minRevision: number;
  done: (o: Outcome) => void;
}

/** What a wait makes of the machine as it is now: finished (ok or error) or still pending. */
export function judge(rec: MachineRecord | undefined, req: WaitRequest): Outcome | undefined {
  if (rec === undefined || rec.app !== req.app) {
    return req.states.includes('destroyed') ? { ok: true } : { ok: false, error: notFound(`machine not found: ${req.id}`) };
  }
  const sameVersion = req.version === undefined || req.version === rec.instance_id;
  const afterEvent = req.fromEventId === undefined || (rec.events[0] !== undefined && rec.events[0].id > req.fromEventId);
  if (sameVersion && afterEvent && req.states.some((s) => satisfiesWait(rec.state, s))) return { ok: true };
  if (sameVersion && req.states.every((s) => waitIsHopeless(rec.state, rec.desired, s))) {
    return {
      ok: false,
      error: precondition(`machine failed to reach desired state, ${req.states.join('|')}, current state: ${rec.state}`),
    };
  }
  return undefined;
}

export class WaitHub {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private watcher: StoreWatcher<MachineRecord> | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly store: StateStore) {}

  /** Resolves when the machine reaches one of the states; rejects with 408, 404 or the hopeless 412. */
  async wait(req: WaitRequest): Promise<void> {
    if (this.closed) throw new ApiError('HANGAR_ERR_API_AGENT_UNAVAILABLE', 'the server is shutting down');
    await this.ensureWatching();
    let waiter: Waiter | undefined;
    const outcome = new Promise<Outcome>((resolve) => {
      waiter = { req, minRevision: Number.MAX_SAFE_INTEGER, done: resolve };
    });
    const w = waiter as Waiter;
    const set = this.waiters.get(req.id) ?? new Set<Waiter>();
    set.add(w);
    this.waiters.set(req.id, set);
    const timer = setTimeout(() => {
      w.done({ ok: false, error: new ApiError('HANGAR_ERR_API_WAIT_TIMEOUT', `timeout waiting for machine ${req.id} to be ${req.states.join('|')}`) });
    }, req.timeout * 1000);
    try {
      const ent = await this.store.get<MachineRecord>(KINDS.machine, req.id);
      w.minRevision = ent?.revision ?? 0;
      const now = judge(ent?.value, req);
      if (now !== undefined) w.done(now);
      const result = await outcome;
      if (!result.ok) throw result.error;
    } finally {
      clearTimeout(timer);
      set.delete(w);
      if (set.size === 0 && this.waiters.get(req.id) === set) this.waiters.delete(req.id);
    }
  }

  /** Ends the watch; pending waits end with 503. */
  close(): void {
    this.closed = true;
    this.watcher?.close();
    for (const set of this.waiters.values()) {
      for (const w of set) w.done({ ok: false, error: new ApiError('HANGAR_ERR_API_AGENT_UNAVAILABLE', 'the server is shutting down') });
    }
  }

  private ensureWatching(): Promise<void> {
    this.starting ??= this.store.watch<MachineRecord>(KINDS.machine).then((watcher) => {
      this.watcher = watcher;
      if (this.closed) watcher.close();
      void this.consume(watcher);
    });
    return this.starting;
  }

  private async consume(watcher: StoreWatcher<MachineRecord>): Promise<void> {
    try {
      for await (const ev of watcher) {
        if (ev.type === 'snapshot') {
          const byId = new Map(ev.entities.map((e) => [e.id, e]));
          for (const id of [...this.waiters.keys()]) this.dispatch(id, byId.get(id), ev.revision, false);
        } else {
          this.dispatch(ev.entity.id, ev.entity, ev.revision, ev.type === 'delete');
        }
      }
    } catch {
      // the store closed under us: pending waits end by their own timeouts
    }
  }

  private dispatch(id: string, ent: Entity<MachineRecord> | undefined, revision: number, deleted: boolean): void {
    const set = this.waiters.get(id);
    if (set === undefined) return;
    for (const w of set) {
      if (revision <= w.minRevision) continue;
      const o = judge(deleted ? undefined : ent?.value, w.req);
      if (o !== undefined) w.done(o);
    }
  }
}
