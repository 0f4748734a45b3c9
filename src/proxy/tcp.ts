/**
 * Raw TCP services (no handler, reference §1c "Handlers: none = raw TCP pass-through"): pick a
 * machine once per connection, counted as one connection of load, then splice both directions
 * with `pipe` (backpressure and half-close handled by streams).
 */
import { connect, type Socket } from 'node:net';
import { pick } from '../core/proxy/balance.js';
import { routeForPort } from '../core/proxy/table.js';
import type { Backend, ListenerSpec, Route } from '../core/proxy/types.js';
import { routeKey, type ProxyContext } from './context.js';
import type { Waiter } from './queue.js';

const NONE = {};

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

  constructor(private readonly client: Socket, private readonly ctx: ProxyContext, private route: Route) {}

  start(): void {
    if (!this.retry()) {
      this.client.pause();
      this.waiting = true;
      if (!this.ctx.queues.enqueue(routeKey(this.route), this)) this.fail();
      this.client.once('close', () => {
        if (this.waiting) this.ctx.queues.remove(routeKey(this.route), this);
        this.done = true;
      });
    }
  }

  retry(): boolean {
    if (this.done) return true;
    const route = this.ctx.currentRoute(this.route.app, this.route.publicPort) ?? this.route;
    this.route = route;
    const r = pick(route, NONE, this.ctx.load, this.ctx.balance);
    if (r.kind === 'queue') return false;
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
    this.ctx.addLoad(backend);
    const up = connect({ host: backend.address, port: backend.port });
    up.setNoDelay(true);
    client.setNoDelay(true);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.ctx.dropLoad(backend, route);
    };
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
    up.on('close', () => {
      client.destroy();
      release();
    });
    client.on('close', () => {
      up.destroy();
      release();
    });
    client.pipe(up);
    up.pipe(client);
    client.resume();
  }
}
