/**
 * The `fake` runtime driver: machines are objects on a FakeHost, behaving as configured
 * (host.ts). Used to test the agent's restart policies, the scheduler and deploys without
 * processes, and passes the same conformance suite as the real drivers (STYLE.md habit 3).
 */
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
import { DriverError, signalName, taskArgv } from '../types.js';
import { FakeHost, type FakeTask } from './host.js';

export interface FakeDriverOptions {
  /** Share one host between driver instances to simulate agent restarts. Default: a new host. */
  readonly host?: FakeHost;
  /** Report (and implement) suspend/resume. Default false. */
  readonly suspend?: boolean;
  /** Report that volumes are mounted inside machines (like crun). Default true; false acts like the process driver. */
  readonly mounts?: boolean;
  /** fingerprint() reports unavailable with this reason. */
  readonly unavailable?: string;
}

export interface FakeHandle extends TaskHandle {
  readonly driver: 'fake';
  readonly task_id: string;
  readonly pid: number;
}

export class FakeDriver implements RuntimeDriver {
  readonly name = 'fake';
  readonly host: FakeHost;
  private readonly opts: FakeDriverOptions;
  /** Handles this instance found no task for (the host "rebooted"): reported exited, status unknown. */
  private readonly lost = new Map<string, ExitResult>();

  constructor(opts: FakeDriverOptions = {}) {
    this.opts = opts;
    this.host = opts.host ?? new FakeHost();
  }

  async fingerprint(): Promise<Fingerprint> {
    const capabilities = { suspend: this.opts.suspend ?? false, exec: true, isolation: 'none', mounts: this.opts.mounts ?? true, oomDetection: true } as const;
    return this.opts.unavailable === undefined ? { available: true, capabilities } : { available: false, reason: this.opts.unavailable, capabilities };
  }

  async start(spec: TaskSpec): Promise<TaskHandle> {
    const argv = taskArgv(spec.config);
    const behaviour = this.host.behaviourFor(spec, argv);
    if (behaviour.startDelayMs !== undefined) await new Promise((r) => setTimeout(r, behaviour.startDelayMs));
    if (behaviour.startError !== undefined) throw new DriverError('HANGAR_ERR_DRIVER_START', behaviour.startError);
    const cwd = spec.image.startsWith('dir:') ? spec.image.slice(4) : '/';
    const task = this.host.launch(spec, argv, cwd, behaviour);
    const handle: FakeHandle = { driver: 'fake', version: 1, machine_id: spec.machineId, instance_id: spec.instanceId, task_id: task.id, pid: task.pid };
    return handle;
  }

  wait(handle: TaskHandle): Promise<ExitResult> {
    const task = this.task(handle);
    if (!task) return Promise.resolve(this.lostExit(handle));
    if (task.exit) return Promise.resolve(task.exit);
    return new Promise((resolve) => task.exitListeners.add(resolve));
  }

  async stop(handle: TaskHandle, opts: StopOptions): Promise<ExitResult> {
    const task = this.task(handle);
    if (!task) return this.lostExit(handle);
    if (!task.exit && !this.host.deliver(task, signalName(opts.signal))) {
      // The program ignored the signal: SIGKILL after the timeout, unless it exits first.
      const timer = setTimeout(() => this.host.deliver(task, 'SIGKILL'), opts.timeoutMs);
      task.exitListeners.add(() => clearTimeout(timer));
    }
    return this.wait(handle);
  }

  async signal(handle: TaskHandle, sig: string | number): Promise<void> {
    const name = signalName(sig);
    const task = this.running(handle);
    this.host.deliver(task, name);
  }

  async destroy(handle: TaskHandle): Promise<void> {
    const task = this.task(handle);
    if (!task) {
      this.lost.delete(parseFakeHandle(handle).task_id);
      return;
    }
    this.host.deliver(task, 'SIGKILL');
    this.host.remove(task);
  }

