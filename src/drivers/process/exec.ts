/**
 * `exec` for the process driver: runs a command on the host, in the machine's working directory
 * with the machine's environment, feeding stdin and collecting bounded stdout/stderr.
 */
import { spawn } from 'node:child_process';
import { captureExec } from '../exec-capture.js';
import type { ExecResult } from '../types.js';
import { DriverError } from '../types.js';

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
  // Own process group, so a timeout kills whatever the command started too.
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const result = captureExec(child, { timeoutMs: opts.timeoutMs, cannotRun: `exec: cannot run ${JSON.stringify(file)}` });
  // The command may exit without reading stdin: ignore EPIPE rather than crash the agent.
  child.stdin.on('error', () => {});
  child.stdin.end(opts.stdin ?? '');
  return result;
}
