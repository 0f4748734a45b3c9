/**
 * Reading and changing one machine record safely. The API owns the desired side, the agent the
 * observed side; both write with compare-and-set, so a change is read → computed → written with
 * `expectedVersion` and recomputed when the agent wrote in between (machine/types.ts).
 */
import { KINDS } from '../core/model.js';
import type { MachineEvent, MachineRecord } from '../core/machine/types.js';
import { isStoreConflict, type BatchOp } from '../store/types.js';
import { ApiError, notFound } from './errors.js';
import { iso, type ControlContext } from './context.js';
import { newUlid } from './ids.js';
import { MACHINE_ID, quote } from './names.js';

/** How many events a machine keeps (newest first; clients only look at the latest few). */
export const MAX_EVENTS = 50;


/** The machine `id` of `app`, or 404 `machine not found` (flyctl matches that text). */
export async function loadMachine(ctx: ControlContext, app: string, id: string): Promise<{ rec: MachineRecord; version: number }> {
  if (!MACHINE_ID.test(id)) throw notFound(`machine not found: ${quote(id)}`);
  const ent = await ctx.store.get<MachineRecord>(KINDS.machine, id);
  if (ent === undefined || ent.value.app !== app) throw notFound(`machine not found: ${quote(id)}`);
  return { rec: ent.value, version: ent.version };
}

/** A user event (ULID id, so `from_event_id` compares by order). */
export function userEvent(type: MachineEvent['type'], status: string, nowMs: number, request?: MachineEvent['request']): MachineEvent {
  const ev: MachineEvent = { id: newUlid(), type, status, source: 'user', timestamp: nowMs };
  if (request !== undefined) ev.request = request;
  return ev;
}

export function withEvent(rec: MachineRecord, ev: MachineEvent): MachineEvent[] {
  return [ev, ...rec.events].slice(0, MAX_EVENTS);
}

/** true while a lease is held (not yet expired). */
export function leaseActive(rec: MachineRecord, nowMs: number): boolean {
  return rec.lease !== null && rec.lease !== undefined && rec.lease.expires_at * 1000 > nowMs;
}

/**
 * 409 when another client holds the machine's lease and `nonce` is not its nonce
 * (reference §1a "Leases": flyctl matches `lease currently held by`).
 */
export function checkLease(rec: MachineRecord, nonce: string | undefined, nowMs: number): void {
  if (!leaseActive(rec, nowMs) || rec.lease === null) return;
  if (nonce !== undefined && nonce === rec.lease.nonce) return;
  throw new ApiError(
    'HANGAR_ERR_API_LEASE_CONFLICT',
    `lease currently held by ${rec.lease.owner}, expires at ${iso(rec.lease.expires_at * 1000)}${nonce === undefined ? '; send its nonce in the fly-machine-lease-nonce header' : ' (the fly-machine-lease-nonce sent does not match)'}`,
  );
}

export interface Mutation<R> {
  /** The new record. */
  rec: MachineRecord;
  /** Other writes of the same batch (after the machine put). */
  ops?: BatchOp[];
  result: R;
}

export interface MutateOptions {
  /** The `fly-machine-lease-nonce` header; checked when `leased` is true. */
  nonce?: string | undefined;
  /** Whether this operation honours leases (signal, exec and metadata do not, reference §1a). */
  leased: boolean;
}

/**
 * Reads the machine, applies `change`, writes it (and `ops`) in one batch guarded by the version
 * read, and retries from a fresh read when the agent or another request wrote first.
 */
export async function mutateMachine<R>(
  ctx: ControlContext,
  app: string,
  id: string,
  opts: MutateOptions,
  change: (rec: MachineRecord, nowMs: number) => Mutation<R>,
): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    const { rec, version } = await loadMachine(ctx, app, id);
    const now = ctx.now();
    if (opts.leased) checkLease(rec, opts.nonce, now);
    const m = change(rec, now);
    const next: MachineRecord = { ...m.rec, updated_at: iso(now) };
    try {
      await ctx.store.apply([{ op: 'put', kind: KINDS.machine, id, value: next, expectedVersion: version }, ...(m.ops ?? [])]);
      return m.result;
    } catch (err) {
      if (!isStoreConflict(err) || attempt >= 20) throw err;
      if (err.opIndex !== undefined && err.opIndex > 0) {
        throw new ApiError('HANGAR_ERR_API_PRECONDITION', `machine ${quote(id)}: a related record changed at the same time; try again`);
      }
    }
  }
}
