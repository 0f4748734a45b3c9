/**
 * One client connection on an HTTP listener: a byte-forwarding HTTP/1.1 state machine.
 *
 * Per request: scan the head (http-parse.ts), route by Host (or by port), pick a machine
 * (core/proxy/balance.ts), write the head with Fly's lines added (reference §1c) on a pooled
 * upstream connection, then pass body bytes through while a framer finds where the request and
 * the response end so both connections can be reused. Requests are handled one at a time;
 * pipelined ones wait in the buffer. After a `101`, both directions are spliced.
 */
import type { Socket } from 'node:net';
import { pick, type PickRequest } from '../core/proxy/balance.js';
import { connectionHeaderBlock, forwardedForLine, forwardedPortLine, parseRegionList, VIA } from '../core/proxy/headers.js';
import { routeForHost, routeForPort } from '../core/proxy/table.js';
import type { Backend, ListenerSpec, Route } from '../core/proxy/types.js';
import { routeKey, type ProxyContext } from './context.js';
import { ChunkedScanner, HEAD_END, HeadError, MAX_HEAD_BYTES, parseRequestHead, parseResponseHead, type RequestHead } from './http-parse.js';
import type { Upstream, UpstreamOwner } from './pool.js';
import type { Waiter } from './queue.js';

const enum Phase {
  Head,
  Queued,
  Body,
  Wait,
  Tunnel,
  Closed,
}

