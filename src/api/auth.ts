/**
 * Authentication and roles for `/v1` and `/api/v1` (reference §1a "Base URLs and auth"):
 * a token in `Authorization: Bearer|FlyV1 <tok>` is required (401 otherwise); readonly tokens
 * may only read (403 on anything but GET/HEAD). Org scoping and admin-only routes are checked
 * where the resource is loaded.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, forbidden } from '../control/errors.js';
import { authenticate } from '../control/tokens.js';
import type { ControlContext } from '../control/context.js';

function needsAuth(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path === '/v1' || path.startsWith('/v1/') || path.startsWith('/api/v1/');
}

export function installAuth(app: FastifyInstance, ctx: ControlContext): void {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (req) => {
    if (!needsAuth(req.url)) return;
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === '') {
      throw new ApiError('HANGAR_ERR_API_UNAUTHORIZED', 'authentication required: send Authorization: Bearer <token>');
    }
    const auth = await authenticate(ctx, header);
    if (auth === undefined) throw new ApiError('HANGAR_ERR_API_UNAUTHORIZED', 'invalid or expired token');
    if (auth.role === 'readonly' && req.method !== 'GET' && req.method !== 'HEAD') {
      throw forbidden('this token is read-only');
    }
    req.auth = auth;
  });
}
