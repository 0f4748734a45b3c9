/**
 * The RuntimeDriver seam (ARCHITECTURE.md "Interfaces", modelled on Nomad's driver plugins).
 *
 * The agent owns the machine lifecycle state machine, restart policy and persistence; a driver
 * only runs things. Every driver returns a small JSON-serializable, versioned `TaskHandle` from
 * `start`; the agent persists it and gives it to `recover` after an agent restart, so a restarted
 * agent re-attaches to running machines instead of losing or killing them (STYLE.md habit 4).
 *
 * Optional features are gated by `fingerprint().capabilities`: a caller checks the capability
 * before calling an optional method (e.g. `suspend`), like Nomad's capability-gated drivers.
 */
import { HangarError } from '../core/errors.js';
import { constants as osConstants } from 'node:os';
import type { MachineConfig } from '../core/fly/machine-config.js';

/** What a driver can do on this host, reported by `fingerprint()`. */
export interface DriverCapabilities {
  /** true when `suspend`/`resume` keep memory state (Fly's suspend); otherwise the agent stops. */
  readonly suspend: boolean;
  /** true when `exec` is supported. */
  readonly exec: boolean;
  /** How machines are separated from the host and from each other. */
  readonly isolation: 'none' | 'container' | 'vm';
  /** true when `mounts[].path` is honoured (a mount namespace or a VM disk). */
  readonly mounts: boolean;
  /** true when the driver can tell an OOM kill apart from other kills. */
  readonly oomDetection: boolean;
}

export interface Fingerprint {
  readonly available: boolean;
  /** Why the driver is unavailable (or degraded), in words for the operator. */
  readonly reason?: string;
  /** What the operator should know about how it runs here (runtime used, cgroup workaround, ...). */
  readonly notes?: readonly string[];
  readonly capabilities: DriverCapabilities;
}

/** A volume attached to the machine: `hostPath` on the host appears at `path` in the machine. */
export interface VolumeMount {
  readonly path: string;
  readonly hostPath: string;
}

/** Everything a driver needs to start one machine version. The agent computes all of it. */
export interface TaskSpec {
  readonly machineId: string;
  /** The machine version (`instance_id`, a ULID). */
  readonly instanceId: string;
  readonly appName: string;
  readonly config: MachineConfig;
  /**
   * The complete environment of the machine (config env, secrets, FLY_* variables, PORT, PATH...).
   * The driver adds nothing and inherits nothing from the agent.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The resolved image. Drivers accept `dir:<absolute path>` for now (see `parseDirImage`). */
  readonly image: string;
  readonly mounts: readonly VolumeMount[];
  /** A per-machine directory the driver may write logs and state into (created if missing). */
  readonly stateDir: string;
  readonly logs: {
    /** Each of stdout/stderr is kept below this many bytes; the newest part is kept. */
    readonly maxBytes: number;
  };
}

/**
 * A persisted, versioned reference to a running task. Drivers extend it with their own
 * JSON fields; `driver` and `version` let a driver refuse handles it does not understand.
 */
export interface TaskHandle {
  readonly driver: string;
  readonly version: 1;
  readonly machine_id: string;
  readonly instance_id: string;
}

/** How a task ended, in the shape of Fly's `exit_event` (reference §1a, Machine `events[]`). */
export interface ExitResult {
  /**
   * The exit status; `128 + signal number` when a signal killed the task (shell convention),
   * and -1 when the status is unknown (see `exit_code_unknown`).
   */
  readonly exit_code: number;
  /** The signal that killed the task, by name, when one did. */
  readonly signal?: string;
  readonly oom_killed: boolean;
  /** ISO 8601 time the driver saw the exit. */
  readonly exited_at: string;
  /**
   * true when the task ended while no driver was its parent (e.g. the agent was down), so its
   * exit status was collected by someone else and is lost. `exit_code` is then -1.
   */
  readonly exit_code_unknown?: boolean;
}

export interface TaskInspection {
  readonly running: boolean;
  readonly pid?: number;
  /** ISO 8601 */
  readonly started_at: string;
  /** Set once the task has exited and the driver knows it. */
  readonly exit?: ExitResult;
}

export interface StopOptions {
  /** Signal sent first (name like `SIGTERM` or number). */
  readonly signal: string | number;
  /** Time to wait after `signal` before SIGKILL. */
  readonly timeoutMs: number;
}

