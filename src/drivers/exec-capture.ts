/**
 * What the process and crun drivers' `exec` share: the command's stdout/stderr collected up to
 * a bound, a timeout that kills it, and the ExecResult at the end. The caller spawns the child
 * (detached, in its own process group, with piped stdio) and feeds its stdin.
 */
import type { ChildProcess } from 'node:child_process';
import type { ExecResult } from './types.js';
import { DriverError, killedBy, signalName } from './types.js';

/** Output beyond this many bytes per stream is dropped (the API answers in one JSON body). */
export const MAX_OUTPUT_BYTES = 1024 * 1024;

export interface CaptureOptions {
  readonly timeoutMs: number;
  /** The child could not be spawned: the rejection says `${cannotRun}: <reason>`. */
  readonly cannotRun: string;
  /** Kills more than the child's process group on timeout (a process in another pid namespace). */
  readonly onTimeout?: () => void;
  /** Runs once when the result is in or the child could not start (temp files). */
  readonly onSettled?: () => void;
  /**
   * After a timeout, resolve this long after the child exits even if its output is still open
   * (background processes it left may hold it); unset: wait for the streams to close.
   */
  readonly afterTimeoutExitMs?: number;
}

export function captureExec(child: ChildProcess, opts: CaptureOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    let settled = false;
    child.stdout?.on('data', (b: Buffer) => {
      if (outBytes < MAX_OUTPUT_BYTES) out.push(b.subarray(0, MAX_OUTPUT_BYTES - outBytes));
      outBytes += b.length;
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (errBytes < MAX_OUTPUT_BYTES) err.push(b.subarray(0, MAX_OUTPUT_BYTES - errBytes));
      errBytes += b.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      opts.onTimeout?.();
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      opts.onSettled?.();
      reject(new DriverError('HANGAR_ERR_DRIVER_START', `${opts.cannotRun}: ${e.message}`, { cause: e }));
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.onSettled?.();
      const exitCode = code ?? (signal ? killedBy(signalName(signal)).exit_code : -1);
      resolve({
        exit_code: timedOut ? -1 : exitCode,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ...(timedOut ? { timed_out: true } : {}),
      });
    };
    child.on('close', (code, signal) => {
      if (child.pid !== undefined) finish(code, signal); // else 'error' already rejected
    });
    const grace = opts.afterTimeoutExitMs;
    if (grace !== undefined) {
      child.on('exit', (code, signal) => {
        if (timedOut) setTimeout(() => finish(code, signal), grace).unref();
      });
    }
  });
}
