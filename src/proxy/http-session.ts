/**
 * One client connection on an HTTP listener: a byte-forwarding HTTP/1.1 state machine (request
 * side; the response side is http-response.ts).
 *
 * Per request: scan the head (http-parse.ts), route by Host (or by port), pick a machine
 * (core/proxy/balance.ts), hold the request while a machine autostarts or a slot frees up
 * (reference §1c), write the head with Fly's lines added plus the body bytes that came with it
 * as one Buffer on a pooled upstream connection, then pass further body bytes through while a
 * framer finds where the request ends. Requests are handled one at a time; pipelined ones wait
 * in the buffer. After a `101`, both directions are spliced.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pick, type PickRequest, type PickResult } from '../core/proxy/balance.js';
import { connectionHeaderBlock, forwardedForLine, forwardedPortLine, parseRegionList } from '../core/proxy/headers.js';
import { regionRouting } from '../core/proxy/region.js';
import { routeForHost, routeForPort } from '../core/proxy/table.js';
import { matchStatic } from '../core/proxy/statics.js';
import { headerRewrite, type CompiledResponseOptions } from '../core/proxy/response-options.js';
import type { Backend, ListenerSpec, Route } from '../core/proxy/types.js';
import { routeKey, type ClientInfo, type ProxyContext } from './context.js';
import { ChunkedScanner, forwardedHead, HEAD_END, HeadError, MAX_HEAD_BYTES, parseRequestHead, requestTarget, type RequestHead } from './http-parse.js';
import { HttpResponse, type ResponseOwner } from './http-response.js';
import { proxyAnswer } from './http-answer.js';
import { writeUpstreamHead } from './http-request-write.js';
import { needsOwnUpstream, OwnUpstreams } from './own-upstreams.js';
import type { Upstream, UpstreamOwner } from './pool.js';
import type { Waiter } from './queue.js';
import { REPLAY_MAX_BYTES, type ReplayFailure } from '../core/proxy/replay.js';
import { beginReplay, fallbackOf, type Replay } from './replay.js';
import type { StaticOutcome } from './statics.js';

const enum Phase {
  Head,
  Queued,
  Body,
  Wait,
  Tunnel,
  Closed,
  /** A `[[statics]]` file is being looked up or sent (statics.ts). */
  Static,
}

const NO_ROUTING: PickRequest = {};
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** How long a refused connection to a started machine is retried before a 502 (its app may be starting). */
const CONNECT_RETRY_MS = 3000;
/** A complete request up to this size is kept for one resend (stale keep-alive, machine still starting). */
const REPLAY_MAX = 16 * 1024;

export class HttpSession implements UpstreamOwner, Waiter, ResponseOwner {
  private phase = Phase.Head;
  private buf: Buffer | null = null;
  private readonly clientIp: string;
  private readonly proto: 'http' | 'https';
  private readonly connBlock: string;
  /** The added lines of a request with no X-Forwarded-For/-Port of its own (the common case). */
  private readonly plainLines: string;
  /** `plainLines` encoded once per connection: copied, not encoded, per request. */
  private readonly plainBuf: Buffer;
  private readonly res: HttpResponse;
  // current request
  private req: RequestHead | null = null;
  private headBuf: Buffer | null = null;
  private route: Route | null = null;
  private backend: Backend | null = null;
  private reqBodyLeft = 0;
  private reqChunks: ChunkedScanner | null = null;
  /** What was written upstream for the current request, when complete and small: for a resend. */
  private replay: Buffer | null = null;
  private replayIdempotent = false;
  private retried = false;
  /** The request waited for an autostart: a refused connection means "not listening yet", retried. */
  private held = false;
  private heldSince = 0;
  private connectTries = 0;
  private up: Upstream | null = null;
  private counted = false;
  /** `concurrency.type = "connections"`: the machine this connection is bound to (counted once). */
  private pinned: Backend | null = null;
  private pinnedRoute: Route | null = null;
  private closeAfter = false;
  private paused = false;
  private t0 = 0;
  private bytesIn = 0;
  /**
   * The request as the client sent it, in case the app answers `fly-replay` (replay.ts): the
   * buffer its head was parsed from and its body pieces, referenced, not copied; `keptSize` -1
   * once it passed 1 MiB (then nothing is kept).
   */
  private keptHead: Buffer | null = null;
  private keptBody: Buffer[] | null = null;
  private keptSize = 0;
  /** The current request's replay or fallback, while one is under way. */
  private rp: Replay | null = null;
  /** The app asked for a replay before the request body was all in: replayed once it is. */
  private rpWaitsForBody = false;
  /** Connections of this client's own (`proxy_proto`, `h2_backend` routes); made on first need. */
  private own: OwnUpstreams | null = null;
  /** The idle timeout the client socket runs with (the proxy's, then the route's `idle_timeout`). */
  private idleMs: number;

