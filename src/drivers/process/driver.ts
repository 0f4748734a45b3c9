/**
 * The `process` runtime driver: each machine is a host process group with no isolation
 * (ARCHITECTURE.md "Interfaces"). For development, and for testing everything above the driver.
 *
 * Surviving the agent (STYLE.md habit 4): the machine is spawned detached (setsid: its own
 * session and process group), its stdout/stderr go to files it appends to (a pipe would
 * SIGPIPE it once the agent died) and it is unref'd. The handle records pid + the kernel's start
 * time of the process, so `recover` re-attaches to the same process and never to a later process
 * that was given a recycled pid.
 *
 * Exit status: while this OS process is the machine's parent, the exit code comes from the
 * child's `exit` event. A recovered machine has another parent (init or a subreaper reaped it),
 * so the driver polls /proc for liveness and, when the machine is gone, reports
 * `exit_code: -1, exit_code_unknown: true`: a host process that died while no agent watched
 * leaves no status behind. (If it is still a zombie when polled, the status is read from
 * /proc/<pid>/stat field 52.) The crun driver does better: crun/conmon keep the status.
 *
 * OOM kills cannot be told apart from other SIGKILLs for host processes: `oom_killed` is always false.
 * Mounts are not honoured (no mount namespace): `capabilities.mounts` is false.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type {
  ExecOptions,
  ExecResult,
  ExitResult,
  Fingerprint,
  LogFollowOptions,
  LogSubscription,
  ProcessStat,
  RuntimeDriver,
  StopOptions,
  TaskHandle,
  TaskInspection,
  TaskSpec,
} from '../types.js';
import { DriverError, killedBy, parseDirImage, signalName, taskArgv } from '../types.js';
import { stopWithTimeout } from '../stop.js';
import { TaskTable, type Task as TableTask } from '../tasks.js';
import { runCommand } from './exec.js';
import { parseProcessHandle, taskKey, type ProcessHandle } from './handle.js';
import { rotatedPath } from './logs.js';
import { processStats, taskProcesses } from './ps.js';
import { readEnviron, readStat } from './procfs.js';
import { exitFromEvent, forgetLocalExit, localExit, rememberLocalExit } from './local-exits.js';

export interface ProcessDriverOptions {
  /** How often log files and recovered machines are polled (ms). Default 200. */
  readonly pollMs?: number;
}

type Task = TableTask<ProcessHandle>;

const KILL_GRACE_MS = 5000;

export class ProcessDriver implements RuntimeDriver {
  readonly name = 'process';
  private readonly table: TaskTable<ProcessHandle>;

  constructor(opts: ProcessDriverOptions = {}) {
    this.table = new TaskTable({ driver: 'process', pollMs: opts.pollMs ?? 200, parse: parseProcessHandle, keyOf: taskKey, checkAlive: (t) => this.checkAlive(t) });
  }

  async fingerprint(): Promise<Fingerprint> {
    const capabilities = { suspend: false, exec: true, isolation: 'none', mounts: false, oomDetection: false } as const;
    if (process.platform !== 'linux' || !existsSync('/proc/self/stat')) {
      return { available: false, reason: 'the process driver reads /proc, which this host does not have (Linux only for now)', capabilities };
    }
    return { available: true, capabilities };
  }

