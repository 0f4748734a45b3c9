/**
 * The OCI runtime binary (crun, runc as fallback): argv builders (pure) and the few one-shot
 * invocations the driver makes outside the monitor. Always argv arrays, never a shell.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export type RuntimeKind = 'crun' | 'runc';

export interface Runtime {
  readonly kind: RuntimeKind;
  /** Absolute path of the binary. */
  readonly path: string;
  /** `--root`: where the runtime keeps container state. */
  readonly root: string;
}

const SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The first executable named `name` on the usual system paths. */
export function findBinary(name: string): string | undefined {
  for (const dir of SEARCH_PATH) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** The default state root of each runtime (so `crun list` / `runc list` show Hangar's containers). */
export const DEFAULT_ROOTS: Record<RuntimeKind, string> = { crun: '/run/crun', runc: '/run/runc' };

/** Global options: state root, error log, and for crun no cgroup management (the driver owns cgroups). Pure. */
export function globalArgs(rt: Runtime, logFile?: string): string[] {
  const out = ['--root', rt.root];
  if (logFile !== undefined) out.push(rt.kind === 'crun' ? `--log=file:${logFile}` : `--log=${logFile}`);
  if (rt.kind === 'crun') out.push('--cgroup-manager=disabled');
  return out;
}

/** The runtime's log and pid files, in the bundle dir. */
export const RUNTIME_LOG = 'runtime.log';
export const PID_FILE = 'init.pid';

/**
 * `run` in the foreground, to be started from inside the bundle dir (monitor.ts): the runtime
 * stays the container's parent and exits with its status. Relative paths, so the argv a spare
 * monitor reads from its pipe stays short. Pure.
 */
export function runArgv(rt: Runtime, id: string): string[] {
  return [rt.path, ...globalArgs(rt, RUNTIME_LOG), 'run', '--bundle', '.', '--pid-file', PID_FILE, id];
}

/** `exec` of a process spec file (so the machine's env, cwd and user apply, and secrets stay off argv). Pure. */
export function execArgv(rt: Runtime, id: string, processFile: string, pidFile: string): string[] {
  return [rt.path, ...globalArgs(rt), 'exec', '--process', processFile, '--pid-file', pidFile, id];
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a short command to completion (bounded time and output); never rejects. */
export function run(file: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 1 && !stderr ? err.message : stderr) });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

/** `<runtime> state <id>`: the container's status, or undefined when the runtime does not know it. */
export async function runtimeState(rt: Runtime, id: string): Promise<{ status: string; pid: number } | undefined> {
  const r = await run(rt.path, [...globalArgs(rt), 'state', id]);
  if (r.code !== 0) return undefined;
  try {
    const s = JSON.parse(r.stdout) as { status?: string; pid?: number };
    return { status: s.status ?? 'unknown', pid: s.pid ?? 0 };
  } catch {
    return undefined;
  }
}

/** `<runtime> delete --force <id>` (only ever called with a `hangar-` id). */
export async function runtimeDelete(rt: Runtime, id: string): Promise<CommandResult> {
  return run(rt.path, [...globalArgs(rt), 'delete', '--force', id]);
}