  constructor(readonly client: Socket, private readonly ctx: ProxyContext, private readonly spec: ListenerSpec, info?: ClientInfo) {
    client.setNoDelay(true);
    this.clientIp = info?.clientIp ?? (client.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.proto = info?.proto ?? spec.proto;
    this.connBlock = connectionHeaderBlock({ clientIp: this.clientIp, publicPort: spec.publicPort, proto: this.proto, region: ctx.region });
    this.plainLines = this.connBlock + forwardedForLine(undefined, this.clientIp) + forwardedPortLine(spec.publicPort);
    this.plainBuf = Buffer.from(this.plainLines, 'latin1');
    this.res = new HttpResponse(this);
    ctx.metrics.connectionOpened(spec.publicPort);
    client.on('data', (d: Buffer) => this.onClientData(d));
    client.on('error', () => undefined);
    client.on('close', () => this.onClientClose());
    client.on('drain', () => this.up?.sock.resume());
    this.idleMs = ctx.idleTimeoutMs;
    // Node refreshes a socket's timeout on every read and write: "idle" is no bytes either way.
    client.setTimeout(this.idleMs, () => this.client.destroy());
  }

  get headRequest(): boolean {
    return this.req?.method === 'HEAD';
  }

  get upgradeRequest(): boolean {
    return this.req?.upgrade === true;
  }

  /** pause()/resume() cost an epoll_ctl each: only when the state really changes. */
  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.client.pause();
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.client.resume();
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
    this.t0 = performance.now();
    this.bytesIn = idx + 4;
    this.headBuf = buf;
    this.buf = idx + 4 < buf.length ? buf.subarray(idx + 4) : null;
    this.req = head;
    this.held = false;
    this.connectTries = 0;
    this.closeAfter = head.close;
    const table = this.ctx.table();
    const route = this.spec.kind === 'http-host' ? routeForHost(table, this.spec.publicPort, head.host) : routeForPort(table, this.spec.publicPort);
    if (!route) {
      this.reject(404, head.host ? `no app is configured for host '${head.host}'` : 'this request has no Host header, so no app could be chosen');
      return;
    }
    this.route = route;
    const idle = route.options.idleTimeoutMs ?? this.ctx.idleTimeoutMs;
    if (idle !== this.idleMs) this.client.setTimeout((this.idleMs = idle));
    if (route.forceHttps && this.proto === 'http') {
      const host = head.host.replace(/:\d+$/, '');
      this.respond(301, '', `Location: https://${host}${requestTarget(buf, head)}\r\n`);
      return;
    }
    if (route.statics && this.ctx.statics && this.tryStatic(route, head, buf, idx + 4)) return;
    this.dispatch();
  }

