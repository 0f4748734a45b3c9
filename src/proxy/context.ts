/**
 * What a connection handler needs from the `ProxyServer` that owns it (kept apart so handlers
 * and the server do not import each other).
 */
import type { BalanceOptions } from '../core/proxy/balance.js';
import type { Backend, ListenerSpec, Route, RouteTable } from '../core/proxy/types.js';
import type { UpstreamPool } from './pool.js';
import type { RouteQueues } from './queue.js';

/** Hooks for later work (metrics, access logs, autostop load accounting). Keep them cheap. */
export interface ProxyHooks {
  onRequestStart?(route: Route, backend: Backend): void;
  onRequestEnd?(route: Route, backend: Backend, status: number): void;
}

export interface ProxyContext {
  readonly region: string;
  readonly pool: UpstreamPool;
  readonly queues: RouteQueues;
  readonly balance: BalanceOptions;
  readonly load: Map<string, number>;
  readonly hooks: ProxyHooks;
  table(): RouteTable;
  /** The route `app`/`publicPort` in the current table (routes move across rebuilds). */
  currentRoute(app: string, publicPort: number): Route | undefined;
  /** `<ulid-ish>-<region>` for `Fly-Request-Id`. */
  requestId(): string;
  /** Counts one connection or request on `backend`. */
  addLoad(backend: Backend): void;
  /** Uncounts it and lets a waiter of its route in. */
  dropLoad(backend: Backend, route: Route): void;
}

/** `app:publicPort`, the queue key of a route. */
export function routeKey(route: Route): string {
  return `${route.app}:${route.publicPort}`;
}

export type ListenerContext = { readonly spec: ListenerSpec };
