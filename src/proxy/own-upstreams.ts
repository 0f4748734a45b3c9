/**
 * Upstream connections a client connection keeps to itself, for routes that cannot share the
 * pool's (pool.ts):
 *
 * - `proxy_proto` on an `http` port (reference §1c): the PROXY header names one client, so a
 *   connection that starts with it serves only that client's requests. It is opened on the
 *   client's first request and kept for its next ones (same machine), never pooled.
 * - `h2_backend`: an `H2cConnection` (h2c-upstream.ts), a virtual connection whose requests
 *   become streams on the machine's shared h2c session (with `proxy_proto` too: on a session of
 *   the client's own).
 *
 * Routes without either option never reach this file (one property check per request).
 */
import type { Backend, Route } from '../core/proxy/types.js';
import { routeKey, type ProxyContext } from './context.js';
import { H2cConnection } from './h2c-upstream.js';
import { Upstream } from './pool.js';
import type { Socket } from 'node:net';

/** The client facts the PROXY header carries (the `UpstreamPreamble` seam's argument). */
export interface PreambleClient {
  readonly ip: string;
  readonly port: number;
  readonly localIp: string;
  readonly localPort: number;
}

/** Whether `route` needs a connection of the client's own (false for ordinary routes). */
export function needsOwnUpstream(route: Route, ctx: ProxyContext): boolean {
  const o = route.options;
  return o.h2Backend || (o.proxyProto !== undefined && ctx.upstreamPreamble !== undefined);
}

export class OwnUpstreams {
  private up: Upstream | null = null;
  /** Route and machine the kept connection belongs to. */
  private key = '';

  constructor(private readonly ctx: ProxyContext, private readonly client: PreambleClient) {}

  /** The kept connection for `route`/`backend`, or a new one (always new when `fresh`). */
  acquire(route: Route, backend: Backend, fresh: boolean): Upstream {
    const key = `${routeKey(route)}|${backend.key}`;
    const kept = this.up;
    if (!fresh && kept && !kept.closed && kept.owner === null && this.key === key) return kept;
    kept?.destroy();
    const preamble = route.options.proxyProto ? this.ctx.upstreamPreamble?.(route, backend, this.client) : undefined;
    const up = route.options.h2Backend
      ? this.ctx.pool.adopt(new H2cConnection(this.ctx.h2c, backend, preamble) as unknown as Socket)
      : this.ctx.pool.dedicated(backend, preamble);
    this.up = up;
    this.key = key;
    return up;
  }

  /** Takes back a connection whose response ended cleanly; false when it is not one of these. */
  release(up: Upstream): boolean {
    if (up !== this.up) return false;
    up.owner = null;
    return true;
  }

  close(): void {
    this.up?.destroy();
    this.up = null;
  }
}
