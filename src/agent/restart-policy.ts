/**
 * What happens after a machine's main process exits: restart it (after a backoff), or let it
 * rest as `stopped` or `failed`. Pure, so every combination is unit-tested without processes.
 *
 * Fly's rules (reference §1a "Machine config fields", `restart`): `no`, `always`, `on-failure`
 * (the default when no policy is set); `max_retries` applies to `on-failure` only. A machine the
 * user stopped is never restarted, whatever the policy.
 */
import type { MachineRestart } from '../core/fly/machine-config.js';
import type { DesiredState } from '../core/machine/types.js';

export interface BackoffOptions {
  /** Delay before the first restart (ms). */
  readonly baseMs: number;
  /** The delay doubles per restart up to this (ms). */
  readonly maxMs: number;
}

/** Hangar's defaults: 100 ms doubling, capped at 5 s. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 5000 };

/**
 * `max_retries` when an on-failure policy sets none. Fly does not document its default; a bound
 * keeps a broken machine from crash-looping forever.
 */
export const DEFAULT_MAX_RETRIES = 10;

export interface ExitFacts {
  /** -1 when unknown (the machine died while no agent watched it). */
  readonly exitCode: number;
  /** true when the exit was caused by a stop the user (or the agent on their behalf) asked for. */
  readonly requestedStop: boolean;
  /** What the machine record wants now. */
  readonly desired: DesiredState;
  /** Restarts by the policy since the last user start. */
  readonly restartCount: number;
}

export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly restartCount: number }
  | { readonly action: 'rest'; readonly state: 'stopped' | 'failed'; readonly restartCount: number };

/** The effective policy of a config's `restart` (on-failure when unset). */
export function effectivePolicy(restart: MachineRestart | undefined): MachineRestart['policy'] {
  return restart?.policy ?? 'on-failure';
}

/** The backoff before restart number `n` (1-based): base × 2^(n−1), capped. */
export function backoffDelay(n: number, backoff: BackoffOptions): number {
  const exp = Math.min(Math.max(n - 1, 0), 30);
  return Math.min(backoff.baseMs * 2 ** exp, backoff.maxMs);
}

/**
 * Decides what follows an exit. An unknown exit code counts as a failure: the machine did not
 * end on its own terms as far as anyone can tell.
 */
export function decideAfterExit(
  restart: MachineRestart | undefined,
  exit: ExitFacts,
  backoff: BackoffOptions = DEFAULT_BACKOFF,
  defaultMaxRetries = DEFAULT_MAX_RETRIES,
): RestartDecision {
  const policy = effectivePolicy(restart);
  const failed = exit.exitCode !== 0;
  const rest = (state: 'stopped' | 'failed'): RestartDecision => ({ action: 'rest', state, restartCount: exit.restartCount });
  if (exit.requestedStop || exit.desired !== 'started') return rest('stopped');
  const again = (): RestartDecision => {
    const n = exit.restartCount + 1;
    return { action: 'restart', delayMs: backoffDelay(n, backoff), restartCount: n };
  };
  switch (policy) {
    case 'no':
      return rest('stopped');
    case 'always':
      return again();
    case 'on-failure': {
      if (!failed) return rest('stopped');
      const max = restart?.max_retries ?? defaultMaxRetries;
      return exit.restartCount < max ? again() : rest('failed');
    }
  }
}
