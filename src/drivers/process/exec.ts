/**
 * `exec` for the process driver: runs a command on the host, in the machine's working directory
 * with the machine's environment, feeding stdin and collecting bounded stdout/stderr.
 */
import { spawn } from 'node:child_process';
import type { ExecResult } from '../types.js';
import { DriverError, killedBy, signalName } from '../types.js';

/** Output beyond this many bytes per stream is dropped (the API answers in one JSON body). */
const MAX_OUTPUT_BYTES = 1024 * 1024;

export interface RunOptions {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly stdin?: string;
  readonly timeoutMs: number;
}

/** Runs argv (never through a shell) and resolves with its exit code and output. */
export function runCommand(opts: RunOptions): Promise<ExecResult> {
  const [file, ...args] = opts.argv;
  if (file === undefined || file === '') {
    return Promise.reject(new DriverError('HANGAR_ERR_DRIVER_START', 'exec needs a command (argv is empty)'));
  }
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout kills whatever the command started too.
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => {
      if (outBytes < MAX_OUTPUT_BYTES) out.push(b.subarray(0, MAX_OUTPUT_BYTES - outBytes));
      outBytes += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errBytes < MAX_OUTPUT_BYTES) err.push(b.subarray(0, MAX_OUTPUT_BYTES - errBytes));
      errBytes += b.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new DriverError('HANGAR_ERR_DRIVER_START', `exec: cannot run ${JSON.stringify(file)}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (child.pid === undefined) return; // 'error' already rejected
      const exitCode = code ?? (signal ? killedBy(signalName(signal)).exit_code : -1);
      resolve({
        exit_code: timedOut ? -1 : exitCode,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ...(timedOut ? { timed_out: true } : {}),
      });
    });
    // The command may exit without reading stdin: ignore EPIPE rather than crash the agent.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}
