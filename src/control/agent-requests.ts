/**
 * Imperative requests to the agent of a machine's host over the Bus (model.ts SUBJECTS:
 * `agent.<host>.signal|ps|exec`). The request payloads below are the contract with the agent;
 * they are defined here until the lead moves them next to SUBJECTS.
 */
import { SUBJECTS } from '../core/model.js';
import { BusError } from '../bus/types.js';
import { ApiError, precondition } from './errors.js';
import type { ControlContext } from './context.js';
import { loadMachine } from './machine-store.js';

/** `agent.<host>.signal` request; the reply is ignored. */
export interface SignalRequest {
  machine_id: string;
  /** Canonical name, e.g. `SIGKILL`. */
  signal: string;
}

/** `agent.<host>.ps` request; the reply is Fly's `ProcessStat[]`. */
export interface PsRequest {
  machine_id: string;
}

/** `agent.<host>.exec` request; the reply is `ExecReply`. */
export interface ExecRequest {
  machine_id: string;
  /** argv, never a shell string. */
  command: string[];
  /** base64-free text written to the command's stdin. */
  stdin?: string;
  /** seconds */
  timeout: number;
}

export interface ExecReply {
  exit_code: number;
  stdout: string;
  stderr: string;
}

const RUNNING = ['started', 'starting', 'restarting', 'updating'];

async function runningHost(ctx: ControlContext, app: string, id: string, what: string): Promise<string> {
  const { rec } = await loadMachine(ctx, app, id);
  if (!RUNNING.includes(rec.state)) throw precondition(`unable to ${what}: machine is not started (state: ${rec.state})`);
  return rec.host;
}

async function ask<Q, R>(ctx: ControlContext, subject: string, host: string, data: Q, timeoutMs: number): Promise<R> {
  try {
    return await ctx.bus.request<Q, R>(subject, data, { timeoutMs });
  } catch (err) {
    if (!(err instanceof BusError)) throw err;
    switch (err.code) {
      case 'HANGAR_ERR_BUS_NO_RESPONDERS':
        throw new ApiError('HANGAR_ERR_API_AGENT_UNAVAILABLE', `the agent of host ${host} is not reachable; is it running?`, { cause: err });
      case 'HANGAR_ERR_BUS_TIMEOUT':
        throw new ApiError('HANGAR_ERR_API_WAIT_TIMEOUT', `the agent of host ${host} did not answer in time`, { cause: err });
      case 'HANGAR_ERR_BUS_REMOTE':
        throw precondition(err.message);
      default:
        throw err;
    }
  }
}

export async function signalMachine(ctx: ControlContext, app: string, id: string, signal: string): Promise<void> {
  const host = await runningHost(ctx, app, id, 'signal machine');
  await ask<SignalRequest, unknown>(ctx, SUBJECTS.agent(host, 'signal'), host, { machine_id: id, signal }, 10_000);
}

export async function psMachine(ctx: ControlContext, app: string, id: string): Promise<unknown> {
  const host = await runningHost(ctx, app, id, 'list processes');
  return ask<PsRequest, unknown>(ctx, SUBJECTS.agent(host, 'ps'), host, { machine_id: id }, 10_000);
}

export async function execMachine(ctx: ControlContext, app: string, id: string, req: Omit<ExecRequest, 'machine_id'>): Promise<ExecReply> {
  const host = await runningHost(ctx, app, id, 'exec');
  const reply = await ask<ExecRequest, ExecReply>(ctx, SUBJECTS.agent(host, 'exec'), host, { machine_id: id, ...req }, (req.timeout + 5) * 1000);
  return { exit_code: reply.exit_code, stdout: reply.stdout, stderr: reply.stderr };
}
