/**
 * `/v1/apps/{app}/secrets` (reference §1a "Secrets", fly-go flaps_secrets.go). Values never
 * appear in responses except `show_secrets=true` to an admin token, and never in logs.
 */
import type { FastifyInstance } from 'fastify';
import { parseBody, queryBool, secretOneBody, secretsBulkBody } from '../bodies.js';
import { authOf, param, type Services } from '../context.js';

export function secretRoutes(app: FastifyInstance, { secrets }: Services): void {
  const base = '/v1/apps/:app/secrets';

  app.get(base, async (req) => secrets.list(authOf(req), param(req, 'app'), queryBool(req.query, 'show_secrets') ?? false));

  app.post(base, async (req) => {
    const b = parseBody(secretsBulkBody, req.body, true);
    return secrets.setBulk(authOf(req), param(req, 'app'), b.values);
  });

  app.get(`${base}/:name`, async (req) => secrets.get(authOf(req), param(req, 'app'), param(req, 'name'), queryBool(req.query, 'show_secrets') ?? false));

  app.post(`${base}/:name`, async (req) => {
    const b = parseBody(secretOneBody, req.body);
    return secrets.setOne(authOf(req), param(req, 'app'), param(req, 'name'), b.value);
  });

  app.delete(`${base}/:name`, async (req) => secrets.deleteOne(authOf(req), param(req, 'app'), param(req, 'name')));
}