  /**
   * `[[statics]]`: a GET/HEAD under a static prefix is answered from the image (statics.ts)
   * before any machine is picked, so it never wakes one; a file the image lacks goes on to the
   * app. True when the proxy took the request.
   */
  private tryStatic(route: Route, head: RequestHead, buf: Buffer, headEnd: number): boolean {
    if ((head.method !== 'GET' && head.method !== 'HEAD') || head.contentLength > 0 || head.chunked || head.upgrade) return false;
    const match = matchStatic(route.statics!, requestTarget(buf, head));
    if (match.kind === 'none') return false;
    if (match.kind === 'refused') {
      this.reject(400, match.reason);
      return true;
    }
    this.phase = Phase.Static;
    this.pause();
    const lines = route.pristine ? '' : this.ctx.responseLines();
    void this.ctx
      .statics!.serve({ client: this.client, statics: route.statics!, match, method: head.method, head: buf.subarray(0, headEnd), lines, rewrite: headerRewrite(route.options.response), close: this.closeAfter, keepAlive10: head.minor === 0 && !head.close })
      .then((r) => this.staticDone(route, r));
    return true;
  }

  /** A static response went out (or the file is not there: on to the app). */
  private staticDone(route: Route, r: StaticOutcome): void {
    if (r.kind === 'served') this.ctx.metrics.staticServed(route, r.status, performance.now() - this.t0, r.bytes);
    if (this.phase !== Phase.Static) return; // the client went away meanwhile
    if (r.kind === 'miss') {
      this.phase = Phase.Head;
      this.dispatch();
      return;
    }
    this.headBuf = null;
    if (r.closed) this.closeAfter = true;
    this.nextOrClose();
  }

  /** A request is answered: close if it asked to, else go on with the next (maybe pipelined) one. */
  private nextOrClose(): void {
    if (this.closeAfter) {
      this.phase = Phase.Closed;
      this.client.end();
      return;
    }
    this.phase = Phase.Head;
    this.req = null;
    if (this.buf) this.nextRequest();
    if (this.phase === Phase.Head) this.resume();
  }

  private pickFor(route: Route, head: RequestHead): PickResult {
    if (this.rp) return pick(route, this.rp.pick, this.ctx.load, this.ctx.balance);
    const routing = head.forceInstance !== undefined || head.preferInstance !== undefined || head.forceRegion !== undefined || head.preferRegion !== undefined ? this.routing(head) : NO_ROUTING;
    return pick(route, routing, this.ctx.load, this.ctx.balance);
  }

