/** `/v1/apps/{app}/machines` CRUD and `/wait` (reference §1a "Machines", "/wait semantics"). */
import type { FastifyInstance } from 'fastify';
import { normalizeMachineConfig } from '../../core/fly/api-input.js';
import { WAITABLE_STATES, type WaitableState } from '../../core/machine/state.js';
import { loadApp } from '../../control/apps.js';
import { badRequest } from '../../control/errors.js';
import { createMachine, destroyMachine, getMachine, updateMachine, type CreateMachineInput } from '../../control/machines.js';
import { loadMachine } from '../../control/machine-store.js';
import { REGION } from '../../control/names.js';
import { launchBody, parseBody, queryAll, queryBool, queryOne } from '../bodies.js';
import { authOf, leaseNonce, param, type Services } from '../context.js';

function launchInput(body: unknown): CreateMachineInput & { current_version?: string | undefined } {
  const b = parseBody(launchBody, body);
  const config = normalizeMachineConfig(b.config);
  if (!config.ok) throw badRequest(config.error);
  return {
    config: config.value,
    region: b.region || undefined,
    name: b.name || undefined,
    skip_launch: b.skip_launch,
    skip_service_registration: b.skip_service_registration,
    skip_secrets: b.skip_secrets,
    lease_ttl: b.lease_ttl,
    current_version: b.current_version,
  };
}

/** `metadata.<key>=<value>` query filters. */
function metadataFilter(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (query === null || typeof query !== 'object') return out;
  for (const key of Object.keys(query)) {
    if (!key.startsWith('metadata.')) continue;
    const v = queryOne(query, key);
    if (v !== undefined) out[key.slice('metadata.'.length)] = v;
  }
  return out;
}

/** Wait timeout: integer seconds (a trailing `s` stripped, as fly-admin sends), clamped to 1..60, default 60. */
function waitTimeout(query: unknown): number {
  const raw = queryOne(query, 'timeout');
  if (raw === undefined || raw === '') return 60;
  const s = raw.endsWith('s') ? raw.slice(0, -1) : raw;
  if (!/^\d{1,9}$/.test(s)) throw badRequest(`invalid timeout ${JSON.stringify(raw.slice(0, 32))}: use integer seconds (at most 60)`);
  return Math.min(60, Math.max(1, Number(s)));
}

export function machineRoutes(app: FastifyInstance, { ctx, waits, machineList }: Services): void {
  app.get('/v1/apps/:app/machines', async (req, reply) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    const region = queryOne(req.query, 'region') || undefined;
    if (region !== undefined && !REGION.test(region)) throw badRequest('invalid region filter');
    const json = await machineList.listJson(rec.name, { includeDeleted: queryBool(req.query, 'include_deleted') ?? false, region, metadata: metadataFilter(req.query) });
    // already serialized: sent as is, without Fastify's serializer
    return reply.type('application/json; charset=utf-8').send(json);
  });

  app.post('/v1/apps/:app/machines', async (req) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    return createMachine(ctx, rec, launchInput(req.body));
  });

  app.get('/v1/apps/:app/machines/:id', async (req) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    return getMachine(ctx, rec.name, param(req, 'id'));
  });

  app.post('/v1/apps/:app/machines/:id', async (req) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    return updateMachine(ctx, rec.name, param(req, 'id'), launchInput(req.body), leaseNonce(req));
  });

  app.delete('/v1/apps/:app/machines/:id', async (req) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    const force = (queryBool(req.query, 'kill') ?? false) || (queryBool(req.query, 'force') ?? false);
    await destroyMachine(ctx, rec.name, param(req, 'id'), force, leaseNonce(req));
    return { ok: true };
  });

  app.get('/v1/apps/:app/machines/:id/wait', async (req) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    const id = param(req, 'id');
    await loadMachine(ctx, rec.name, id);
    const raw = queryAll(req.query, 'state');
    const states = raw.length === 0 ? ['started'] : raw;
    for (const s of states) {
      if (!(WAITABLE_STATES as readonly string[]).includes(s)) {
        throw badRequest(`invalid state ${JSON.stringify(s.slice(0, 32))}: use one of ${WAITABLE_STATES.join(', ')}`);
      }
    }
    const version = queryOne(req.query, 'version') || queryOne(req.query, 'instance_id') || undefined;
    await waits.wait({
      app: rec.name, id, states: states as WaitableState[], timeout: waitTimeout(req.query),
      version, fromEventId: queryOne(req.query, 'from_event_id') || undefined,
    });
    return { ok: true };
  });
}