  async start(spec: TaskSpec): Promise<TaskHandle> {
    const argv = taskArgv(spec.config);
    const cwd = parseDirImage(spec.image);
    if (!isDirectory(cwd)) throw new DriverError('HANGAR_ERR_DRIVER_START', `image directory ${cwd} does not exist or is not a directory`);
    const createdStateDir = !existsSync(spec.stateDir);
    mkdirSync(spec.stateDir, { recursive: true });
    const stdoutPath = join(spec.stateDir, 'stdout.log');
    const stderrPath = join(spec.stateDir, 'stderr.log');
    // O_APPEND: the driver may truncate the files under the machine (logs.ts) and writes still land at the end.
    const out = openSync(stdoutPath, 'a');
    const err = openSync(stderrPath, 'a');
    const [file = '', ...args] = argv;
    let child;
    try {
      child = spawn(file, args, { cwd, env: { ...spec.env }, detached: true, stdio: ['ignore', out, err] });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const e = await new Promise<Error>((resolve) => child.once('error', resolve));
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'program not found' : (e as NodeJS.ErrnoException).code === 'EACCES' ? 'program is not executable' : e.message;
      throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot start ${JSON.stringify(file)} in ${cwd}: ${why}`, { cause: e });
    }
    child.unref();
    // The child cannot have been reaped yet (reaping happens on a later loop turn), so its stat is readable.
    const st = readStat(pid);
    const handle: ProcessHandle = {
      driver: 'process',
      version: 1,
      machine_id: spec.machineId,
      instance_id: spec.instanceId,
      pid,
      pgid: pid,
      start_ticks: st?.startTicks ?? 0,
      started_at: new Date().toISOString(),
      cwd,
      state_dir: spec.stateDir,
      created_state_dir: createdStateDir,
      stdout_path: stdoutPath,
      stderr_path: stderrPath,
      log_max_bytes: spec.logs.maxBytes,
    };
    const task = this.table.track(handle, false);
    child.once('exit', (code, signal) => {
      this.finish(task, exitFromEvent(code, signal));
    });
    return handle;
  }

  wait(handle: TaskHandle): Promise<ExitResult> {
    return this.table.wait(handle);
  }

  async stop(handle: TaskHandle, opts: StopOptions): Promise<ExitResult> {
    const task = this.table.attach(handle);
    if (task.exit) return task.exit;
    const result = await stopWithTimeout(() => this.wait(handle), (sig) => this.killGroup(task, sig), signalName(opts.signal), opts.timeoutMs);
    await remainderGone(task.handle);
    return result;
  }

  async signal(handle: TaskHandle, sig: string | number): Promise<void> {
    const task = this.table.attach(handle);
    const name = signalName(sig);
    if (!this.checkAlive(task)) throw notRunning(task);
    // Like Fly's init, a signal goes to the main process; stop() is what reaches the whole group.
    process.kill(task.handle.pid, name);
  }

  async destroy(handle: TaskHandle): Promise<void> {
    const task = this.table.attach(handle);
    if (!task.exit) await this.stop(handle, { signal: 'SIGKILL', timeoutMs: KILL_GRACE_MS });
    await remainderGone(task.handle);
    this.table.forget(task.key);
    forgetLocalExit(task.key);
    const h = task.handle;
    for (const p of [h.stdout_path, h.stderr_path, rotatedPath(h.stdout_path), rotatedPath(h.stderr_path)]) rmSync(p, { force: true });
    if (h.created_state_dir) {
      try {
        rmdirSync(h.state_dir); // only when empty: anything else in it is not ours
      } catch {
        // not empty or already gone
      }
    }
  }

  async inspect(handle: TaskHandle): Promise<TaskInspection> {
    const task = this.table.attach(handle);
    this.checkAlive(task);
    return {
      running: task.exit === undefined,
      pid: task.handle.pid,
      started_at: task.handle.started_at,
      ...(task.exit ? { exit: task.exit } : {}),
    };
  }

  async recover(handle: TaskHandle): Promise<'running' | 'exited'> {
    const task = this.table.attach(handle);
    return this.checkAlive(task) ? 'running' : 'exited';
  }

  async exec(handle: TaskHandle, opts: ExecOptions): Promise<ExecResult> {
    const task = this.table.attach(handle);
    if (!this.checkAlive(task)) throw notRunning(task);
    // The machine's own environment as it was started (no need to persist secrets in the handle).
    const env = { ...(readEnviron(task.handle.pid) ?? {}), ...(opts.env ?? {}) };
    return runCommand({ argv: opts.argv, cwd: task.handle.cwd, env, timeoutMs: opts.timeoutMs, ...(opts.stdin === undefined ? {} : { stdin: opts.stdin }) });
  }

  async ps(handle: TaskHandle): Promise<ProcessStat[]> {
    const task = this.table.attach(handle);
    if (!this.checkAlive(task)) return [];
    return processStats(task.handle.pid, task.handle.start_ticks);
  }

  logs(handle: TaskHandle, opts: LogFollowOptions): LogSubscription {
    return this.table.follow(handle, opts);
  }

  async close(): Promise<void> {
    this.table.close();
  }

  /**
   * true while the task runs. For a task this instance does not parent, this is where its exit
   * is noticed: the pid is gone, is a zombie, or belongs to a process with another start time.
   */
  private checkAlive(task: Task): boolean {
    if (task.exit) return false;
    if (!task.polled) return true; // the child's 'exit' event settles it
    const st = readStat(task.handle.pid);
    if (st && st.startTicks === task.handle.start_ticks && st.state !== 'Z' && st.state !== 'X') return true;
    const zombieStatus = st && st.startTicks === task.handle.start_ticks ? st.exitStatus : undefined;
    this.finish(task, localExit(task.key) ?? fromWaitStatus(zombieStatus) ?? unknownExit());
    return false;
  }

  private finish(task: Task, result: ExitResult): void {
    if (task.exit) return;
    // Recorded for the whole OS process: a later wait/inspect (here or in another driver
    // instance that recovers the handle) answers from it, so exited tasks need not be kept.
    rememberLocalExit(task.key, result);
    // A machine is gone when its main process is: kill what it left behind, as a VM's shutdown would.
    killRemainder(task.handle);
    // Followers get the last lines; the files stay until destroy (a restart reuses them).
    this.table.forget(task.key);
    this.table.settle(task, result);
  }

  /** Signals the machine's process group, only after proving the group leader is still ours. */
  private killGroup(task: Task, sig: NodeJS.Signals): void {
    if (!this.checkAlive(task)) return;
    try {
      process.kill(-task.handle.pgid, sig);
    } catch {
      // ESRCH: exited meanwhile
    }
  }
}

/** SIGKILLs every remaining process of the task's session that started after its leader. */
function killRemainder(h: ProcessHandle): void {
  for (const st of taskProcesses(h.pgid, h.start_ticks)) {
    // The leader is known dead here; a process now holding its pid is someone else's.
    if (st.pid === h.pid) continue;
    try {
      process.kill(st.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * Waits (bounded) until the task's process group is empty, SIGKILLing stragglers again. A killed
 * process lingers as a zombie until its parent (init, once the leader is gone) reaps it, so
 * "exited" and "gone" are a few milliseconds apart.
 */
async function remainderGone(h: ProcessHandle, maxMs = 2000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    killRemainder(h);
    if (taskProcesses(h.pgid, h.start_ticks).every((st) => st.pid === h.pid) && groupEmpty(h.pgid)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function groupEmpty(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function notRunning(task: Task): DriverError {
  return new DriverError('HANGAR_ERR_DRIVER_NOT_RUNNING', `machine ${task.handle.machine_id} (pid ${task.handle.pid}) is not running`);
}

function unknownExit(): ExitResult {
  return { exit_code: -1, exit_code_unknown: true, oom_killed: false, exited_at: new Date().toISOString() };
}

/** Decodes a waitpid(2) status (from a zombie's /proc stat) into an ExitResult. */
function fromWaitStatus(status: number | undefined): ExitResult | undefined {
  if (status === undefined || !Number.isFinite(status)) return undefined;
  const sig = status & 0x7f;
  if (sig === 0) return { exit_code: (status >> 8) & 0xff, oom_killed: false, exited_at: new Date().toISOString() };
  try {
    return killedBy(signalName(sig));
  } catch {
    return undefined;
  }
}
