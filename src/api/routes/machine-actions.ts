/** Actions on one machine (reference §1a machines table, below CRUD). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { shellSplit } from '../../core/shell.js';
import { durationInput, signalInput } from '../../core/fly/api-input.js';
import { loadApp } from '../../control/apps.js';
import { badRequest } from '../../control/errors.js';
import {
  getMetadata, machineEvents, machineVersions, restartMachine, setCordoned, setMetadata, startMachine, stopMachine, suspendMachine,
} from '../../control/machine-actions.js';
import { execMachine, psMachine, signalMachine } from '../../control/agent-requests.js';
import { execBody, metadataBody, parseBody, queryBool, queryOne, restartBody, signalBody, stopBody } from '../bodies.js';
import { authOf, leaseNonce, param, type Services } from '../context.js';
import type { ControlContext } from '../../control/context.js';

async function appOf(ctx: ControlContext, req: FastifyRequest): Promise<string> {
  return (await loadApp(ctx, authOf(req), param(req, 'app'))).app.name;
}

/** Restart parameters from the query (fly-go) or the JSON body (fly-admin); the body wins. */
function restartParams(req: FastifyRequest): { signal?: string; timeout?: string; force_stop?: boolean } {
  const b = parseBody(restartBody, req.body);
  const qSignal = queryOne(req.query, 'signal');
  const qTimeout = queryOne(req.query, 'timeout');
  const parse = <T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, v: string, what: string): T => {
    const r = schema.safeParse(/^\d+$/.test(v) ? Number(v) : v);
    if (!r.success) throw badRequest(`invalid ${what} ${JSON.stringify(v.slice(0, 32))}`);
    return r.data;
  };
  const out: { signal?: string; timeout?: string; force_stop?: boolean } = {};
  const signal = b.signal ?? (qSignal ? parse(signalInput, qSignal, 'signal') : undefined);
  // fly-go sends the restart timeout as a Go duration; a bare number in the query is seconds
  const timeout = b.timeout ?? (qTimeout ? parse(durationInput, /^\d+$/.test(qTimeout) ? `${qTimeout}s` : qTimeout, 'timeout') : undefined);
  const force = b.force_stop ?? queryBool(req.query, 'force_stop');
  if (signal !== undefined) out.signal = signal;
  if (timeout !== undefined) out.timeout = timeout;
  if (force !== undefined) out.force_stop = force;
  return out;
}

export function machineActionRoutes(app: FastifyInstance, { ctx }: Services): void {
  const base = '/v1/apps/:app/machines/:id';

  app.post(`${base}/start`, async (req) => startMachine(ctx, await appOf(ctx, req), param(req, 'id'), leaseNonce(req)));

  app.post(`${base}/stop`, async (req) => {
    const b = parseBody(stopBody, req.body);
    return stopMachine(ctx, await appOf(ctx, req), param(req, 'id'), leaseNonce(req), { signal: b.signal, timeout: b.timeout });
  });

  app.post(`${base}/restart`, async (req) => {
    const params = restartParams(req);
    return restartMachine(ctx, await appOf(ctx, req), param(req, 'id'), leaseNonce(req), params);
  });

  app.post(`${base}/suspend`, async (req) => suspendMachine(ctx, await appOf(ctx, req), param(req, 'id'), leaseNonce(req)));

  app.post(`${base}/signal`, async (req) => {
    const b = parseBody(signalBody, req.body);
    await signalMachine(ctx, await appOf(ctx, req), param(req, 'id'), b.signal);
    return { ok: true };
  });

  app.post(`${base}/cordon`, async (req) => setCordoned(ctx, await appOf(ctx, req), param(req, 'id'), true, leaseNonce(req)));
  app.post(`${base}/uncordon`, async (req) => setCordoned(ctx, await appOf(ctx, req), param(req, 'id'), false, leaseNonce(req)));

  app.get(`${base}/metadata`, async (req) => getMetadata(ctx, await appOf(ctx, req), param(req, 'id')));

  app.post(`${base}/metadata/:key`, async (req, reply) => {
    const b = parseBody(metadataBody, req.body);
    await setMetadata(ctx, await appOf(ctx, req), param(req, 'id'), param(req, 'key'), b.value);
    return reply.code(204).send();
  });

  app.delete(`${base}/metadata/:key`, async (req, reply) => {
    await setMetadata(ctx, await appOf(ctx, req), param(req, 'id'), param(req, 'key'), null);
    return reply.code(204).send();
  });

  app.get(`${base}/events`, async (req) => machineEvents(ctx, await appOf(ctx, req), param(req, 'id')));
  app.get(`${base}/versions`, async (req) => machineVersions(ctx, await appOf(ctx, req), param(req, 'id')));
  app.get(`${base}/ps`, async (req) => psMachine(ctx, await appOf(ctx, req), param(req, 'id')));

  app.post(`${base}/exec`, async (req) => {
    const b = parseBody(execBody, req.body);
    let command: string[];
    if (b.command !== undefined) {
      command = b.command;
    } else if (b.cmd !== undefined && b.cmd.trim() !== '') {
      const split = shellSplit(b.cmd);
      if (!split.ok) throw badRequest(`cmd: ${split.error}`);
      command = split.argv;
    } else {
      throw badRequest('cmd (a command line) or command (an argv array) is required');
    }
    if (command.length === 0) throw badRequest('cmd is empty');
    const appName = await appOf(ctx, req);
    return execMachine(ctx, appName, param(req, 'id'), { command, timeout: b.timeout ?? 30, ...(b.stdin !== undefined ? { stdin: b.stdin } : {}) });
  });
}
