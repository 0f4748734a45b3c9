/**
 * `ProxyServer`: the edge proxy process part (ARCHITECTURE.md "Edge proxy"). Owns the listeners,
 * the upstream pool, the per-machine load counters and the queues; takes route tables through
 * `setTable()` (from `RouteFeeder`, or directly in tests and benchmarks).
 */
import { randomBytes } from 'node:crypto';
import { HangarError } from '../core/errors.js';
import type { Socket } from 'node:net';
import type { BalanceOptions } from '../core/proxy/balance.js';
import { ulidRandom, ulidTime, VIA } from '../core/proxy/headers.js';
import type { DistanceTable } from '../core/proxy/region.js';
import { buildRouteTable, routeForPort } from '../core/proxy/table.js';
import type { Backend, ListenerSpec, Route, RouteTable } from '../core/proxy/types.js';
import { Autostarter, type MachineStarter } from './autostart.js';
import { routeKey, type ClientInfo, type ProxyContext, type ProxyHooks, type SecureAcceptor, type UpstreamPreamble } from './context.js';
import { H2cSessions } from './h2c-upstream.js';
import { HttpSession } from './http-session.js';
import { ProxyMetrics } from './metrics.js';
import { ListenerManager } from './listeners.js';
import { UpstreamPool } from './pool.js';
import { RouteQueues } from './queue.js';
import { handleTcp } from './tcp.js';
import { StaticFiles, type StaticRootResolver } from './statics.js';

/**
 * How long an HTTP client connection may go without a byte either way before the proxy closes
 * it, when its port sets no `http_options.idle_timeout`: 60 s, Fly's documented proxy default
 * (a WebSocket or long poll needs traffic, e.g. pings, within that time).
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export interface ProxyServerOptions {
  /** The proxy's region: `Fly-Region`, request ids, distance 0 (default `local`). */
  region?: string;
  distances?: DistanceTable;
  /** Base domain the table was built with (for re-finding host routes; default `localhost`). */
  baseDomain?: string;
  /** Requests waiting for a machine below its hard limit, per route (default 256). */
  queueLength?: number;
  /** How long such a request waits before a 503 (default 5000 ms). */
  queueWaitMs?: number;
  /** Idle upstream connections are closed after this (default 4000 ms, as Fly's pool). */
  upstreamIdleMs?: number;
  hooks?: ProxyHooks;
  /** Autostart (reference §1c): how the proxy starts a stopped machine; none = autostart off. */
  starter?: MachineStarter;
  /** How long a request waits for an autostarted machine (default 20000 ms). */
  autostartWaitMs?: number;
  /**
   * HTTP client connections with no bytes either way for this long are closed (default
   * `DEFAULT_IDLE_TIMEOUT_MS`); a port's `http_options.idle_timeout` overrides it per route.
   */
  idleTimeoutMs?: number;
  /** Counters shared with the autostop loop and `/metrics` (default: a new one). */
  metrics?: ProxyMetrics;
  /** TLS seam (context.ts): without one, `https` listeners stay closed. */
  secureAcceptor?: SecureAcceptor;
  /** PROXY protocol seam (context.ts). */
  upstreamPreamble?: UpstreamPreamble;
  /** `[[statics]]` seam (statics.ts): where an image's rootfs is on this host; none = no statics. */
  staticRoot?: StaticRootResolver;
  onError?: (err: Error) => void;
  /** Tie-break randomness (tests). */
  random?: () => number;
}

export class ProxyServer implements ProxyContext {
  readonly region: string;
  readonly pool: UpstreamPool;
  readonly h2c: H2cSessions;
  readonly queues: RouteQueues;
  readonly balance: BalanceOptions;
  readonly load = new Map<string, number>();
  readonly hooks: ProxyHooks;
  readonly metrics: ProxyMetrics;
  readonly autostartWaitMs: number;
  readonly idleTimeoutMs: number;
  readonly upstreamPreamble: UpstreamPreamble | undefined;
  readonly statics: StaticFiles | undefined;
  readonly autostarter: Autostarter;
  private readonly secureAcceptor: SecureAcceptor | undefined;
  private current: RouteTable;
  private readonly baseDomain: string;
  private readonly listeners: ListenerManager;
  private readonly onError: (err: Error) => void;
  private idMs = 0;
  private idSeq = 0;
  private readonly idSuffix: string;
  /** `Fly-Request-Id: <26 chars>-<region>\r\nVia: …\r\n`; the id's time and prefix are refreshed in place. */
  private readonly linesTemplate: Buffer;
  private started = false;

