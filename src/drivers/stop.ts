import type { ExitResult } from './types.js';

type Signal = NodeJS.Signals;

/**
 * A stop as Fly does it (reference §1a POST /stop): send `signal`, wait up to `timeoutMs` for the
 * task to exit, then SIGKILL; resolves with the exit either way. Drivers supply how to signal
 * (one process, a process group, a container's init) and how to wait.
 */
export async function stopWithTimeout(
  wait: () => Promise<ExitResult>,
  kill: (signal: Signal) => void,
  signal: Signal,
  timeoutMs: number,
): Promise<ExitResult> {
  kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const first = await Promise.race([wait(), timedOut]);
  clearTimeout(timer);
  if (first === 'timeout') kill('SIGKILL');
  return wait();
}