const NO_ROUTING: PickRequest = {};
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const STATUS_TEXT: Record<number, string> = { 301: 'Moved Permanently', 400: 'Bad Request', 404: 'Not Found', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable', 505: 'HTTP Version Not Supported' };

export class HttpSession implements UpstreamOwner, Waiter {
  private phase = Phase.Head;
  private buf: Buffer | null = null;
  private readonly connBlock: string;
  private readonly clientIp: string;
  // current request
  private req: RequestHead | null = null;
  private route: Route | null = null;
  private backend: Backend | null = null;
  private reqBodyLeft = 0;
  private reqChunks: ChunkedScanner | null = null;
  private sentHead = '';
  /** The whole request as sent, while it is small and complete: for one retry on a stale connection. */
  private replay: Buffer | null = null;
  private retried = false;
  private up: Upstream | null = null;
  private counted = false;
  /** `concurrency.type = "connections"`: the machine this connection is bound to (counted once). */
  private pinned: Backend | null = null;
  private pinnedRoute: Route | null = null;
  // current response
  private resStarted = false;
  private resHead: Buffer | null = null;
  private resLeft = 0;
  private resChunks: ChunkedScanner | null = null;
  private resUntilClose = false;
  private resReusable = true;
  private resStatus = 0;
  private closeAfter = false;

  constructor(private readonly sock: Socket, private readonly ctx: ProxyContext, private readonly spec: ListenerSpec) {
    sock.setNoDelay(true);
    const ip = (sock.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.clientIp = ip;
    this.connBlock = connectionHeaderBlock({ clientIp: ip, publicPort: spec.publicPort, proto: spec.proto, region: ctx.region });
    sock.on('data', (d: Buffer) => this.onClientData(d));
    sock.on('error', () => undefined);
    sock.on('close', () => this.onClientClose());
    sock.on('drain', () => this.up?.sock.resume());
  }

  private paused = false;

  /** pause()/resume() cost an epoll_ctl each: only when the state really changes. */
  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.sock.pause();
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.sock.resume();
  }

  private onClientData(d: Buffer): void {
    switch (this.phase) {
      case Phase.Head:
        this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
        this.nextRequest();
        return;
      case Phase.Body:
        this.forwardBody(d);
        return;
      case Phase.Tunnel:
        if (this.up && !this.up.sock.write(d)) this.pause();
        return;
      case Phase.Closed:
        return;
      default:
        this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
        this.pause();
    }
  }

  /** Parses and dispatches the next buffered request head, if a whole one is there. */
  private nextRequest(): void {
    const buf = this.buf;
    if (!buf) return;
    const idx = buf.indexOf(HEAD_END);
    if (idx < 0) {
      if (buf.length > MAX_HEAD_BYTES) this.reject(431, 'the request head is larger than 64 KiB');
      return;
    }
    let head: RequestHead;
    try {
      head = parseRequestHead(buf, idx + 4);
    } catch (err) {
      if (err instanceof HeadError) this.reject(err.status, err.message);
      else this.reject(400, 'malformed request');
      return;
    }
    this.buf = idx + 4 < buf.length ? buf.subarray(idx + 4) : null;
    this.req = head;
    this.closeAfter = head.close;
    const table = this.ctx.table();
    const route = this.spec.kind === 'http-host' ? routeForHost(table, this.spec.publicPort, head.host) : routeForPort(table, this.spec.publicPort);
    if (!route) {
      this.reject(404, head.host ? `no app is configured for host '${head.host}'` : 'this request has no Host header, so no app could be chosen');
      return;
    }
    if (route.forceHttps && this.spec.proto === 'http') {
      const host = head.host.replace(/:\d+$/, '');
      this.respond(301, '', `Location: https://${host}${head.target}\r\n`);
      return;
    }
    this.route = route;
    this.dispatch();
  }

  /** Chooses a machine (or queues/rejects) and sends the request. */
  private dispatch(): void {
    const route = this.route!;
    const head = this.req!;
    let backend: Backend;
    let preferredUnavailable = false;
    if (this.pinned && this.pinnedRoute === route && head.forceInstance === undefined && head.preferInstance === undefined) {
      backend = this.pinned;
    } else {
      const routing = head.forceInstance !== undefined || head.preferInstance !== undefined || head.forceRegion !== undefined || head.preferRegion !== undefined ? this.routing(head) : NO_ROUTING;
      const r = pick(route, routing, this.ctx.load, this.ctx.balance);
      if (r.kind === 'queue') {
        this.phase = Phase.Queued;
        this.pause();
        if (!this.ctx.queues.enqueue(routeKey(route), this)) this.reject(503, `every machine of app '${route.app}' is at its hard limit and the queue is full`);
        return;
      }
      if (r.kind === 'autostart') {
        this.reject(503, `no machine of app '${route.app}' is running (autostart is not available yet)`);
        return;
      }
      if (r.kind === 'reject') {
        this.reject(r.status, r.reason);
        return;
      }
      backend = r.backend;
      preferredUnavailable = r.preferredUnavailable;
      if (backend.type === 'connections') {
        if (this.pinned) this.ctx.dropLoad(this.pinned, this.pinnedRoute!);
        this.pinned = backend;
        this.pinnedRoute = route;
        this.ctx.addLoad(backend);
      }
    }
    this.backend = backend;
    if (backend.type === 'requests') {
      this.ctx.addLoad(backend);
      this.counted = true;
    }
    this.ctx.hooks.onRequestStart?.(route, backend);
    let added = this.connBlock + forwardedForLine(head.forwardedFor, this.clientIp);
    if (!head.hasForwardedPort) added += forwardedPortLine(this.spec.publicPort);
    if (preferredUnavailable) added += 'Fly-Preferred-Instance-Unavailable: true\r\n';
    this.sentHead = head.forward + added + '\r\n';
    this.send(this.ctx.pool.acquire(backend.address, backend.port));
  }

  private routing(head: RequestHead): PickRequest {
    return {
      forceInstance: head.forceInstance,
      preferInstance: head.preferInstance,
      forceRegions: head.forceRegion !== undefined ? parseRegionList(head.forceRegion) : undefined,
      preferRegions: head.preferRegion !== undefined ? parseRegionList(head.preferRegion) : undefined,
    };
  }

  /** Waiter: a slot freed up on our route. */
  retry(): boolean {
    if (this.phase !== Phase.Queued) return true;
    const route = this.ctx.currentRoute(this.route!.app, this.route!.publicPort);
    if (!route) {
      this.reject(503, `app '${this.route!.app}' has no machine to serve it any more`);
      return true;
    }
    this.route = route;
    const r = pick(route, this.req!.forceInstance !== undefined || this.req!.preferRegion !== undefined || this.req!.forceRegion !== undefined ? this.routing(this.req!) : NO_ROUTING, this.ctx.load, this.ctx.balance);
    if (r.kind === 'queue') return false;
    this.phase = Phase.Head;
    this.dispatch();
    return true;
  }

  /** Waiter: gave up waiting (queue timeout or shutdown). */
  fail(reason: string): void {
    this.reject(503, reason);
  }

  private reject(status: number, reason: string): void {
    if (this.phase === Phase.Closed) return;
    this.closeAfter = true;
    this.respond(status, `hangar-proxy: ${reason}\n`, '');
  }

  private send(up: Upstream): void {
    this.up = up;
    up.owner = this;
    up.uses += 1;
    this.retried = false;
    this.resStarted = false;
    this.resHead = null;
    this.resReusable = true;
    const head = this.req!;
    const buf = this.buf;
    this.replay = null;
    let bodyEnd = 0;
    let complete = true;
    if (head.chunked) {
      this.reqChunks = new ChunkedScanner();
      const end = buf ? this.scanReq(buf, 0) : -1;
      if (end === -2) return;
      complete = end >= 0;
      bodyEnd = complete ? end : (buf?.length ?? 0);
    } else if (head.contentLength > 0) {
      const have = buf?.length ?? 0;
      bodyEnd = Math.min(have, head.contentLength);
      this.reqBodyLeft = head.contentLength - bodyEnd;
      complete = this.reqBodyLeft === 0;
    }
    const sock = up.sock;
    sock.cork();
    sock.write(this.sentHead, 'latin1');
    if (bodyEnd > 0) sock.write(buf!.subarray(0, bodyEnd));
    sock.uncork();
    if (complete && IDEMPOTENT.has(head.method) && bodyEnd <= 16384) this.replay = bodyEnd > 0 ? Buffer.from(buf!.subarray(0, bodyEnd)) : Buffer.alloc(0);
    this.buf = buf && bodyEnd < buf.length ? buf.subarray(bodyEnd) : null;
    if (complete) {
      this.phase = Phase.Wait;
      if (this.buf) this.pause();
      else this.resume();
    } else {
      this.phase = Phase.Body;
      this.resume();
    }
  }

  /** Chunked request framing; -2 after answering 400. */
  private scanReq(buf: Buffer, start: number): number {
    try {
      return this.reqChunks!.scan(buf, start, buf.length);
    } catch (err) {
      this.abortUpstream();
      this.reject(400, (err as Error).message);
      return -2;
    }
  }

  private forwardBody(d: Buffer): void {
    let end: number;
    if (this.reqChunks) {
      end = this.scanReq(d, 0);
      if (end === -2) return;
    } else {
      end = Math.min(d.length, this.reqBodyLeft);
      this.reqBodyLeft -= end;
      if (this.reqBodyLeft > 0) end = -1;
    }
    const up = this.up;
    if (!up) return;
    const piece = end < 0 || end === d.length ? d : d.subarray(0, end);
    if (!up.sock.write(piece)) {
      this.pause();
      up.sock.once('drain', () => this.phase !== Phase.Closed && this.resume());
    }
    if (end >= 0) {
      this.phase = Phase.Wait;
      if (end < d.length) {
        this.buf = d.subarray(end);
        this.pause();
      }
    }
  }

  onUpstreamData(up: Upstream, d: Buffer): void {
    if (this.phase === Phase.Tunnel) {
      if (!this.sock.write(d)) up.sock.pause();
      return;
    }
    if (this.resLeft === 0 && !this.resChunks && !this.resUntilClose) {
      this.onResponseHead(up, d);
      return;
    }
    this.forwardResponse(up, d, 0);
  }

  private onResponseHead(up: Upstream, d: Buffer): void {
    this.resStarted = true;
    const buf = this.resHead ? Buffer.concat([this.resHead, d]) : d;
    const idx = buf.indexOf(HEAD_END);
    if (idx < 0) {
      if (buf.length > MAX_HEAD_BYTES) this.badGateway('the app sent a response head larger than 64 KiB');
      else this.resHead = buf;
      return;
    }
    this.resHead = null;
    const end = idx + 4;
    const res = parseResponseHead(buf, end);
    if (!res) {
      this.badGateway('the app sent a malformed HTTP response');
      return;
    }
    const route = this.route!;
    const added = route.pristine ? '' : `Fly-Request-Id: ${this.ctx.requestId()}\r\n${VIA}`;
    const out = buf.toString('latin1', 0, idx + 2) + added + '\r\n';
    if (res.status < 200 && res.status !== 101) {
      // 100 Continue / 103 Early Hints: pass on and wait for the final response.
      this.sock.write(out, 'latin1');
      if (end < buf.length) this.onResponseHead(up, buf.subarray(end));
      return;
    }
    this.resStatus = res.status;
    if (res.status === 101 && this.req!.upgrade) {
      this.sock.write(out, 'latin1');
      this.phase = Phase.Tunnel;
      if (end < buf.length) this.sock.write(buf.subarray(end));
      const pending = this.buf;
      this.buf = null;
      if (pending) up.sock.write(pending);
      up.sock.on('drain', () => this.resume());
      this.resume();
      return;
    }
    if (res.close || res.minor === 0) {
      this.resReusable = false;
      this.closeAfter = true;
    }
    const method = this.req!.method;
    const sock = this.sock;
    sock.cork();
    sock.write(out, 'latin1');
    if (method === 'HEAD' || res.status === 204 || res.status === 304) {
      sock.uncork();
      this.endResponse(up, end < buf.length);
      return;
    }
    if (res.chunked) this.resChunks = new ChunkedScanner();
    else if (res.contentLength >= 0) this.resLeft = res.contentLength;
    else {
      this.resUntilClose = true;
      this.resReusable = false;
      this.closeAfter = true;
    }
    if (res.contentLength === 0 && !res.chunked) {
      sock.uncork();
      this.endResponse(up, end < buf.length);
      return;
    }
    this.forwardResponse(up, buf, end);
    sock.uncork();
  }

  private forwardResponse(up: Upstream, d: Buffer, start: number): void {
    let end = d.length;
    let done = false;
    if (this.resChunks) {
      let e: number;
      try {
        e = this.resChunks.scan(d, start, d.length);
      } catch {
        this.sock.destroy();
        this.abortUpstream();
        return;
      }
      if (e >= 0) {
        end = e;
        done = true;
      }
    } else if (!this.resUntilClose) {
      const n = Math.min(this.resLeft, d.length - start);
      this.resLeft -= n;
      end = start + n;
      done = this.resLeft === 0;
    }
    if (end > start && !this.sock.write(start === 0 && end === d.length ? d : d.subarray(start, end))) up.sock.pause();
    if (done) this.endResponse(up, end < d.length);
  }

  /** The response is complete: hand the upstream back, count the request out, go on. */
  private endResponse(up: Upstream, extra: boolean): void {
    this.resChunks = null;
    this.resLeft = 0;
    this.resUntilClose = false;
    this.up = null;
    const reusable = this.resReusable && !extra && this.phase === Phase.Wait;
    if (reusable) this.ctx.pool.release(up);
    else up.destroy();
    if (this.phase === Phase.Body) this.closeAfter = true; // answered before the body finished
    this.finishRequest();
    if (this.closeAfter) {
      this.phase = Phase.Closed;
      this.sock.end();
      return;
    }
    this.phase = Phase.Head;
    this.req = null;
    if (this.buf) this.nextRequest();
    if (this.phase === Phase.Head) this.resume();
  }

  private finishRequest(): void {
    const b = this.backend;
    if (!b) return;
    this.backend = null;
    this.ctx.hooks.onRequestEnd?.(this.route!, b, this.resStatus);
    if (this.counted) {
      this.counted = false;
      this.ctx.dropLoad(b, this.route!);
    }
  }

  onUpstreamClose(up: Upstream): void {
    if (this.up !== up) return;
    this.up = null;
    if (this.phase === Phase.Tunnel || this.phase === Phase.Closed) {
      this.sock.end();
      this.finishRequest();
      return;
    }
    if (this.resUntilClose) {
      this.closeAfter = true;
      this.endResponse(up, false);
      return;
    }
    if (!this.resStarted && this.replay && up.uses > 0 && this.phase === Phase.Wait && this.backend && up.uses > 1 && !this.retried) {
      // A kept-alive connection (uses > 1: it served an earlier request) the app closed just as
      // we reused it: send once more on a fresh one, once.
      const fresh = this.ctx.pool.acquire(this.backend.address, this.backend.port, true);
      fresh.uses = 1;
      this.retried = true;
      const replay = this.replay;
      this.replay = null;
      this.up = fresh;
      fresh.owner = this;
      fresh.sock.cork();
      fresh.sock.write(this.sentHead, 'latin1');
      if (replay.length > 0) fresh.sock.write(replay);
      fresh.sock.uncork();
      return;
    }
    if (this.resStarted) {
      this.finishRequest();
      this.phase = Phase.Closed;
      this.sock.destroy();
      return;
    }
    this.badGateway(`the app's machine ${this.backend?.machineId ?? ''} closed the connection without answering`);
  }

  private badGateway(reason: string): void {
    this.abortUpstream();
    this.finishRequest();
    this.reject(502, reason);
  }

  private abortUpstream(): void {
    const up = this.up;
    this.up = null;
    up?.destroy();
  }

  /** Answers the current request from the proxy itself. */
  private respond(status: number, body: string, extra: string): void {
    this.finishRequest();
    const pristine = this.route?.pristine === true;
    const len = Buffer.byteLength(body);
    const closing = this.closeAfter || status >= 400;
    const head =
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      extra +
      (len > 0 ? 'Content-Type: text/plain; charset=utf-8\r\n' : '') +
      `Content-Length: ${len}\r\n` +
      (pristine ? '' : `Fly-Request-Id: ${this.ctx.requestId()}\r\n${VIA}`) +
      (closing ? 'Connection: close\r\n' : '') +
      '\r\n';
    this.phase = Phase.Closed;
    this.sock.end(head + body);
  }

  private onClientClose(): void {
    const wasQueued = this.phase === Phase.Queued;
    this.phase = Phase.Closed;
    if (wasQueued && this.route) this.ctx.queues.remove(routeKey(this.route), this);
    this.abortUpstream();
    this.finishRequest();
    if (this.pinned) {
      this.ctx.dropLoad(this.pinned, this.pinnedRoute!);
      this.pinned = null;
    }
  }
}