  constructor(opts: ProxyServerOptions = {}) {
    this.region = opts.region ?? 'local';
    this.baseDomain = (opts.baseDomain ?? 'localhost').toLowerCase();
    this.pool = new UpstreamPool(opts.upstreamIdleMs ?? 4000);
    this.h2c = new H2cSessions();
    this.queues = new RouteQueues(opts.queueLength ?? 256, opts.queueWaitMs ?? 5000);
    this.balance = { region: this.region, distances: opts.distances, autostart: opts.starter !== undefined, ...(opts.random ? { random: opts.random } : {}) };
    this.hooks = opts.hooks ?? {};
    this.metrics = opts.metrics ?? new ProxyMetrics();
    this.autostartWaitMs = opts.autostartWaitMs ?? 20_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.upstreamPreamble = opts.upstreamPreamble;
    this.statics = opts.staticRoot ? new StaticFiles(opts.staticRoot) : undefined;
    this.secureAcceptor = opts.secureAcceptor;
    this.idSuffix = `-${this.region}\r\n${VIA}`;
    this.linesTemplate = Buffer.from(`Fly-Request-Id: ${'0'.repeat(26)}${this.idSuffix}`, 'latin1');
    this.onError = opts.onError ?? (() => undefined);
    this.autostarter = new Autostarter({
      starter: opts.starter,
      balance: this.balance,
      startTimeoutMs: this.autostartWaitMs,
      waiting: (key) => this.queues.size(key),
      onStarted: (app, port, id) => this.metrics.autostarted(app, port, id),
      onError: (err, app, id) => this.onError(new ProxyAutostartError(`could not start machine ${id} of app ${app}: ${err.message}`, err)),
      onSettled: (key) => this.queues.wake(key),
    });
    this.current = buildRouteTable([], [], { httpsAddr: null });
    this.listeners = new ListenerManager(
      (sock, spec) => this.accept(sock, spec),
      (err, spec) => this.onError(new ProxyListenError(`cannot listen on ${spec.addr} for public port ${spec.publicPort}: ${err.message}`, err)),
    );
  }

  /** Opens the current table's listeners. */
  async start(): Promise<void> {
    this.started = true;
    await this.listeners.reconcile(this.servable(this.current));
  }

  /** The table's listeners this proxy can serve: `https` ones only with a TLS module plugged in. */
  private servable(table: RouteTable): RouteTable['listeners'] {
    return this.secureAcceptor ? table.listeners : table.listeners.filter((l) => l.proto !== 'https' && l.tls !== true);
  }

  /** Swaps the route table; listeners follow (resolves once they did). Waiters get a new look. */
  async setTable(table: RouteTable): Promise<void> {
    this.current = table;
    this.autostarter.onTable(table);
    if (this.started) await this.listeners.reconcile(this.servable(table));
    for (const r of table.ports.values()) this.queues.wake(routeKey(r));
    for (const hosts of table.hosts.values()) for (const r of hosts.values()) this.queues.wake(routeKey(r));
  }

  /** Bound addresses of the open listeners. */
  addresses(): { spec: ListenerSpec; host: string; port: number }[] {
    return this.listeners.addresses();
  }

  async close(): Promise<void> {
    this.started = false;
    this.autostarter.close();
    this.queues.close();
    await this.listeners.close();
    this.pool.close();
    this.h2c.close();
  }

  table(): RouteTable {
    return this.current;
  }

  currentRoute(app: string, publicPort: number): Route | undefined {
    if (publicPort === 80 || publicPort === 443) return this.current.hosts.get(publicPort)?.get(`${app}.${this.baseDomain}`);
    const r = routeForPort(this.current, publicPort);
    return r && r.app === app ? r : undefined;
  }

