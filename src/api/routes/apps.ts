/** `/v1/apps` (reference §1a "Apps"). */
import type { FastifyInstance } from 'fastify';
import { appCreateBody, parseBody, queryBool, queryOne } from '../bodies.js';
import { authOf, param, type Services } from '../context.js';
import { appView, createApp, deleteApp, listApps, loadApp } from '../../control/apps.js';
import { badRequest } from '../../control/errors.js';

export function appRoutes(app: FastifyInstance, { ctx }: Services): void {
  app.get('/v1/apps', async (req) => listApps(ctx, authOf(req), queryOne(req.query, 'org_slug') || undefined));

  app.post('/v1/apps', async (req, reply) => {
    const body = parseBody(appCreateBody, req.body);
    const name = body.app_name ?? body.name;
    if (name === undefined || name === '') throw badRequest('app_name is required');
    const out = await createApp(ctx, authOf(req), { name, org_slug: body.org_slug || undefined, network: body.network });
    return reply.code(201).send(out);
  });

  app.get('/v1/apps/:app', async (req) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    return appView(ctx, rec);
  });

  app.delete('/v1/apps/:app', async (req, reply) => {
    await deleteApp(ctx, authOf(req), param(req, 'app'), queryBool(req.query, 'force') ?? false);
    return reply.code(202).send();
  });
}
