/** `/v1/apps/{app}/machines/{id}/lease` (reference §1a "Leases"). */
import type { FastifyInstance } from 'fastify';
import { loadApp } from '../../control/apps.js';
import { acquireLease, getLease, releaseLease } from '../../control/leases.js';
import { leaseBody, parseBody, queryInt } from '../bodies.js';
import { authOf, leaseNonce, param, type Services } from '../context.js';

/** TTL when a client sends none (fly-go always sends one). */
const DEFAULT_TTL_S = 30;

export function leaseRoutes(app: FastifyInstance, { ctx }: Services): void {
  const path = '/v1/apps/:app/machines/:id/lease';

  app.get(path, async (req) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    return getLease(ctx, rec.name, param(req, 'id'));
  });

  app.post(path, async (req, reply) => {
    const auth = authOf(req);
    const { app: rec } = await loadApp(ctx, auth, param(req, 'app'));
    const b = parseBody(leaseBody, req.body);
    // fly-go puts the ttl in the query, fly-admin and the docs in the body
    const ttl = b.ttl ?? queryInt(req.query, 'ttl', 1, 86_400) ?? DEFAULT_TTL_S;
    const { created, body } = await acquireLease(ctx, rec.name, param(req, 'id'), ttl, b.description, auth.token_name, leaseNonce(req));
    return reply.code(created ? 201 : 200).send(body);
  });

  app.delete(path, async (req) => {
    const { app: rec } = await loadApp(ctx, authOf(req), param(req, 'app'));
    return releaseLease(ctx, rec.name, param(req, 'id'), leaseNonce(req));
  });
}
