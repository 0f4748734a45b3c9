/**
 * Writing the observed side of machine records. The API writes the same records concurrently
 * (desired side), so every write is compare-and-set: read, apply a pure change, write with the
 * version read; on a conflict read again and re-apply (never overwrite a request we did not see).
 */
import { ulid } from 'ulid';
import type { ExitEvent, MachineEvent, MachineRecord } from '../core/machine/types.js';
import { KINDS } from '../core/model.js';
import { signalNumber, type ExitResult } from '../drivers/types.js';
import { isStoreConflict, type BatchOp, type Entity, type StateStore } from '../store/types.js';

/** Machine events kept per record (newest first; reference §1a: clients take the first match). */
export const MAX_EVENTS = 25;


/** A change to a machine record; undefined = nothing to write. Must be pure: it may run more than once. */
export type MachineChange = (rec: MachineRecord) => MachineRecord | undefined;

const MAX_ATTEMPTS = 50;

/**
 * Applies `change` to machine `id` with compare-and-set, retrying on conflicts; `extra` ops
 * (e.g. the handle record) commit in the same batch. Returns the stored entity, or undefined
 * when the machine is gone or the change wrote nothing.
 */
export async function updateMachine(store: StateStore, id: string, change: MachineChange, extra: readonly BatchOp[] = []): Promise<Entity<MachineRecord> | undefined> {
  for (let attempt = 0; ; attempt++) {
    const cur = await store.get<MachineRecord>(KINDS.machine, id);
    if (!cur) {
      if (extra.length > 0) await store.apply(extra);
      return undefined;
    }
    const next = change(structuredClone(cur.value));
    if (next === undefined) {
      if (extra.length > 0) await store.apply(extra);
      return undefined;
    }
    next.updated_at = new Date().toISOString();
    try {
      const res = await store.apply([{ op: 'put', kind: KINDS.machine, id, value: next, expectedVersion: cur.version }, ...extra]);
      return res.results[0] as Entity<MachineRecord>;
    } catch (err) {
      if (!isStoreConflict(err) || err.opIndex !== 0 || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

/** Prepends an event, keeping the list bounded. */
export function withEvent(rec: MachineRecord, ev: Omit<MachineEvent, 'id' | 'timestamp'>): MachineRecord {
  const event: MachineEvent = { id: ulid(), timestamp: Date.now(), ...ev };
  rec.events = [event, ...(rec.events ?? [])].slice(0, MAX_EVENTS);
  return rec;
}

/** Fly's `exit_event` from a driver's ExitResult (`signal` is -1 when no signal killed it). */
export function exitEvent(exit: ExitResult, requestedStop: boolean, restarting: boolean): ExitEvent {
  let signal = -1;
  if (exit.signal !== undefined) signal = signalNumber(exit.signal as NodeJS.Signals) || -1;
  return { exit_code: exit.exit_code, oom_killed: exit.oom_killed, requested_stop: requestedStop, restarting, signal, exited_at: exit.exited_at };
}

/** The `exit` machine event; says so when the exit status is unknown. */
export function exitMachineEvent(exit: ExitResult, requestedStop: boolean, restarting: boolean, restartCount: number): Omit<MachineEvent, 'id' | 'timestamp'> {
  const ee = exitEvent(exit, requestedStop, restarting);
  return {
    type: 'exit',
    status: 'stopped',
    source: 'flyd',
    request: {
      exit_event: ee,
      MonitorEvent: { exit_event: ee },
      restart_count: restartCount,
      ...(exit.exit_code_unknown ? { exit_code_unknown: true, message: 'the machine exited while no agent watched it; its exit status is unknown' } : {}),
    },
  };
}
