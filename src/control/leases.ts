/**
 * Machine leases (reference §1a "Leases"): one holder at a time, identified by a nonce that
 * mutations must carry in `fly-machine-lease-nonce`. Acquire = 201, another holder = 409
 * (`lease currently held by`), refresh = POST with the nonce, release = DELETE with it,
 * GET shows the current lease including its nonce (so `fly machine leases clear` can release it),
 * and a missing lease is 404 `lease not found`. Expired leases count as absent.
 */
import { randomBytes } from 'node:crypto';
import type { Lease } from '../core/machine/types.js';
import { ApiError, badRequest, notFound } from './errors.js';
import type { ControlContext } from './context.js';
import { checkLease, leaseActive, loadMachine, mutateMachine } from './machine-store.js';
import { newUlid } from './ids.js';

export interface LeaseBody {
  status: 'success';
  data: Lease;
}

/** Acquires a lease, or refreshes it when `nonce` is the current holder's. */
export async function acquireLease(ctx: ControlContext, app: string, id: string, ttl: number, description: string | undefined, owner: string, nonce: string | undefined): Promise<{ created: boolean; body: LeaseBody }> {
  return mutateMachine<{ created: boolean; body: LeaseBody }>(ctx, app, id, { leased: false }, (cur, now) => {
    if (cur.state === 'destroyed') throw notFound(`machine not found: ${id} (it is destroyed)`);
    const expires = Math.floor(now / 1000) + ttl;
    if (leaseActive(cur, now) && cur.lease !== null) {
      if (nonce !== cur.lease.nonce) checkLease(cur, nonce, now);
      const lease: Lease = { ...cur.lease, expires_at: expires, ...(description !== undefined ? { description } : {}) };
      return { rec: { ...cur, lease }, result: { created: false, body: { status: 'success', data: lease } } };
    }
    if (nonce !== undefined) throw notFound('lease not found: it expired or was released; acquire a new one');
    const lease: Lease = { nonce: randomBytes(16).toString('hex'), owner, description: description ?? '', expires_at: expires, version: newUlid() };
    return { rec: { ...cur, lease }, result: { created: true, body: { status: 'success', data: lease } } };
  });
}

export async function getLease(ctx: ControlContext, app: string, id: string): Promise<LeaseBody> {
  const { rec } = await loadMachine(ctx, app, id);
  if (!leaseActive(rec, ctx.now()) || rec.lease === null) throw notFound('lease not found');
  return { status: 'success', data: rec.lease };
}

export async function releaseLease(ctx: ControlContext, app: string, id: string, nonce: string | undefined): Promise<{ status: 'success'; data: { ok: true } }> {
  if (nonce === undefined || nonce === '') throw badRequest('the fly-machine-lease-nonce header is required to release a lease');
  await mutateMachine(ctx, app, id, { leased: false }, (cur, now) => {
    if (!leaseActive(cur, now) || cur.lease === null) throw notFound('lease not found');
    if (cur.lease.nonce !== nonce) {
      throw new ApiError('HANGAR_ERR_API_LEASE_CONFLICT', `lease currently held by ${cur.lease.owner} (the fly-machine-lease-nonce sent does not match)`);
    }
    return { rec: { ...cur, lease: null }, result: undefined };
  });
  return { status: 'success', data: { ok: true } };
}
