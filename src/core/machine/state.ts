/**
 * The machine lifecycle as pure functions: what a user request does to a machine record
 * (API side) and which state the agent reports as it converges (agent side).
 * Reference §1a "Machine states": persistent created/started/stopped/suspended/failed,
 * transient starting/stopping/restarting/suspending/destroying/updating, terminal destroyed/replaced.
 */
import type { DesiredState, MachineRecord, MachineState } from './types.js';

export type UserAction = 'start' | 'stop' | 'suspend' | 'restart' | 'destroy' | 'force-destroy' | 'update';

export type TransitionResult =
  | { ok: true; previousState: MachineState; state: MachineState; desired: DesiredState; bumpGeneration: boolean; noop: boolean }
  | { ok: false; http: number; message: string };

const ACTIVE_RUNNING: readonly MachineState[] = ['started', 'starting', 'restarting', 'updating'];
const AT_REST: readonly MachineState[] = ['created', 'stopped', 'suspended', 'failed', 'launch_failed'];

function ok(prev: MachineState, state: MachineState, desired: DesiredState, bump: boolean, noop = false): TransitionResult {
  return { ok: true, previousState: prev, state, desired, bumpGeneration: bump, noop };
}

function precondition(message: string): TransitionResult {
  // Fly answers impossible transitions with 412 `failed_precondition` and a sentence.
  return { ok: false, http: 412, message };
}

/**
 * What `action` does to a machine in `rec.state`. Idempotent where a client would expect it:
 * starting a started machine or stopping a stopped one succeeds without doing anything.
 */
export function transition(rec: Pick<MachineRecord, 'state' | 'desired'>, action: UserAction): TransitionResult {
  const s = rec.state;
  if (s === 'destroyed' || s === 'replaced' || s === 'migrated') {
    return { ok: false, http: 404, message: `machine not found (it is ${s})` };
  }
  if (s === 'destroying') return precondition(`unable to ${action.replace('force-', '')} machine: it is being destroyed`);
  switch (action) {
    case 'start':
      if (ACTIVE_RUNNING.includes(s)) return ok(s, s, 'started', false, true);
      if (s === 'stopping' || s === 'suspending') return ok(s, 'starting', 'started', true);
      return ok(s, 'starting', 'started', true);
    case 'stop':
      if (AT_REST.includes(s) && s !== 'suspended') return ok(s, s, rec.desired === 'created' ? 'created' : 'stopped', false, true);
      if (s === 'stopping') return ok(s, s, 'stopped', false, true);
      // stopping a suspended machine discards its snapshot (reference §1a)
      return ok(s, 'stopping', 'stopped', true);
    case 'suspend':
      if (s === 'suspended' || s === 'suspending') return ok(s, s, 'suspended', false, true);
      if (!ACTIVE_RUNNING.includes(s)) return precondition(`unable to suspend machine, not currently started (state: ${s})`);
      return ok(s, 'suspending', 'suspended', true);
    case 'restart':
      if (AT_REST.includes(s)) return ok(s, 'starting', 'started', true);
      return ok(s, 'restarting', 'started', true);
    case 'update':
      return ok(s, 'updating', rec.desired === 'destroyed' ? 'stopped' : rec.desired, true);
    case 'destroy':
      if (!AT_REST.includes(s)) {
        return precondition(`unable to destroy machine, not currently stopped, suspended or failed (state: ${s}); stop it first or destroy with force`);
      }
      return ok(s, 'destroying', 'destroyed', true);
    case 'force-destroy':
      return ok(s, 'destroying', 'destroyed', true);
  }
}

/** States a `/wait` can be asked for (reference §1a "/wait semantics"; `settled` is flyctl's). */
export const WAITABLE_STATES = ['started', 'stopped', 'suspended', 'destroyed', 'failed', 'settled'] as const;
export type WaitableState = (typeof WAITABLE_STATES)[number];

/** true when `state` satisfies a wait for `target`. */
export function satisfiesWait(state: MachineState, target: WaitableState): boolean {
  if (target === 'settled') return ['created', 'started', 'stopped', 'suspended', 'failed', 'destroyed'].includes(state);
  if (target === 'stopped') return state === 'stopped' || state === 'created';
  return state === target;
}

/**
 * true when waiting for `target` from `state` can no longer succeed without a new request,
 * e.g. waiting for `started` on a machine that ended `failed` or `destroyed`
 * (the API then answers with `machine failed to reach desired state`, which flyctl matches).
 */
export function waitIsHopeless(state: MachineState, desired: DesiredState, target: WaitableState): boolean {
  if (target === 'settled' || satisfiesWait(state, target)) return false;
  if (state === 'destroyed') return true;
  if (target === 'started') return state === 'failed' || state === 'launch_failed' || (desired !== 'started' && AT_REST.includes(state));
  return false;
}
