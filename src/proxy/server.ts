/**
 * `ProxyServer`: the edge proxy process part (ARCHITECTURE.md "Edge proxy"). Owns the listeners,
 * the upstream pool, the per-machine load counters and the queues; takes route tables through
 * `setTable()` (from `RouteFeeder`, or directly in tests and benchmarks).
 */
import { randomFillSync } from 'node:crypto';
import { HangarError } from '../core/errors.js';
import type { Socket } from 'node:net';
import type { BalanceOptions } from '../core/proxy/balance.js';
import { ulidRandom, ulidTime } from '../core/proxy/headers.js';
import type { DistanceTable } from '../core/proxy/region.js';
import { buildRouteTable, routeForPort } from '../core/proxy/table.js';
import type { Backend, ListenerSpec, Route, RouteTable } from '../core/proxy/types.js';
import { routeKey, type ProxyContext, type ProxyHooks } from './context.js';
import { HttpSession } from './http-session.js';
import { ListenerManager } from './listeners.js';
import { UpstreamPool } from './pool.js';
import { RouteQueues } from './queue.js';
import { handleTcp } from './tcp.js';

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
  onError?: (err: Error) => void;
  /** Tie-break randomness (tests). */
  random?: () => number;
}

export class ProxyServer implements ProxyContext {
  readonly region: string;
  readonly pool: UpstreamPool;
  readonly queues: RouteQueues;
  readonly balance: BalanceOptions;
  readonly load = new Map<string, number>();
  readonly hooks: ProxyHooks;
  private current: RouteTable;
  private readonly baseDomain: string;
  private readonly listeners: ListenerManager;
  private readonly onError: (err: Error) => void;
  private idMs = 0;
  private idTime = '';
  private readonly rand = Buffer.alloc(4096);
  private randPos = 4096;
  private started = false;

  constructor(opts: ProxyServerOptions = {}) {
    this.region = opts.region ?? 'local';
    this.baseDomain = (opts.baseDomain ?? 'localhost').toLowerCase();
    this.pool = new UpstreamPool(opts.upstreamIdleMs ?? 4000);
    this.queues = new RouteQueues(opts.queueLength ?? 256, opts.queueWaitMs ?? 5000);
    this.balance = { region: this.region, distances: opts.distances, ...(opts.random ? { random: opts.random } : {}) };
    this.hooks = opts.hooks ?? {};
    this.onError = opts.onError ?? (() => undefined);
    this.current = buildRouteTable([], [], { httpsAddr: null });
    this.listeners = new ListenerManager(
      (sock, spec) => this.accept(sock, spec),
      (err, spec) => this.onError(new ProxyListenError(`cannot listen on ${spec.addr} for public port ${spec.publicPort}: ${err.message}`, err)),
    );
  }

  /** Opens the current table's listeners. */
  async start(): Promise<void> {
    this.started = true;
    await this.listeners.reconcile(this.current.listeners);
  }

  /** Swaps the route table; listeners follow (resolves once they did). Waiters get a new look. */
  async setTable(table: RouteTable): Promise<void> {
    this.current = table;
    if (this.started) await this.listeners.reconcile(table.listeners);
    for (const r of table.ports.values()) this.queues.wake(routeKey(r));
    for (const hosts of table.hosts.values()) for (const r of hosts.values()) this.queues.wake(routeKey(r));
  }

  /** Bound addresses of the open listeners. */
  addresses(): { spec: ListenerSpec; host: string; port: number }[] {
    return this.listeners.addresses();
  }

  async close(): Promise<void> {
    this.started = false;
    this.queues.close();
    await this.listeners.close();
    this.pool.close();
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
    this.queues.wake(routeKey(route));
  }

  /** `<26-char ULID>-<region>`: time part cached per millisecond, random part from a refilled pool. */
  requestId(): string {
    const now = Date.now();
    if (now !== this.idMs) {
      this.idMs = now;
      this.idTime = ulidTime(now);
    }
    if (this.randPos + 16 > this.rand.length) {
      randomFillSync(this.rand);
      this.randPos = 0;
    }
    const r = ulidRandom(this.rand.subarray(this.randPos, this.randPos + 16));
    this.randPos += 16;
    return `${this.idTime}${r}-${this.region}`;
  }

  private accept(sock: Socket, spec: ListenerSpec): void {
    if (spec.kind === 'tcp') handleTcp(sock, this, spec);
    else new HttpSession(sock, this, spec);
  }
}

/** A listener could not be opened (the port is taken, or not allowed). */
export class ProxyListenError extends HangarError {
  constructor(message: string, cause: Error) {
    super('HANGAR_ERR_PROXY_LISTEN', message, { cause });
    this.name = 'ProxyListenError';
  }
}
