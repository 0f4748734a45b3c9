/**
 * What route handlers share: the control context and the long-lived services built on it,
 * plus small accessors for the caller, path parameters and headers.
 */
import type { FastifyRequest } from 'fastify';
import type { AuthContext, ControlContext } from '../control/context.js';
import type { WaitHub } from '../control/wait.js';
import type { MachineListCache } from '../control/machine-list.js';
import type { Secrets } from '../control/secrets.js';
import { ApiError } from '../control/errors.js';

export interface Services {
  readonly ctx: ControlContext;
  readonly waits: WaitHub;
  readonly secrets: Secrets;
  readonly machineList: MachineListCache;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every `/v1` and `/api/v1` request. */
    auth: AuthContext | null;
  }
}

export function authOf(req: FastifyRequest): AuthContext {
  if (req.auth === null) throw new ApiError('HANGAR_ERR_API_UNAUTHORIZED', 'authentication required');
  return req.auth;
}

/** A path parameter (Fastify already limits its length). */
export function param(req: FastifyRequest, name: string): string {
  const v = (req.params as Record<string, string | undefined>)[name];
  return v ?? '';
}

/** The lease nonce header, if sent. */
export function leaseNonce(req: FastifyRequest): string | undefined {
  const v = req.headers['fly-machine-lease-nonce'];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s.slice(0, 256);
}