  async inspect(handle: TaskHandle): Promise<TaskInspection> {
    const task = this.task(handle);
    if (!task) {
      const exit = this.lostExit(handle);
      return { running: false, pid: parseFakeHandle(handle).pid, started_at: exit.exited_at, exit };
    }
    return { running: !task.exit, pid: task.pid, started_at: task.startedAt.toISOString(), ...(task.exit ? { exit: task.exit } : {}) };
  }

  async recover(handle: TaskHandle): Promise<'running' | 'exited'> {
    const task = this.task(handle);
    return task && !task.exit ? 'running' : 'exited';
  }

  async exec(handle: TaskHandle, opts: ExecOptions): Promise<ExecResult> {
    const task = this.running(handle);
    const run = task.behaviour.exec ?? (() => ({ exit_code: 0, stdout: '', stderr: '' }));
    const result = run(opts.argv, opts.stdin ?? '', { ...task.env, ...(opts.env ?? {}) }, task.cwd);
    if (result !== 'hang') return result;
    await new Promise((r) => setTimeout(r, opts.timeoutMs));
    return { exit_code: -1, stdout: '', stderr: '', timed_out: true };
  }

  async ps(handle: TaskHandle): Promise<ProcessStat[]> {
    const task = this.task(handle);
    if (!task || task.exit) return [];
    const stime = task.startedAt.getTime();
    return [
      {
        pid: task.pid,
        stime,
        rtime: Math.max(0, Date.now() - stime),
        command: task.argv.join(' '),
        directory: task.cwd,
        cpu: 0,
        rss: 0,
        listen_sockets: (task.behaviour.listen ?? []).map((s) => ({ ...s })),
      },
    ];
  }

  logs(handle: TaskHandle, opts: LogFollowOptions): LogSubscription {
    const task = this.task(handle);
    if (!task) return { close() {} };
    const backlog = opts.from === 'end' ? [] : [...task.logLines];
    let open = true;
    // Delivered after logs() returns, as the real drivers do.
    queueMicrotask(() => {
      for (const line of backlog) if (open) opts.onLine(line);
    });
    task.logListeners.add(opts.onLine);
    return {
      close: () => {
        open = false;
        task.logListeners.delete(opts.onLine);
      },
    };
  }

  async suspend(handle: TaskHandle): Promise<void> {
    this.requireSuspend();
    this.running(handle).suspended = true;
  }

  async resume(handle: TaskHandle): Promise<void> {
    this.requireSuspend();
    this.running(handle).suspended = false;
  }

  async close(): Promise<void> {
    // Nothing to release: the machines live on the host, not in the driver instance.
  }

  private requireSuspend(): void {
    if (!this.opts.suspend) throw new DriverError('HANGAR_ERR_DRIVER_UNSUPPORTED', 'this fake driver was configured without suspend support');
  }

  private task(handle: TaskHandle): FakeTask | undefined {
    return this.host.tasks.get(parseFakeHandle(handle).task_id);
  }

  private running(handle: TaskHandle): FakeTask {
    const task = this.task(handle);
    if (!task || task.exit) throw new DriverError('HANGAR_ERR_DRIVER_NOT_RUNNING', `machine ${handle.machine_id} is not running`);
    return task;
  }

  private lostExit(handle: TaskHandle): ExitResult {
    const id = parseFakeHandle(handle).task_id;
    let exit = this.lost.get(id);
    if (!exit) {
      exit = { exit_code: -1, exit_code_unknown: true, oom_killed: false, exited_at: new Date().toISOString() };
      this.lost.set(id, exit);
    }
    return exit;
  }
}

/** Validates a handle given back by the agent; throws HANGAR_ERR_DRIVER_HANDLE when it is not a fake v1 handle. */
export function parseFakeHandle(handle: TaskHandle): FakeHandle {
  const h = handle as Partial<FakeHandle>;
  if (h.driver !== 'fake' || h.version !== 1 || typeof h.task_id !== 'string' || typeof h.pid !== 'number') {
    throw new DriverError('HANGAR_ERR_DRIVER_HANDLE', `not a fake driver v1 handle: ${JSON.stringify(handle)}`);
  }
  return h as FakeHandle;
}
