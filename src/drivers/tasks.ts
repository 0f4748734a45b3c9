/**
 * The tasks a driver follows, the same for every driver that runs machines as host processes
 * (process, crun): handle by key, log files, the exit once known and a promise of it, and the
 * one poll timer (poller.ts) that notices exits of tasks this instance is not the parent of and
 * tails the log files. What "alive" means stays with each driver (`checkAlive`), as does what
 * happens at an exit; the driver reports an exit with `settle`.
 */
import { DriverError, type ExitResult, type LogFollowOptions, type LogSubscription, type TaskHandle } from './types.js';
import { TaskPoller } from './poller.js';
import { LogFiles } from './process/logs.js';

/** What the table needs of a driver's handle: where the task's output goes. */
export interface LoggedHandle {
  readonly stdout_path: string;
  readonly stderr_path: string;
  readonly log_max_bytes: number;
}

export interface Task<H> {
  readonly handle: H;
  readonly key: string;
  exit?: ExitResult;
  readonly exited: Promise<ExitResult>;
  readonly settle: (r: ExitResult) => void;
  /** true when this driver instance is not the task's parent and must poll for its exit. */
  readonly polled: boolean;
}

export interface TaskTableOptions<H> {
  /** The driver's name, for the error after close. */
  readonly driver: string;
  /** Poll interval (ms). */
  readonly pollMs: number;
  /** Checks and narrows a handle to the driver's own (throws DriverError `HANGAR_ERR_DRIVER_HANDLE`). */
  readonly parse: (h: TaskHandle) => H;
  readonly keyOf: (h: H) => string;
  /** true while the task runs; for a polled task, where its exit is noticed (and reported with `settle`). */
  readonly checkAlive: (task: Task<H>) => boolean;
}

export class TaskTable<H extends LoggedHandle> {
  private readonly tasks = new Map<string, Task<H>>();
  private readonly logFiles = new LogFiles();
  private readonly poller: TaskPoller;
  private closed = false;

  constructor(private readonly opts: TaskTableOptions<H>) {
    this.poller = new TaskPoller(() => this.tick(), opts.pollMs, () => !this.closed && this.tasks.size > 0);
  }

  /** The task of `key`, if this instance follows it. */
  get(key: string): Task<H> | undefined {
    return this.tasks.get(key);
  }

  /** The first task this instance follows that `pred` accepts. */
  find(pred: (task: Task<H>) => boolean): Task<H> | undefined {
    for (const t of this.tasks.values()) if (pred(t)) return t;
    return undefined;
  }

  /** The task for a handle, re-attaching (as `recover` does) when this instance does not know it yet. */
  attach(handle: TaskHandle): Task<H> {
    if (this.closed) throw new DriverError('HANGAR_ERR_DRIVER_HANDLE', `the ${this.opts.driver} driver was closed`);
    const h = this.opts.parse(handle);
    return this.tasks.get(this.opts.keyOf(h)) ?? this.track(h, true);
  }

  /** Follows a task: `polled` when this instance did not start it (the poller then notices its exit). */
  track(handle: H, polled: boolean): Task<H> {
    let settle: (r: ExitResult) => void = () => {};
    const exited = new Promise<ExitResult>((resolve) => (settle = resolve));
    const task: Task<H> = { handle, key: this.opts.keyOf(handle), exited, settle, polled };
    this.tasks.set(task.key, task);
    this.logFiles.add(task.key, { stdout: handle.stdout_path, stderr: handle.stderr_path }, handle.log_max_bytes);
    if (polled) this.opts.checkAlive(task);
    this.poller.update();
    return task;
  }

  /** The task's exit; while someone awaits it, the event loop (and so the polling) stays alive. */
  wait(handle: TaskHandle): Promise<ExitResult> {
    const task = this.attach(handle);
    if (task.exit) return Promise.resolve(task.exit);
    return this.poller.hold(task.exited);
  }

  /** Records the task's exit, once, and tells its waiters. */
  settle(task: Task<H>, result: ExitResult): void {
    if (task.exit) return;
    task.exit = result;
    task.settle(result);
    this.poller.update();
  }

  /** Stops following the task of `key` (its log followers get the last lines). */
  forget(key: string): void {
    this.logFiles.remove(key);
    this.tasks.delete(key);
    this.poller.update();
  }

  /** Reads what the task's log files got since the last look, so followers see it now. */
  flushLogs(key: string): void {
    this.logFiles.flush(key);
  }

  /** Follows the task's log files (the driver's `logs`). */
  follow(handle: TaskHandle, opts: LogFollowOptions): LogSubscription {
    return this.logFiles.follow(this.attach(handle).key, opts);
  }

  close(): void {
    this.closed = true;
    this.poller.stop();
    for (const key of this.tasks.keys()) this.logFiles.remove(key);
    this.tasks.clear();
  }

  private tick(): void {
    this.logFiles.tick();
    for (const task of this.tasks.values()) if (task.polled) this.opts.checkAlive(task);
  }
}
