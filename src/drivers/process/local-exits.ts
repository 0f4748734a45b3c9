/**
 * Exit statuses of machines this OS process spawned, shared by all process-driver instances in it.
 *
 * Only the parent of a process learns its exit status. When a new driver instance recovers a
 * machine that an earlier instance in the same OS process spawned (an in-process agent restart,
 * as tests do), the status is known here; it is module state because "who is the parent" is a
 * fact about the OS process, not about a driver instance. Bounded so it cannot grow forever.
 */
import type { ExitResult } from '../types.js';
import { killedBy, signalName } from '../types.js';

const MAX_ENTRIES = 4096;
const exits = new Map<string, ExitResult>();

export function rememberLocalExit(key: string, result: ExitResult): void {
  exits.set(key, result);
  if (exits.size > MAX_ENTRIES) {
    const oldest = exits.keys().next().value;
    if (oldest !== undefined) exits.delete(oldest);
  }
}

export function localExit(key: string): ExitResult | undefined {
  return exits.get(key);
}

export function forgetLocalExit(key: string): void {
  exits.delete(key);
}

/** The ExitResult of a child's `exit` event. */
export function exitFromEvent(code: number | null, signal: NodeJS.Signals | null): ExitResult {
  if (code !== null) return { exit_code: code, oom_killed: false, exited_at: new Date().toISOString() };
  return killedBy(signalName(signal ?? 'SIGKILL'));
}
