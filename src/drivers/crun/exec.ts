/**
 * `exec` in a running machine through `<runtime> exec --process <file>`: the command gets the
 * machine's environment (plus the caller's), working directory, user and capabilities from the
 * bundle's config.json. The runtime is started through the monitor script's `exec` mode so the
 * driver can move it into the machine's cgroup first (its memory and pids limits then apply, and
 * `ps` sees the command).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureExec } from '../exec-capture.js';
import type { ExecOptions, ExecResult } from '../types.js';
import { DriverError } from '../types.js';
import { enterCgroup, type MachineCgroup } from './cgroups.js';
import { go } from './monitor.js';
import { envList } from './oci-spec.js';
import { execArgv, type Runtime } from './runtime.js';

interface OciProcess {
  env?: string[];
  [key: string]: unknown;
}

/** The process spec of an exec: the machine's process with other args and env on top. Pure. */
export function execProcess(machine: OciProcess, argv: readonly string[], env: Readonly<Record<string, string>> = {}): OciProcess {
  const merged: Record<string, string> = {};
  for (const pair of machine.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq > 0) merged[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  Object.assign(merged, env);
  return { ...machine, terminal: false, args: [...argv], env: envList(merged) };
}

export interface ExecTarget {
  readonly runtime: Runtime;
  readonly containerId: string;
  readonly bundle: string;
  readonly cgroup: MachineCgroup;
  readonly monitorScript: string;
}

export function execInMachine(target: ExecTarget, opts: ExecOptions): Promise<ExecResult> {
  if (opts.argv.length === 0 || opts.argv[0] === '') return Promise.reject(new DriverError('HANGAR_ERR_DRIVER_START', 'exec needs a command (argv is empty)'));
  const config = JSON.parse(readFileSync(join(target.bundle, 'config.json'), 'utf8')) as { process: OciProcess };
  const tag = randomBytes(6).toString('hex');
  const processFile = join(target.bundle, `exec-${tag}.json`);
  const pidFile = join(target.bundle, `exec-${tag}.pid`);
  // 0600: the machine's environment holds its secrets.
  writeFileSync(processFile, JSON.stringify(execProcess(config.process, opts.argv, opts.env)), { mode: 0o600 });
  const cleanup = () => {
    rmSync(processFile, { force: true });
    rmSync(pidFile, { force: true });
  };
  const child = spawn('/bin/sh', [target.monitorScript, 'exec', ...execArgv(target.runtime, target.containerId, processFile, pidFile)], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  const result = captureExec(child, {
    timeoutMs: opts.timeoutMs,
    cannotRun: 'exec: cannot run the runtime',
    // The command runs in the machine's pid namespace, not in our process group: kill it by its host pid too.
    onTimeout: () => {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // not started yet, or gone
      }
    },
    onSettled: cleanup,
    // Background processes the command left may hold its stdout open: after a timeout, do not wait for them.
    afterTimeoutExitMs: 200,
  });
  if (child.pid !== undefined) {
    try {
      enterCgroup(target.cgroup, child.pid);
    } catch {
      // The machine's cgroup is gone (it exited meanwhile): the runtime will report that.
    }
    go(child, opts.stdin ?? '');
  }
  return result;
}
