/**
 * What a connection handler needs from the `ProxyServer` that owns it (kept apart so handlers
 * and the server do not import each other), and the seams other proxy modules plug into
 * (TLS termination, HTTP/2, PROXY protocol: see README.md in this folder).
 */
import type { Socket } from 'node:net';
import type { BalanceOptions } from '../core/proxy/balance.js';
import type { Backend, ListenerSpec, Route, RouteTable } from '../core/proxy/types.js';
import type { H2cSessions } from './h2c-upstream.js';
import type { UpstreamPool } from './pool.js';
import type { RouteQueues } from './queue.js';
import type { StaticFiles } from './statics.js';

/** Hooks for later work (access logs, tracing). Keep them cheap: they run per request. */
export interface ProxyHooks {
  onRequestStart?(route: Route, backend: Backend): void;
  onRequestEnd?(route: Route, backend: Backend, status: number): void;
}

/**
 * Who the client is, when the socket the proxy sees is not the client's own TCP connection:
 * a decrypted TLS socket (`proto: 'https'`), or a connection that started with an inbound PROXY
 * header (the real client address). Omitted fields come from the socket and the listener.
 */
export interface ClientInfo {
  readonly clientIp?: string;
  readonly proto?: 'http' | 'https';
}

/**
 * Seam for the TLS module (src/proxy/tls): the proxy does not open `proto: 'https'` listeners
 * itself unless one is registered. It receives each raw TCP connection of such a listener, does
 * the handshake, and hands the decrypted socket back through `handOff` (HTTP/1.1 after ALPN
 * `http/1.1`, or its own HTTP/2 handling that calls `ProxyServer.handleHttp` per stream adapter).
 */
export interface SecureAcceptor {
  accept(raw: Socket, spec: ListenerSpec, handOff: (decrypted: Socket, info?: ClientInfo) => void): void;
}

/**
 * Seam for the PROXY protocol module (src/proxy/proxy-proto.ts): bytes to write first on a new
 * upstream connection of a route whose port has the `proxy_proto` handler (reference §1c).
 * Called once per connection, before any other byte; `undefined` writes nothing.
 */
export type UpstreamPreamble = (route: Route, backend: Backend, client: { ip: string; port: number; localIp: string; localPort: number }) => Buffer | undefined;

/** Per-request and per-connection counters (metrics.ts). Called on the hot path: cheap. */
export interface MetricsSink {
  request(route: Route, backend: Backend, status: number, ms: number, bytesIn: number, bytesOut: number): void;
  /** A response the proxy wrote itself (404, 503, ...); `app` when the host matched one. */
  answered(app: string | undefined, status: number): void;
  connectionOpened(publicPort: number): void;
  connectionClosed(publicPort: number): void;
  /** A TCP splice ended. */
  tcpDone(route: Route, backend: Backend, bytesIn: number, bytesOut: number): void;
  /** A `[[statics]]` response the proxy served from the image (statics.ts). */
  staticServed(route: Route, status: number, ms: number, bytesOut: number): void;
}

export interface ProxyContext {
  readonly region: string;
  readonly pool: UpstreamPool;
  /** h2c sessions to machines of `h2_backend` routes. */
  readonly h2c: H2cSessions;
  readonly queues: RouteQueues;
  readonly balance: BalanceOptions;
  readonly load: Map<string, number>;
  readonly hooks: ProxyHooks;
  readonly metrics: MetricsSink;
  /** How long a request held for an autostart waits for its machine (ms). */
  readonly autostartWaitMs: number;
  /** A client connection with no bytes either way for this long is closed, unless its route sets `idle_timeout` (ms). */
  readonly idleTimeoutMs: number;
  /** See `UpstreamPreamble`; undefined when no PROXY protocol module is plugged in. */
  readonly upstreamPreamble: UpstreamPreamble | undefined;
  /** `[[statics]]` served from images (statics.ts); undefined without a `staticRoot` seam. */
  readonly statics: StaticFiles | undefined;
  table(): RouteTable;
  /** The route `app`/`publicPort` in the current table (routes move across rebuilds). */
  currentRoute(app: string, publicPort: number): Route | undefined;
  /** `Fly-Request-Id: <id>-<region>\r\nVia: ...\r\n`, a new id each call. */
  responseLines(): string;
  /** The same lines' length (fixed per proxy). */
  readonly responseLinesLength: number;
  /** The same lines written as bytes at `out[o]` (no string per request); returns the length. */
  writeResponseLines(out: Buffer, o: number): number;
  /** Counts one connection or request on `backend`. */
  addLoad(backend: Backend): void;
  /** Uncounts it and lets a waiter of its route in. */
  dropLoad(backend: Backend, route: Route): void;
  /**
   * Autostart (reference §1c): a request of `route` is held (already queued) because no started
   * machine is below its soft limit. True when a machine is (now) starting that it can wait
   * for; false when none can be started (the caller answers 503).
   */
  requestStart(route: Route): boolean;
}

/** `app:publicPort`, the queue key of a route. */
export function routeKey(route: Route): string {
  return `${route.app}:${route.publicPort}`;
}

export type ListenerContext = { readonly spec: ListenerSpec };
