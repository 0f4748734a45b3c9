/**
 * The agent's request/reply endpoints on the Bus: `agent.<host>.exec|ps|signal` (core/model.ts
 * SUBJECTS). The API forwards `/v1/apps/{app}/machines/{id}/exec|ps|signal` here, so the
 * machine's owner, and only it, touches the machine's task.
 *
 * Requests (JSON):
 * - exec:   `{ machine_id, command?: string[], argv?: string[], cmd?: string, stdin?: string, timeout?: number (s), timeout_ms?: number }`
 *           → `{ exit_code, stdout, stderr, timed_out? }` (`command` as src/control/agent-requests.ts sends it;
 *           `cmd`, Fly's single string, is split on whitespace)
 * - ps:     `{ machine_id }` → ProcessStat[]
 * - signal: `{ machine_id, signal: "SIGTERM" | 15 }` → `{ ok: true }`
 * Errors reject the request with the error's message (HANGAR_ERR_BUS_REMOTE on the caller's side),
 * prefixed by the agent's code, e.g. `HANGAR_ERR_AGENT_NOT_RUNNING: machine ... is not running`.
 */
import type { Bus, Subscription } from '../bus/types.js';
import { SUBJECTS } from '../core/model.js';
import { signalName, type ExecResult, type ProcessStat, type RuntimeDriver, type TaskHandle } from '../drivers/types.js';
import { AgentError } from './errors.js';

/** Default and maximum exec timeout (Fly's exec `timeout` is in seconds). */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
export const MAX_EXEC_TIMEOUT_MS = 10 * 60_000;

export interface ExecRequest {
  machine_id: string;
  command?: string[];
  argv?: string[];
  cmd?: string;
  stdin?: string;
  timeout_ms?: number;
  timeout?: number;
}

export interface ResponderDeps {
  readonly bus: Bus;
  readonly driver: RuntimeDriver;
  readonly hostId: string;
  /** The running task of a machine, undefined when it does not run here. */
  readonly runningHandle: (machineId: string) => TaskHandle | undefined;
}

function request(data: unknown): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new AgentError('HANGAR_ERR_AGENT_REQUEST', 'request must be a JSON object');
  return data as Record<string, unknown>;
}

function handleFor(deps: ResponderDeps, req: Record<string, unknown>): TaskHandle {
  const id = req.machine_id;
  if (typeof id !== 'string' || id === '') throw new AgentError('HANGAR_ERR_AGENT_REQUEST', 'machine_id is required');
  const h = deps.runningHandle(id);
  if (!h) throw new AgentError('HANGAR_ERR_AGENT_NOT_RUNNING', `machine ${id} is not running on host ${deps.hostId}`);
  return h;
}

/** The argv and timeout of an exec request (pure; exported for tests). */
export function parseExec(req: Record<string, unknown>): { argv: string[]; stdin?: string; timeoutMs: number } {
  let argv: string[] | undefined;
  const list = req.command ?? req.argv;
  if (Array.isArray(list) && list.every((a) => typeof a === 'string')) argv = list as string[];
  else if (typeof req.cmd === 'string') argv = req.cmd.split(/\s+/).filter((a) => a !== '');
  if (!argv || argv.length === 0) throw new AgentError('HANGAR_ERR_AGENT_REQUEST', 'exec needs a command: command (array of strings) or cmd (string)');
  let timeoutMs = DEFAULT_EXEC_TIMEOUT_MS;
  if (typeof req.timeout_ms === 'number' && req.timeout_ms > 0) timeoutMs = req.timeout_ms;
  else if (typeof req.timeout === 'number' && req.timeout > 0) timeoutMs = req.timeout * 1000;
  if (req.stdin !== undefined && typeof req.stdin !== 'string') throw new AgentError('HANGAR_ERR_AGENT_REQUEST', 'stdin must be a string');
  return { argv, timeoutMs: Math.min(timeoutMs, MAX_EXEC_TIMEOUT_MS), ...(typeof req.stdin === 'string' ? { stdin: req.stdin } : {}) };
}

/** Errors cross the bus as messages only: keep the code in the text. */
async function coded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(typeof code === 'string' && code.startsWith('HANGAR_ERR_') ? `${code}: ${msg}` : msg, { cause: err });
  }
}

/** Registers the three responders; returns their subscriptions. */
export function registerResponders(deps: ResponderDeps): Subscription[] {
  const { bus, driver, hostId } = deps;
  return [
    bus.respond<unknown, ExecResult>(SUBJECTS.agent(hostId, 'exec'), (msg) =>
      coded(async () => {
        const req = request(msg.data);
        const handle = handleFor(deps, req);
        const { argv, stdin, timeoutMs } = parseExec(req);
        return driver.exec(handle, { argv, timeoutMs, ...(stdin === undefined ? {} : { stdin }) });
      }),
    ),
    bus.respond<unknown, ProcessStat[]>(SUBJECTS.agent(hostId, 'ps'), (msg) => coded(async () => driver.ps(handleFor(deps, request(msg.data))))),
    bus.respond<unknown, { ok: true }>(SUBJECTS.agent(hostId, 'signal'), (msg) =>
      coded(async () => {
        const req = request(msg.data);
        const handle = handleFor(deps, req);
        if (typeof req.signal !== 'string' && typeof req.signal !== 'number') throw new AgentError('HANGAR_ERR_AGENT_REQUEST', 'signal is required (a name like "SIGTERM" or a number)');
        await driver.signal(handle, signalName(req.signal));
        return { ok: true as const };
      }),
    ),
  ];
}
