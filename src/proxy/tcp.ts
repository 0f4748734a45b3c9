/**
 * Raw TCP services (no handler, reference §1c "Handlers: none = raw TCP pass-through"): pick a
 * machine once per connection, counted as one connection of load, then splice both directions.
 * A connection that finds no started machine below its soft limit waits for an autostart, like
 * an HTTP request (§1c "Autostart"). The splice is 'data' → `write` with pause/resume only on
 * backpressure (cheaper per chunk than `pipe`'s stream machinery, bench/proxy).
 */
import { connect, type Socket } from 'node:net';
import { pick } from '../core/proxy/balance.js';
import { routeForPort } from '../core/proxy/table.js';
import type { Backend, ListenerSpec, Route } from '../core/proxy/types.js';
import { routeKey, type ProxyContext } from './context.js';
import type { Waiter } from './queue.js';

const NONE = {};
/** A refused connect to a machine that was just autostarted is retried this often at most. */
const CONNECT_TRIES = 50;

/** Handles one client connection on a TCP service listener. */
export function handleTcp(client: Socket, ctx: ProxyContext, spec: ListenerSpec): void {
  client.on('error', () => undefined);
  const route = routeForPort(ctx.table(), spec.publicPort);
  if (!route) {
    client.destroy();
    return;
  }
  new TcpSplice(client, ctx, route).start();
}

class TcpSplice implements Waiter {
  private waiting = false;
  private done = false;
  private held = false;
  private tries = 0;

  constructor(private readonly client: Socket, private readonly ctx: ProxyContext, private route: Route) {}

  start(): void {
    if (this.retry()) return;
    this.client.pause();
    this.waiting = true;
    this.client.once('close', () => {
      if (this.waiting) this.ctx.queues.remove(routeKey(this.route), this);
      this.done = true;
    });
    if (!this.ctx.queues.enqueue(routeKey(this.route), this, { ms: this.ctx.autostartWaitMs, reason: 'no machine became available' })) {
      this.fail();
      return;
    }
    if (this.held && !this.ctx.requestStart(this.route)) {
      this.ctx.queues.remove(routeKey(this.route), this);
      this.fail();
    }
  }

  /** Waiter: true once the connection is spliced or dropped. */
  retry(): boolean {
    if (this.done) return true;
    const route = this.ctx.currentRoute(this.route.app, this.route.publicPort) ?? this.route;
    this.route = route;
    const r = pick(route, NONE, this.ctx.load, this.ctx.balance);
    if (r.kind === 'queue') return false;
    if (r.kind === 'autostart') {
      if (!this.waiting) {
        this.held = true; // start() queues first, then asks for the start
        return false;
      }
      if (this.ctx.requestStart(route)) return false;
      this.waiting = false;
      this.client.destroy();
      return true;
    }
    this.waiting = false;
    if (r.kind !== 'machine') {
      this.client.destroy();
      return true;
    }
    this.splice(r.backend, route);
    return true;
  }

  fail(): void {
    this.waiting = false;
    this.client.destroy();
  }

  private splice(backend: Backend, route: Route): void {
    const client = this.client;
    const ctx = this.ctx;
    ctx.addLoad(backend);
    client.setNoDelay(true);
    let released = false;
    let bytesIn = 0;
    let bytesOut = 0;
    const release = () => {
      if (released) return;
      released = true;
      ctx.dropLoad(backend, route);
      ctx.metrics.tcpDone(route, backend, bytesIn, bytesOut);
    };
    const open = (): Socket => {
      const up = connect({ host: backend.address, port: backend.port });
      up.setNoDelay(true);
      const pre = ctx.upstreamPreamble?.(route, backend, { ip: (client.remoteAddress ?? '').replace(/^::ffff:/, ''), port: client.remotePort ?? 0, localIp: (client.localAddress ?? '').replace(/^::ffff:/, ''), localPort: client.localPort ?? 0 });
      if (pre) up.write(pre);
      let connected = false;
      up.once('connect', () => {
        connected = true;
        client.resume();
      });
      up.on('data', (d: Buffer) => {
        bytesOut += d.length;
        if (!client.write(d)) up.pause();
      });
      up.on('drain', () => client.resume());
      up.on('end', () => client.end());
      up.on('error', () => undefined);
      up.on('close', () => {
        if (!connected && this.held && !client.destroyed && ++this.tries < CONNECT_TRIES) {
          // Just autostarted: the app may not listen yet. Bounded retry, nothing was sent.
          setTimeout(() => {
            if (!client.destroyed) current = open();
          }, Math.min(200, 10 * this.tries));
          return;
        }
        client.destroy();
        release();
      });
      return up;
    };
    let current = open();
    client.pause();
    client.on('data', (d: Buffer) => {
      bytesIn += d.length;
      if (!current.write(d)) client.pause();
    });
    client.on('drain', () => current.resume());
    client.on('end', () => current.end());
    client.on('close', () => {
      current.destroy();
      release();
    });
  }
}