export interface ExecOptions {
  readonly argv: readonly string[];
  readonly stdin?: string;
  /** The command is killed (SIGKILL) after this long and the result has `timed_out: true`. */
  readonly timeoutMs: number;
  /** Added to (and overriding) the machine's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** The result of `exec`, Fly's `{exit_code, stdout, stderr}` (reference §1a, POST /exec). */
export interface ExecResult {
  readonly exit_code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timed_out?: boolean;
}

/** One process of a machine, Fly's `ProcessStat` (reference §1a, GET /ps). */
export interface ProcessStat {
  readonly pid: number;
  /** Start time, unix epoch milliseconds. */
  readonly stime: number;
  /** Wall-clock run time so far, milliseconds. */
  readonly rtime: number;
  /** The command line, arguments separated by spaces. */
  readonly command: string;
  /** The working directory. */
  readonly directory: string;
  /** CPU time used (user + system), milliseconds. */
  readonly cpu: number;
  /** Resident memory, bytes. */
  readonly rss: number;
  readonly listen_sockets: readonly { proto: string; address: string }[];
}

export interface LogLine {
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
  /** ISO 8601 time the driver read the line (not necessarily the time it was written). */
  readonly ts: string;
}

export interface LogFollowOptions {
  readonly onLine: (line: LogLine) => void;
  /** `start` (default): everything still kept, then new lines; `end`: only new lines. */
  readonly from?: 'start' | 'end';
}

export interface LogSubscription {
  close(): void;
}

/**
 * A runtime driver. Methods taking a handle accept any handle of this driver: one this instance
 * does not know yet is re-attached first, as `recover` does. A handle of another driver, or of
 * an unknown version, is refused with HANGAR_ERR_DRIVER_HANDLE.
 */
export interface RuntimeDriver {
  readonly name: string;
  fingerprint(): Promise<Fingerprint>;
  /** Starts the task; rejects with a DriverError (`HANGAR_ERR_DRIVER_START`) when it cannot run. */
  start(spec: TaskSpec): Promise<TaskHandle>;
  /** Resolves once, when the task has exited (also when it had exited before the call). */
  wait(handle: TaskHandle): Promise<ExitResult>;
  /** Sends `signal`, then SIGKILL after `timeoutMs`; resolves when the task has exited. */
  stop(handle: TaskHandle, opts: StopOptions): Promise<ExitResult>;
  /** Sends a signal to the task's main process. */
  signal(handle: TaskHandle, sig: string | number): Promise<void>;
  /** Stops the task if needed and removes everything the driver created for it. */
  destroy(handle: TaskHandle): Promise<void>;
  inspect(handle: TaskHandle): Promise<TaskInspection>;
  /** Re-attaches to a task from a persisted handle without restarting anything. */
  recover(handle: TaskHandle): Promise<'running' | 'exited'>;
  exec(handle: TaskHandle, opts: ExecOptions): Promise<ExecResult>;
  ps(handle: TaskHandle): Promise<ProcessStat[]>;
  /** Follows the task's output until it exits (lines still unread at exit are delivered, then no more). */
  logs(handle: TaskHandle, opts: LogFollowOptions): LogSubscription;
  /** Only when `capabilities.suspend`. */
  suspend?(handle: TaskHandle): Promise<void>;
  resume?(handle: TaskHandle): Promise<void>;
  /** Releases the driver's timers and watchers. Never stops tasks: they outlive the agent. */
  close(): Promise<void>;
}

/**
 * Driver error codes. They belong in `src/core/errors.ts` (the lead adds them); until then
 * drivers throw this class, which carries the same `code` field as HangarError.
 */
export type DriverErrorCode =
  | 'HANGAR_ERR_DRIVER_START'
  | 'HANGAR_ERR_DRIVER_HANDLE'
  | 'HANGAR_ERR_DRIVER_NOT_RUNNING'
  | 'HANGAR_ERR_DRIVER_UNSUPPORTED'
  | 'HANGAR_ERR_DRIVER_UNKNOWN'
  | 'HANGAR_ERR_DRIVER_SIGNAL'
  | 'HANGAR_ERR_DRIVER_CLEANUP';

export class DriverError extends HangarError {
  declare readonly code: DriverErrorCode;
  constructor(code: DriverErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'DriverError';
  }
}

/**
 * The program a machine runs: `init.exec`, else `init.entrypoint ++ init.cmd` (Fly's init does
 * the same with the image's entrypoint/cmd as defaults; `dir:` images have none).
 * Throws HANGAR_ERR_DRIVER_START when there is nothing to run.
 */
export function taskArgv(config: MachineConfig): string[] {
  const init = config.init ?? {};
  const argv = init.exec && init.exec.length > 0 ? [...init.exec] : [...(init.entrypoint ?? []), ...(init.cmd ?? [])];
  if (argv.length === 0 || argv[0] === '') {
    throw new DriverError('HANGAR_ERR_DRIVER_START', 'the machine has no command: set init.exec, or init.entrypoint/init.cmd');
  }
  return argv;
}

/** The directory of a `dir:<absolute path>` image; throws HANGAR_ERR_DRIVER_START for any other image. */
export function parseDirImage(image: string): string {
  if (!image.startsWith('dir:') || !image.slice(4).startsWith('/')) {
    throw new DriverError('HANGAR_ERR_DRIVER_START', `unsupported image "${image}": this driver runs only dir:<absolute path> images`);
  }
  return image.slice(4);
}

/** Normalizes a signal given by name (`SIGTERM`, `TERM`) or number (15) to its name. */
export function signalName(sig: string | number): NodeJS.Signals {
  const table = osConstants.signals as Record<string, number>;
  if (typeof sig === 'number') {
    for (const [name, num] of Object.entries(table)) if (num === sig) return name as NodeJS.Signals;
  } else {
    const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
    if (table[name] !== undefined) return name as NodeJS.Signals;
  }
  throw new DriverError('HANGAR_ERR_DRIVER_SIGNAL', `unknown signal ${JSON.stringify(sig)}`);
}

/** The number of a signal name (as normalized by `signalName`). */
export function signalNumber(name: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[name] ?? 0;
}

/** The ExitResult of a task killed by `signal`. */
export function killedBy(signal: NodeJS.Signals, exitedAt = new Date()): ExitResult {
  return { exit_code: 128 + signalNumber(signal), signal, oom_killed: false, exited_at: exitedAt.toISOString() };
}