  /** Chooses a machine (or holds/rejects) and sends the request. */
  private dispatch(): void {
    const route = this.route!;
    const head = this.req!;
    let backend: Backend;
    let preferredUnavailable = false;
    if (this.pinned && this.pinnedRoute === route && head.forceInstance === undefined && head.preferInstance === undefined && this.rp === null) {
      backend = this.pinned;
    } else {
      const r = this.pickFor(route, head);
      if (r.kind === 'queue' || r.kind === 'autostart') {
        this.hold(route, r.kind === 'autostart');
        return;
      }
      if (r.kind === 'reject') {
        if (this.rp) this.replayFailed('no_candidate', r.reason);
        else this.reject(r.status, r.reason);
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
    let lines: string;
    if (head.forwardedFor === undefined && !head.hasForwardedPort && !preferredUnavailable) lines = this.plainLines;
    else {
      lines = this.connBlock + forwardedForLine(head.forwardedFor, this.clientIp);
      if (!head.hasForwardedPort) lines += forwardedPortLine(this.spec.publicPort);
      if (preferredUnavailable) lines += 'Fly-Preferred-Instance-Unavailable: true\r\n';
    }
    const up = this.upstreamFor(route, backend, false);
    if (this.rp) this.sendReplay(up, lines, this.rp);
    else this.send(up, lines);
  }

  /** A pooled connection, or for `proxy_proto`/`h2_backend` routes one of this client's own. */
  private upstreamFor(route: Route, backend: Backend, fresh: boolean): Upstream {
    if (!needsOwnUpstream(route, this.ctx)) return this.ctx.pool.acquireFor(backend, fresh);
    this.own ??= new OwnUpstreams(this.ctx, { ip: this.clientIp, port: this.client.remotePort ?? 0, localIp: (this.client.localAddress ?? '').replace(/^::ffff:/, ''), localPort: this.client.localPort ?? 0 });
    return this.own.acquire(route, backend, fresh);
  }

  /** Waits in the route's queue: for a slot below a hard limit, or for an autostarted machine. */
  private hold(route: Route, autostart: boolean): void {
    this.phase = Phase.Queued;
    this.pause();
    const key = routeKey(route);
    const wait = autostart ? { ms: this.ctx.autostartWaitMs, reason: `waited ${this.ctx.autostartWaitMs} ms for a machine of app '${route.app}' to start` } : undefined;
    if (!this.ctx.queues.enqueue(key, this, wait)) {
      this.reject(503, autostart ? `app '${route.app}' has too many requests waiting for a machine to start` : `every machine of app '${route.app}' is at its hard limit and the queue is full`);
      return;
    }
    if (autostart) this.askStart(route);
  }

  /** Autostart (reference §1c); false after answering 503 when nothing could be started. */
  private askStart(route: Route): boolean {
    if (!this.held) {
      this.held = true;
      this.heldSince = performance.now();
    }
    if (this.ctx.requestStart(route)) return true;
    this.ctx.queues.remove(routeKey(route), this);
    const reason = `no machine of app '${route.app}' is running and none could be started`;
    if (this.rp) this.replayFailed('no_candidate', reason);
    else this.reject(503, reason);
    return false;
  }

  private routing(head: RequestHead): PickRequest {
    return {
      forceInstance: head.forceInstance,
      preferInstance: head.preferInstance,
      ...(head.preferRegion !== undefined ? regionRouting(parseRegionList(head.preferRegion), false) : {}),
      ...(head.forceRegion !== undefined ? regionRouting(parseRegionList(head.forceRegion), true) : {}),
    };
  }

  /** Waiter: a slot freed up, or the table changed (a machine started). */
  retry(): boolean {
    if (this.phase !== Phase.Queued) return true;
    const route = this.ctx.currentRoute(this.route!.app, this.route!.publicPort);
    if (!route) {
      this.reject(503, `app '${this.route!.app}' has no machine to serve it any more`);
      return true;
    }
    this.route = route;
    const r = this.pickFor(route, this.req!);
    if (r.kind === 'queue') return false;
    if (r.kind === 'autostart') return !this.askStart(route);
    this.phase = Phase.Head;
    this.dispatch();
    return true;
  }

  /** Waiter: gave up waiting (queue timeout or shutdown). */
  fail(reason: string): void {
    if (this.rp) this.replayFailed('timeout', reason);
    else this.reject(503, reason);
  }

  private reject(status: number, reason: string): void {
    if (this.phase === Phase.Closed) return;
    this.closeAfter = true;
    this.respond(status, `hangar-proxy: ${reason}\n`, '');
  }

  private send(up: Upstream, lines: string): void {
    this.up = up;
    up.owner = this.res;
    up.uses += 1;
    this.retried = false;
    this.res.begin();
    const head = this.req!;
    const buf = this.buf;
    let bodyEnd = 0;
    let complete = true;
    if (head.chunked) {
      this.reqChunks = new ChunkedScanner();
      const end = buf ? this.scanReq(buf) : -1;
      if (end === -2) return;
      complete = end >= 0;
      bodyEnd = complete ? end : (buf?.length ?? 0);
    } else if (head.contentLength > 0) {
      const have = buf?.length ?? 0;
      bodyEnd = Math.min(have, head.contentLength);
      this.reqBodyLeft = head.contentLength - bodyEnd;
      complete = this.reqBodyLeft === 0;
    }
    this.bytesIn += bodyEnd;
    const added = lines === this.plainLines ? this.plainBuf : lines;
    const { out, inline } = writeUpstreamHead(up.sock, head, this.headBuf!, added, buf, bodyEnd);
    this.replay = complete && inline && out.length <= REPLAY_MAX ? out : null;
    this.replayIdempotent = IDEMPOTENT.has(head.method);
    this.keptHead = this.headBuf;
    this.keptBody = null;
    this.keptSize = head.forwardLength;
    if (bodyEnd > 0) this.keep(buf!.subarray(0, bodyEnd));
    this.headBuf = null;
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
  private scanReq(buf: Buffer): number {
    try {
      return this.reqChunks!.scan(buf, 0, buf.length);
    } catch (err) {
      this.abortUpstream();
      this.reject(400, (err as Error).message);
      return -2;
    }
  }

  private forwardBody(d: Buffer): void {
    let end: number;
    if (this.reqChunks) {
      end = this.scanReq(d);
      if (end === -2) return;
    } else {
      end = Math.min(d.length, this.reqBodyLeft);
      this.reqBodyLeft -= end;
      if (this.reqBodyLeft > 0) end = -1;
    }
    const up = this.up;
    if (!up && !this.rpWaitsForBody) return;
    const piece = end < 0 || end === d.length ? d : d.subarray(0, end);
    this.bytesIn += piece.length;
    if (this.keptSize >= 0) this.keep(piece);
    if (up && !up.sock.write(piece)) {
      this.pause();
      up.sock.once('drain', () => this.phase !== Phase.Closed && this.resume());
    }
    if (end >= 0) {
      this.phase = Phase.Wait;
      if (end < d.length) {
        this.buf = d.subarray(end);
        this.pause();
      }
      if (this.rpWaitsForBody) {
        this.rpWaitsForBody = false;
        this.replayTo(this.rp!);
      }
    }
  }

  /** Keeps a piece of the request for a replay, up to 1 MiB in all (reference §1c). */
  private keep(piece: Buffer): void {
    this.keptSize += piece.length;
    if (this.keptSize > REPLAY_MAX_BYTES) {
      this.keptSize = -1;
      this.keptBody = null;
    } else (this.keptBody ??= []).push(piece);
  }

  /** ResponseOwner: `Fly-Request-Id` and `Via` unless the service is pristine. */
  responseLinesLength(): number {
    return this.route!.pristine ? 0 : this.ctx.responseLinesLength;
  }

  writeResponseLines(out: Buffer, o: number): number {
    return this.ctx.writeResponseLines(out, o);
  }

  /** ResponseOwner: the route's `http_options.response.headers` (null: today's no-decode path). */
  responseRewrite(): CompiledResponseOptions | null {
    return headerRewrite(this.route!.options.response);
  }

  /** ResponseOwner: the response is complete: hand the upstream back, count the request out, go on. */
  responseDone(up: Upstream, reusable: boolean, closeClient: boolean, status: number, bytes: number): void {
    this.up = null;
    this.endReplay();
    if (!reusable || this.phase !== Phase.Wait) up.destroy();
    else if (!this.own?.release(up)) this.ctx.pool.release(up);
    if (this.phase === Phase.Body || closeClient) this.closeAfter = true; // answered before the body finished
    this.finishRequest(status, bytes);
    this.nextOrClose();
  }

  /** ResponseOwner: a `101`: from now on both directions are spliced. */
  tunnel(up: Upstream, rest: Buffer | null): void {
    this.phase = Phase.Tunnel;
    this.endReplay();
    up.owner = this;
    if (rest) this.client.write(rest);
    const pending = this.buf;
    this.buf = null;
    if (pending) up.sock.write(pending);
    up.sock.on('drain', () => this.resume());
    this.resume();
  }

  /** Tunnel: bytes from the app. */
  onUpstreamData(up: Upstream, d: Buffer): void {
    if (!this.client.write(up.keep(d))) up.sock.pause();
  }

  /** Tunnel: the app closed. */
  onUpstreamClose(up: Upstream): void {
    if (this.up !== up) return;
    this.up = null;
    this.client.end();
    this.finishRequest(101, 0);
  }

  private finishRequest(status: number, bytesOut: number): void {
    const b = this.backend;
    if (!b) return;
    this.backend = null;
    const route = this.route!;
    this.ctx.hooks.onRequestEnd?.(route, b, status);
    this.ctx.metrics.request(route, b, status, performance.now() - this.t0, this.bytesIn, bytesOut);
    if (this.counted) {
      this.counted = false;
      this.ctx.dropLoad(b, route);
    }
  }

  /** ResponseOwner: the upstream closed before the response ended. */
  upstreamLost(up: Upstream, started: boolean, status: number, bytes: number): void {
    if (this.up !== up) return;
    this.up = null;
    if (this.phase === Phase.Closed) {
      this.finishRequest(status, bytes);
      return;
    }
    const b = this.backend;
    const replay = this.replay;
    if (!started && replay && b && this.phase === Phase.Wait) {
      if (!up.connected && performance.now() - (this.held ? this.heldSince : this.t0) < (this.held ? this.ctx.autostartWaitMs : CONNECT_RETRY_MS)) {
        // Refused: nothing reached the app, so any request may go again. The machine is started
        // but its app is not listening yet (just autostarted, started by the API a moment ago,
        // restarting): try again shortly, bounded by the autostart wait for a held request and
        // by CONNECT_RETRY_MS otherwise, then answer 502.
        const delay = Math.min(200, 10 * ++this.connectTries);
        setTimeout(() => this.resend(b, replay), delay);
        return;
      }
      if (up.connected && up.uses > 1 && this.replayIdempotent && !this.retried) {
        // A kept-alive connection the app closed just as we reused it: once more on a fresh one.
        this.retried = true;
        this.resend(b, replay);
        return;
      }
    }
    if (started) {
      this.finishRequest(status, bytes);
      this.phase = Phase.Closed;
      this.client.destroy();
      return;
    }
    if (this.rp && this.phase === Phase.Wait) {
      this.replayFailed('retries_exhausted', `machine ${b?.machineId ?? ''} closed the connection without answering`);
      return;
    }
    this.badResponse(`the app's machine ${b?.machineId ?? ''} closed the connection without answering`);
  }

  private resend(b: Backend, replay: Buffer): void {
    if (this.phase !== Phase.Wait || this.backend !== b || this.up !== null) return;
    const fresh = this.upstreamFor(this.route!, b, true);
    fresh.uses = 1;
    this.up = fresh;
    fresh.owner = this.res;
    this.res.begin();
    fresh.sock.write(replay);
  }

  /** ResponseOwner: answers 502 for an app that did not speak HTTP. */
  badResponse(reason: string): void {
    this.abortUpstream();
    this.finishRequest(502, 0);
    this.reject(502, reason);
  }

  /** ResponseOwner: a fallback's `fly-replay` goes to the client (Fly: it "can't be replayed again"). */
  get replayable(): boolean {
    return this.rp === null || this.rp.failure === null;
  }

  /** ResponseOwner: the app answered `fly-replay` (replay.ts); its response was read, not forwarded. */
  replayResponse(up: Upstream, reusable: boolean, status: number, head: Buffer, body: Buffer | null): void {
    this.up = null;
    const bodyDone = this.phase !== Phase.Body;
    if (!reusable || !bodyDone) up.destroy();
    else if (!this.own?.release(up)) this.ctx.pool.release(up);
    const b = this.backend!;
    const route = this.route!;
    const req = this.req!;
    const keptHead = this.keptHead;
    this.finishRequest(status, 0);
    const r = beginReplay({
      head,
      body,
      source: { app: route.app, machineId: b.machineId, region: b.region },
      prev: this.rp,
      requestHead: () => forwardedHead(keptHead!, req),
      tooLarge: this.keptSize < 0 && bodyDone,
    });
    if (r.kind === 'answer') {
      this.reject(r.status, r.reason);
      return;
    }
    this.rp?.stop();
    this.rp = r.replay;
    if (bodyDone) this.replayTo(r.replay);
    else {
      // The app answered before the request body was all in: take the rest, then replay.
      this.rpWaitsForBody = true;
      this.resume();
    }
  }

  /** Dispatches the kept request to a replay's (or fallback's) target. */
  private replayTo(rp: Replay): void {
    if (rp.body === undefined) {
      if (this.keptSize < 0) {
        this.reject(413, `machine ${rp.source.machineId} asked for a fly-replay, but the request is larger than 1 MiB, the most that can be replayed`);
        return;
      }
      const parts = this.keptBody;
      rp.body = parts === null ? null : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    }
    this.rp = rp;
    const route = this.ctx.currentRoute(rp.app, this.spec.publicPort);
    if (!route || route.handler !== 'http') {
      this.replayFailed('no_candidate', `app '${rp.app}' has no HTTP service on public port ${this.spec.publicPort}`);
      return;
    }
    if (route.network !== this.route?.network) {
      // Fly replays to another app only within the organization and network (reference §1c).
      this.replayFailed('no_candidate', `app '${rp.app}' is not in the same organization and network as app '${this.route?.app ?? ''}'`);
      return;
    }
    this.route = route;
    this.held = false;
    this.connectTries = 0;
    rp.arm(() => {
      // Only a replay still waiting for a machine is given up (Fly: requests in flight are not cancelled).
      if (this.rp === rp && (this.phase === Phase.Queued || (this.phase === Phase.Wait && this.up === null))) this.replayFailed('timeout', `no machine took it within ${rp.directive.timeoutMs} ms`);
    });
    this.phase = Phase.Head;
    this.dispatch();
  }

  private sendReplay(up: Upstream, lines: string, rp: Replay): void {
    this.up = up;
    up.owner = this.res;
    up.uses += 1;
    this.retried = false;
    this.res.begin();
    const wire = rp.wire(lines);
    up.sock.write(wire);
    this.replay = wire;
    this.replayIdempotent = IDEMPOTENT.has(this.req!.method);
    this.phase = Phase.Wait;
    if (this.buf) this.pause();
    else this.resume();
  }

  /** A replay found no machine, waited too long or could not connect: its fallback, or an error. */
  private replayFailed(reason: ReplayFailure, message: string): void {
    const rp = this.rp!;
    rp.stop();
    if (this.phase === Phase.Queued) this.ctx.queues.remove(routeKey(this.route!), this);
    this.abortUpstream();
    this.finishRequest(reason === 'timeout' ? 504 : 503, 0);
    const next = fallbackOf(rp, reason);
    if (next) this.replayTo(next);
    else this.reject(reason === 'timeout' ? 504 : 503, `${rp.failure === null ? 'fly-replay' : 'the fly-replay fallback'} to ${rp.describe()} failed: ${message}`);
  }

  private endReplay(): void {
    this.keptHead = null;
    this.keptBody = null;
    this.rpWaitsForBody = false;
    if (this.rp) {
      this.rp.stop();
      this.rp = null;
    }
  }

  private abortUpstream(): void {
    const up = this.up;
    this.up = null;
    up?.destroy();
  }

  /** Answers the current request from the proxy itself. */
  private respond(status: number, body: string, extra: string): void {
    this.endReplay();
    this.finishRequest(status, 0);
    this.ctx.metrics.answered(this.route?.app, status);
    this.phase = Phase.Closed;
    this.client.end(proxyAnswer(status, body, extra, this.route?.pristine === true ? '' : this.ctx.responseLines(), this.closeAfter || status >= 400));
  }

  private onClientClose(): void {
    this.endReplay();
    const wasQueued = this.phase === Phase.Queued;
    this.phase = Phase.Closed;
    this.ctx.metrics.connectionClosed(this.spec.publicPort);
    if (wasQueued && this.route) this.ctx.queues.remove(routeKey(this.route), this);
    this.abortUpstream();
    this.own?.close();
    this.finishRequest(499, 0);
    if (this.pinned) {
      this.ctx.dropLoad(this.pinned, this.pinnedRoute!);
      this.pinned = null;
    }
  }
}
