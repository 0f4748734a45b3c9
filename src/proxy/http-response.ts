/**
 * The response side of one proxied HTTP/1.1 request: reads the app's bytes from the upstream
 * connection, adds Fly's response lines (`Fly-Request-Id`, `Via`; reference §1c) after the
 * status line's headers, finds where the response ends (Content-Length, chunked, or close) and
 * passes everything else through untouched.
 *
 * Speed (bench/proxy): the head is never decoded; the head, the added lines and the body bytes
 * that arrived with it go to the client as one Buffer in one `write` (one syscall per response
 * for the common small response), and later body bytes are written as they come. Only a route
 * with `http_options.response.headers` has its final response heads decoded and rewritten.
 */
import type { Socket } from 'node:net';
import { rewriteResponseHead, type CompiledResponseOptions } from '../core/proxy/response-options.js';
import { ChunkedScanner, HEAD_END, MAX_HEAD_BYTES, parseResponseHead } from './http-parse.js';
import type { Upstream, UpstreamOwner } from './pool.js';
import { REPLAY_JSON_MAX_BYTES } from '../core/proxy/replay.js';

/** Coalesce the head and the body bytes that came with it up to this size; beyond, write both. */
const COALESCE_MAX = 64 * 1024;

/** What the response side needs from the session that owns the client connection. */
export interface ResponseOwner {
  readonly client: Socket;
  /** `HEAD` request: the response has no body whatever its headers say. */
  readonly headRequest: boolean;
  /** The request asked for an upgrade (a `101` then switches to a tunnel). */
  readonly upgradeRequest: boolean;
  /** Length of the lines added to every response head (`Fly-Request-Id`, `Via`); 0 when pristine. */
  responseLinesLength(): number;
  /** Writes those lines at `out[o]`; returns their length. */
  writeResponseLines(out: Buffer, o: number): number;
  /** `http_options.response.headers` of the route, or `null` when they change nothing. */
  responseRewrite(): CompiledResponseOptions | null;
  /**
   * The response ended at a message boundary; `reusable` when the upstream may be pooled,
   * `closeClient` when the client connection must close after it.
   */
  responseDone(up: Upstream, reusable: boolean, closeClient: boolean, status: number, bytes: number): void;
  /** A `101` to an upgrade: splice from now on; `rest` = bytes after the head. */
  tunnel(up: Upstream, rest: Buffer | null): void;
  /** The upstream closed mid-way (`started`: bytes were already sent to the client). */
  upstreamLost(up: Upstream, started: boolean, status: number, bytes: number): void;
  /** The app answered something that is not HTTP/1.x. */
  badResponse(reason: string): void;
  /** A response carrying `fly-replay` is read, not forwarded (false: pass it on as it is). */
  readonly replayable: boolean;
  /**
   * Such a response ended: `head` is its head (through the empty line), `body` its body, or null
   * when longer than the JSON form's limit (src/proxy/replay.ts).
   */
  replayResponse(up: Upstream, reusable: boolean, status: number, head: Buffer, body: Buffer | null): void;
}

/** One response being forwarded. Reset with `begin()` for each request on the connection. */
export class HttpResponse implements UpstreamOwner {
  private started = false;
  private partial: Buffer | null = null;
  private left = 0;
  private chunks: ChunkedScanner | null = null;
  private untilClose = false;
  private reusable = true;
  private closeClient = false;
  private status = 0;
  private bytes = 0;
  private inBody = false;
  /** Set while a `fly-replay` response is read instead of forwarded: its head, its body so far. */
  private replayHead: Buffer | null = null;
  private replayParts: Buffer[] | null = null;
  private replayLen = 0;

  constructor(private readonly owner: ResponseOwner) {}

  /** Resets for a new request. */
  begin(): void {
    this.started = false;
    this.partial = null;
    this.left = 0;
    this.chunks = null;
    this.untilClose = false;
    this.reusable = true;
    this.closeClient = false;
    this.status = 0;
    this.bytes = 0;
    this.inBody = false;
    this.replayHead = null;
  }

  /** Bytes of the response head have arrived (a retry on a fresh connection is still possible when not). */
  get hasStarted(): boolean {
    return this.started;
  }

  onUpstreamData(up: Upstream, d: Buffer): void {
    if (this.inBody) this.body(up, d, 0);
    else this.head(up, d);
  }

  onUpstreamClose(up: Upstream): void {
    if (this.untilClose) {
      this.finish(up, false);
      return;
    }
    this.owner.upstreamLost(up, this.started, this.status, this.bytes);
  }

