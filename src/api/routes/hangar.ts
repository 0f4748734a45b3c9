/**
 * Hangar-only routes the CLI needs, under `/api/v1` (ARCHITECTURE.md "Control plane details"):
 * whoami, token creation (admin only) and log polling in flyctl's shape
 * (reference §1a "What flyctl needs beyond flaps": `GET /api/v1/apps/{app}/logs`).
 */
import type { FastifyInstance } from 'fastify';
import { BusError } from '../../bus/types.js';
import { STREAMS } from '../../core/model.js';
import { loadApp } from '../../control/apps.js';
import { badRequest, forbidden } from '../../control/errors.js';
import { iso } from '../../control/context.js';
import { MACHINE_ID, REGION } from '../../control/names.js';
import { createToken } from '../../control/tokens.js';
import { parseBody, queryInt, queryOne, tokenBody } from '../bodies.js';
import { authOf, param, type Services } from '../context.js';

/** Log lines per poll. */
const PAGE = 1000;
/** Lines a first poll (without next_token) goes back. */
const TAIL = 100;

interface LogData {
  timestamp?: string;
  message?: string;
  level?: string;
  meta?: Record<string, unknown>;
}

export function hangarRoutes(app: FastifyInstance, { ctx }: Services): void {
  app.get('/api/v1/whoami', async (req) => {
    const auth = authOf(req);
    return { org: auth.org, role: auth.role, token_name: auth.token_name };
  });

  app.post('/api/v1/tokens', async (req, reply) => {
    const auth = authOf(req);
    if (auth.role !== 'admin') throw forbidden('only an admin token may create tokens');
    const b = parseBody(tokenBody, req.body);
    const token = await createToken(ctx, auth.org, b.role, b.name ?? `${b.role}-${new Date(ctx.now()).toISOString()}`);
    return reply.code(201).send({ token, role: b.role, org: auth.org });
  });

  app.get('/api/v1/apps/:app/logs', async (req) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    const region = queryOne(req.query, 'region') || undefined;
    const instance = queryOne(req.query, 'instance') || undefined;
    if (region !== undefined && !REGION.test(region)) throw badRequest('invalid region');
    if (instance !== undefined && !MACHINE_ID.test(instance)) throw badRequest('invalid instance (a machine id)');
    const token = queryInt(req.query, 'next_token', 0, Number.MAX_SAFE_INTEGER);
    let info;
    try {
      info = await ctx.bus.streamInfo(STREAMS.logs.name);
    } catch (err) {
      if (err instanceof BusError && err.code === 'HANGAR_ERR_BUS_STREAM_NOT_FOUND') return { data: [], meta: { next_token: String(token ?? 0) } };
      throw err;
    }
    const fromSeq = Math.max(1, token ?? Math.max(info.firstSeq, info.lastSeq - TAIL + 1));
    const subject = `logs.${rec.name}.${region ?? '*'}.${instance ?? '*'}`;
    const msgs = await ctx.bus.readStream<LogData | string>(STREAMS.logs.name, { fromSeq, subject, limit: PAGE });
    const data = msgs.map((m) => {
      const [, , reg = '', machine = ''] = m.subject.split('.');
      const d: LogData = typeof m.data === 'string' ? { message: m.data } : m.data !== null && typeof m.data === 'object' ? m.data : { message: String(m.data) };
      return {
        id: String(m.seq),
        attributes: {
          timestamp: typeof d.timestamp === 'string' ? d.timestamp : iso(m.time),
          message: typeof d.message === 'string' ? d.message : '',
          level: typeof d.level === 'string' ? d.level : 'info',
          instance: machine,
          region: reg,
          meta: d.meta !== null && typeof d.meta === 'object' ? d.meta : {},
        },
      };
    });
    const last = msgs[msgs.length - 1];
    const next = msgs.length >= PAGE && last !== undefined ? last.seq + 1 : Math.max(fromSeq, info.lastSeq + 1, (last?.seq ?? 0) + 1);
    return { data, meta: { next_token: String(next) } };
  });
}