  addLoad(b: Backend): void {
    this.load.set(b.key, (this.load.get(b.key) ?? 0) + 1);
  }

  dropLoad(b: Backend, route: Route): void {
    const n = (this.load.get(b.key) ?? 1) - 1;
    if (n <= 0) this.load.delete(b.key);
    else this.load.set(b.key, n);
    if (!this.queues.idle) this.queues.wake(routeKey(route));
  }

  /**
   * `Fly-Request-Id: <26-char ULID-like id>-<region>` and `Via` as one string (the proxy's own
   * answers; forwarded responses use `writeResponseLines`). The time part is cached per
   * millisecond; the other 16 characters are a random per-process prefix (renewed when the
   * counter wraps) and a counter: unique per proxy without random bytes per request.
   */
  responseLines(): string {
    const out = Buffer.allocUnsafe(this.linesTemplate.length);
    this.writeResponseLines(out, 0);
    return out.toString('latin1');
  }

  /** Bytes `writeResponseLines` writes (fixed: the id has a fixed length). */
  get responseLinesLength(): number {
    return this.linesTemplate.length;
  }

  /**
   * `responseLines()` as bytes into `out` at `o`, without building a string: a per-proxy
   * template with only the 26 id characters filled in per call. Returns the bytes written.
   */
  writeResponseLines(out: Buffer, o: number): number {
    const now = Date.now();
    if (now !== this.idMs) {
      this.idMs = now;
      this.linesTemplate.write(ulidTime(now), 16, 'latin1');
    }
    if (this.idSeq === 0 || this.idSeq >= 1 << 30) {
      this.idSeq = 1;
      this.linesTemplate.write(ulidRandom(randomBytes(16)).slice(0, 10), 26, 'latin1');
    }
    const n = this.idSeq++;
    const t = this.linesTemplate;
    t.copy(out, o);
    let p = o + 36;
    for (let shift = 25; shift >= 0; shift -= 5) out[p++] = CROCKFORD_CODES[(n >>> shift) & 31]!;
    return t.length;
  }

  /** A request id alone (`<id>-<region>`). */
  requestId(): string {
    const l = this.responseLines();
    return l.slice(16, l.indexOf('\r'));
  }

  requestStart(route: Route): boolean {
    return this.autostarter.request(route, routeKey(route));
  }

  /**
   * Seam for the TLS/HTTP/2 modules (README.md): serve HTTP/1.1 on an already accepted and
   * decrypted socket as if it had arrived on `spec`'s listener.
   */
  handleHttp(sock: Socket, spec: ListenerSpec, info?: ClientInfo): void {
    new HttpSession(sock, this, spec, info);
  }

  private accept(sock: Socket, spec: ListenerSpec): void {
    if (this.secureAcceptor && (spec.proto === 'https' || spec.tls === true)) {
      this.secureAcceptor.accept(sock, spec, (decrypted, info) => {
        if (spec.kind === 'tcp') handleTcp(decrypted, this, spec);
        else this.handleHttp(decrypted, spec, { proto: 'https', ...info });
      });
    } else if (spec.kind === 'tcp') handleTcp(sock, this, spec);
    else new HttpSession(sock, this, spec);
  }
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CROCKFORD_CODES = Buffer.from(CROCKFORD, 'latin1');

/**
 * A held request's machine could not be started (the request gets a 503 once nothing else can
 * start). Its code is not in src/core/errors.ts yet (the lead registers it); until then a plain
 * Error carrying the code.
 */
export class ProxyAutostartError extends HangarError {
  constructor(message: string, cause: Error) {
    super('HANGAR_ERR_PROXY_AUTOSTART', message, { cause });
    this.name = 'ProxyAutostartError';
  }
}

/** A listener could not be opened (the port is taken, or not allowed). */
export class ProxyListenError extends HangarError {
  constructor(message: string, cause: Error) {
    super('HANGAR_ERR_PROXY_LISTEN', message, { cause });
    this.name = 'ProxyListenError';
  }
}