  private head(up: Upstream, d: Buffer): void {
    this.started = true;
    const buf = this.partial ? Buffer.concat([this.partial, d]) : d;
    const idx = buf.indexOf(HEAD_END);
    if (idx < 0) {
      if (buf.length > MAX_HEAD_BYTES) this.owner.badResponse('the app sent a response head larger than 64 KiB');
      else this.partial = buf === d ? up.keep(d) : buf;
      return;
    }
    this.partial = null;
    const end = idx + 4;
    const res = parseResponseHead(buf, end);
    if (!res) {
      this.owner.badResponse('the app sent a malformed HTTP response');
      return;
    }
    const client = this.owner.client;
    const lines = this.owner.responseLinesLength();
    let headLen = idx + 2;
    if (res.status < 200 && res.status !== 101) {
      // 100 Continue / 103 Early Hints: pass on and wait for the final response.
      this.bytes += this.writeHead(up, client, buf, headLen, lines, buf, end, end);
      if (end < buf.length) this.head(up, buf.subarray(end));
      return;
    }
    let headBuf = buf;
    const rewrite = this.owner.responseRewrite();
    if (rewrite) {
      // Framing headers are not configurable (response-options.ts), so `res` still describes it.
      headBuf = Buffer.from(rewriteResponseHead(buf.toString('latin1', 0, headLen), rewrite), 'latin1');
      headLen = headBuf.length;
    }
    this.status = res.status;
    if (res.status === 101 && this.owner.upgradeRequest) {
      this.bytes += this.writeHead(up, client, headBuf, headLen, lines, buf, end, end);
      this.owner.tunnel(up, end < buf.length ? up.keep(buf.subarray(end)) : null);
      return;
    }
    if (res.close || res.minor === 0) {
      this.reusable = false;
      this.closeClient = true;
    }
    if (res.replay && this.owner.replayable) {
      this.replayHead = up.keep(buf.subarray(0, end));
      this.replayParts = [];
      this.replayLen = 0;
    }
    if (this.owner.headRequest || res.status === 204 || res.status === 304 || (res.contentLength === 0 && !res.chunked)) {
      this.bytes += this.writeHead(up, client, headBuf, headLen, lines, buf, end, end);
      this.finish(up, end < buf.length);
      return;
    }
    let bodyEnd = buf.length;
    let done = false;
    if (res.chunked) {
      this.chunks = new ChunkedScanner();
      const e = this.scanChunks(up, buf, end);
      if (e === -2) return;
      if (e >= 0) {
        bodyEnd = e;
        done = true;
      }
    } else if (res.contentLength >= 0) {
      const n = Math.min(res.contentLength, buf.length - end);
      this.left = res.contentLength - n;
      bodyEnd = end + n;
      done = this.left === 0;
    } else {
      // Delimited by close: the client can only see the end if its connection closes too.
      this.untilClose = true;
      this.reusable = false;
      this.closeClient = true;
    }
    this.inBody = !done;
    const ok = this.writeHead(up, client, headBuf, headLen, lines, buf, end, bodyEnd);
    this.bytes += ok;
    if (done) this.finish(up, bodyEnd < buf.length);
    else if (client.writableNeedDrain) up.sock.pause();
  }

  /**
   * Writes `head[0, headLen)` + the added lines (`lines` bytes) + CRLF + `buf[bodyStart, bodyEnd)`:
   * one Buffer, one write, when small; returns the bytes written.
   */
  private writeHead(up: Upstream, client: Socket, head: Buffer, headLen: number, lines: number, buf: Buffer, bodyStart: number, bodyEnd: number): number {
    if (this.replayHead !== null) {
      this.keepReplayBody(up, buf, bodyStart, bodyEnd);
      return 0;
    }
    const bodyLen = bodyEnd - bodyStart;
    const inline = headLen + lines + 2 + bodyLen <= COALESCE_MAX ? bodyLen : 0;
    const out = Buffer.allocUnsafe(headLen + lines + 2 + inline);
    head.copy(out, 0, 0, headLen);
    let o = headLen;
    if (lines > 0) o += this.owner.writeResponseLines(out, o);
    out[o++] = 13;
    out[o++] = 10;
    if (inline > 0) buf.copy(out, o, bodyStart, bodyEnd);
    if (inline === bodyLen) client.write(out);
    else {
      client.cork();
      client.write(out);
      client.write(up.keep(buf.subarray(bodyStart, bodyEnd)));
      client.uncork();
    }
    return headLen + lines + 2 + bodyLen;
  }

  /** Chunked framing of the response; -2 after giving up on a broken one. */
  private scanChunks(up: Upstream, d: Buffer, start: number): number {
    try {
      return this.chunks!.scan(d, start, d.length);
    } catch {
      // Broken framing from the app: nothing sensible can follow on either connection.
      this.inBody = false;
      up.destroy();
      this.owner.upstreamLost(up, true, this.status, this.bytes);
      return -2;
    }
  }

  private body(up: Upstream, d: Buffer, start: number): void {
    let end = d.length;
    let done = false;
    if (this.chunks) {
      const e = this.scanChunks(up, d, start);
      if (e === -2) return;
      if (e >= 0) {
        end = e;
        done = true;
      }
    } else if (!this.untilClose) {
      const n = Math.min(this.left, d.length - start);
      this.left -= n;
      end = start + n;
      done = this.left === 0;
    }
    if (end > start && this.replayHead !== null) this.keepReplayBody(up, d, start, end);
    else if (end > start) {
      this.bytes += end - start;
      // A write may complete after this call returns: the bytes must outlive the read buffer.
      if (!this.owner.client.write(up.keep(start === 0 && end === d.length ? d : d.subarray(start, end)))) up.sock.pause();
    }
    if (done) this.finish(up, end < d.length);
  }

  private finish(up: Upstream, extra: boolean): void {
    this.inBody = false;
    this.chunks = null;
    this.left = 0;
    const reusable = this.reusable && !extra && !this.untilClose;
    this.untilClose = false;
    const replayHead = this.replayHead;
    if (replayHead !== null) {
      this.replayHead = null;
      const parts = this.replayParts;
      this.replayParts = null;
      this.owner.replayResponse(up, reusable, this.status, replayHead, parts ? Buffer.concat(parts, this.replayLen) : null);
      return;
    }
    this.owner.responseDone(up, reusable, this.closeClient, this.status, this.bytes);
  }

  /** The body of a `fly-replay` response: kept for the JSON form up to its limit, else dropped. */
  private keepReplayBody(up: Upstream, buf: Buffer, start: number, end: number): void {
    if (this.replayParts === null) return;
    this.replayLen += end - start;
    if (this.replayLen > REPLAY_JSON_MAX_BYTES) this.replayParts = null;
    else this.replayParts.push(up.keep(buf.subarray(start, end)));
  }
}
