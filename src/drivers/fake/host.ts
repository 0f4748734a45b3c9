/**
 * The fake driver's "host": the in-memory machines, shared by every fake driver instance made
 * with it, so a test can drop a driver instance (an agent restart) and `recover` in a new one.
 *
 * Cheap by design (a benchmark runs 1,000 machines on it): a running task is a plain object;
 * a timer exists only while a behaviour asks for one (start delay, exit after N ms, stop timeout).
 */
import type { ExecResult, ExitResult, LogLine, TaskSpec } from '../types.js';
import { killedBy } from '../types.js';

/** How fake machines behave. Every field is optional; the default machine runs until stopped. */
export interface FakeBehaviour {
  /** `start` resolves after this long. */
  readonly startDelayMs?: number;
  /** `start` rejects with HANGAR_ERR_DRIVER_START and this message. */
  readonly startError?: string;
  /** The machine exits by itself this long after it started... */
  readonly exitAfterMs?: number;
  /** ...with this code (default 0). */
  readonly exitCode?: number;
  /** The first `times` starts (default: every start) of a machine id exit after `exitAfterMs` with `exitCode`. */
  readonly crashLoop?: { readonly exitAfterMs: number; readonly exitCode: number; readonly times?: number };
  /** Signals the program ignores (SIGKILL cannot be ignored). */
  readonly ignoreSignals?: readonly string[];
  /** Signals the program handles by exiting with the given code (a graceful shutdown). */
  readonly onSignal?: Readonly<Record<string, number>>;
  /** Lines the program prints when it starts. */
  readonly logs?: readonly { readonly stream: 'stdout' | 'stderr'; readonly line: string }[];
  /** Runs an `exec`; `'hang'` means the command never finishes (so the exec timeout applies). Default: exit 0, no output. */
  readonly exec?: (argv: readonly string[], stdin: string, env: Readonly<Record<string, string>>, cwd: string) => ExecResult | 'hang';
  /** Sockets reported by `ps`. */
  readonly listen?: readonly { readonly proto: string; readonly address: string }[];
}

/** Applies `behaviour` to machines matching every given field (rules are merged in order, later wins). */
export interface FakeRule {
  readonly match?: {
    readonly machineId?: string;
    readonly image?: string | RegExp;
    /** Tested against the argv joined with spaces. */
    readonly argv?: RegExp;
  };
  readonly behaviour: FakeBehaviour;
}

export interface FakeTask {
  readonly id: string;
  readonly pid: number;
  readonly machineId: string;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly behaviour: FakeBehaviour;
  readonly startedAt: Date;
  readonly logLines: LogLine[];
  readonly logListeners: Set<(line: LogLine) => void>;
  readonly exitListeners: Set<(r: ExitResult) => void>;
  exit?: ExitResult;
  suspended: boolean;
  timer?: NodeJS.Timeout;
}

/** Log lines kept per fake machine (oldest dropped first). */
const MAX_LOG_LINES = 1000;

export class FakeHost {
  readonly tasks = new Map<string, FakeTask>();
  private readonly rules: FakeRule[];
  private readonly starts = new Map<string, number>();
  private nextPid = 10_000;

  constructor(rules: readonly FakeRule[] = []) {
    this.rules = [...rules];
  }

  /** Adds a rule (applies to machines started from now on). */
  configure(rule: FakeRule): void {
    this.rules.push(rule);
  }

  /** The behaviour of a machine about to start, counting the start for crash loops. */
  behaviourFor(spec: TaskSpec, argv: readonly string[]): FakeBehaviour {
    const joined = argv.join(' ');
    let merged: FakeBehaviour = {};
    for (const { match = {}, behaviour } of this.rules) {
      if (match.machineId !== undefined && match.machineId !== spec.machineId) continue;
      if (typeof match.image === 'string' && match.image !== spec.image) continue;
      if (match.image instanceof RegExp && !match.image.test(spec.image)) continue;
      if (match.argv && !match.argv.test(joined)) continue;
      merged = { ...merged, ...behaviour };
    }
    const n = (this.starts.get(spec.machineId) ?? 0) + 1;
    this.starts.set(spec.machineId, n);
    const loop = merged.crashLoop;
    if (loop && (loop.times === undefined || n <= loop.times)) {
      merged = { ...merged, exitAfterMs: loop.exitAfterMs, exitCode: loop.exitCode };
    }
    return merged;
  }

  /** How many times a machine id was started on this host (successful or not). */
  startCount(machineId: string): number {
    return this.starts.get(machineId) ?? 0;
  }

  launch(spec: TaskSpec, argv: readonly string[], cwd: string, behaviour: FakeBehaviour): FakeTask {
    const pid = this.nextPid++;
    const task: FakeTask = {
      id: `fake-${pid}`,
      pid,
      machineId: spec.machineId,
      argv,
      cwd,
      env: { ...spec.env },
      behaviour,
      startedAt: new Date(),
      logLines: [],
      logListeners: new Set(),
      exitListeners: new Set(),
      suspended: false,
    };
    this.tasks.set(task.id, task);
    for (const l of behaviour.logs ?? []) this.emitLog(task, l.stream, l.line);
    if (behaviour.exitAfterMs !== undefined) {
      const code = behaviour.exitCode ?? 0;
      task.timer = setTimeout(() => this.exit(task, { exit_code: code, oom_killed: false, exited_at: new Date().toISOString() }), behaviour.exitAfterMs);
    }
    return task;
  }

  /** Prints a line from a machine, as the program would. */
  emitLog(task: FakeTask, stream: 'stdout' | 'stderr', line: string): void {
    const entry: LogLine = { stream, line, ts: new Date().toISOString() };
    task.logLines.push(entry);
    if (task.logLines.length > MAX_LOG_LINES) task.logLines.shift();
    for (const listener of task.logListeners) listener(entry);
  }

  /** Delivers a signal with the program's configured disposition. Returns true when it exited. */
  deliver(task: FakeTask, sig: NodeJS.Signals): boolean {
    if (task.exit) return true;
    if (sig !== 'SIGKILL') {
      if (task.behaviour.ignoreSignals?.includes(sig) || DEFAULT_IGNORED.has(sig)) return false;
      const code = task.behaviour.onSignal?.[sig];
      if (code !== undefined) {
        this.exit(task, { exit_code: code, oom_killed: false, exited_at: new Date().toISOString() });
        return true;
      }
    }
    this.exit(task, killedBy(sig));
    return true;
  }

  /** Ends a machine (also usable by tests: a crash, or a death while no agent watched). */
  exit(task: FakeTask, result: ExitResult): void {
    if (task.exit) return;
    task.exit = result;
    if (task.timer) clearTimeout(task.timer);
    task.timer = undefined;
    for (const listener of task.exitListeners) listener(result);
    task.exitListeners.clear();
  }

  /** Forgets a machine entirely (what `destroy` removes). */
  remove(task: FakeTask): void {
    if (task.timer) clearTimeout(task.timer);
    task.logListeners.clear();
    this.tasks.delete(task.id);
  }

  /** Machines on this host that are still running. */
  running(): FakeTask[] {
    return [...this.tasks.values()].filter((t) => !t.exit);
  }
}

/** Signals whose default disposition is to do nothing (signal(7)). */
const DEFAULT_IGNORED = new Set<string>(['SIGCHLD', 'SIGWINCH', 'SIGURG', 'SIGCONT']);
