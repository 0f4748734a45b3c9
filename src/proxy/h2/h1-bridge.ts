/**
 * One HTTP/2 stream served by the proxy's HTTP/1.1 request path. The stream is presented to
 * that path as a virtual client connection (`StreamConnection`, a Duplex with the real client's
 * addresses) carrying one HTTP/1.1 request; the HTTP/1.1 response that comes back is turned
 * into an HTTP/2 response. So routing, balancing, queueing, Fly's headers, autostart and
 * `fly-replay` behave for h2 clients exactly as for HTTP/1.1 ones, with no second copy.
 */
import { Duplex } from 'node:stream';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { constants } from 'node:http2';

/** Request headers never forwarded from HTTP/2 to HTTP/1.1 (connection-specific, RFC 9113 §8.2.2). */
const SKIP_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'http2-settings', 'content-length']);
/** Response headers HTTP/2 forbids or that describe HTTP/1.1 framing. */
const SKIP_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/** Fields that cannot be trailers (RFC 9110 §6.5.1: framing, routing, ...) or HTTP/2 forbids. */
const SKIP_TRAILER = new Set([...SKIP_RESPONSE, 'content-length', 'host', 'te', 'trailer']);

function flat(v: string | string[] | undefined, sep: string): string | undefined {
  return Array.isArray(v) ? v.join(sep) : v;
}

/**
 * The HTTP/1.1 request head for an HTTP/2 request (`chunked` when the body length is unknown).
 * Header values with CR, LF or NUL are dropped (nghttp2 refuses them already; this is a second fence).
 */
export function h1RequestHead(headers: IncomingHttpHeaders, bodyless: boolean): { head: string; chunked: boolean } {
  const method = String(headers[':method'] ?? 'GET');
  const path = String(headers[':path'] ?? '/');
  const host = String(headers[':authority'] ?? headers.host ?? '');
  let out = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    // `te: trailers` is the one TE value HTTP/2 allows; gRPC sends it and h2c backends may check it.
    if (name === 'te' && value === 'trailers') {
      out += 'TE: trailers\r\n';
      continue;
    }
    if (name.startsWith(':') || SKIP_REQUEST.has(name) || value === undefined) continue;
    const v = flat(value, name === 'cookie' ? '; ' : ', ');
    if (v === undefined || /[\r\n\0]/.test(v)) continue;
    out += `${name}: ${v}\r\n`;
  }
  const length = headers['content-length'];
  let chunked = false;
  if (length !== undefined && /^\d+$/.test(String(length))) out += `Content-Length: ${String(length)}\r\n`;
  else if (!bodyless) {
    out += 'Transfer-Encoding: chunked\r\n';
    chunked = true;
  }
  return { head: `${out}\r\n`, chunked };
}

interface ParsedHead {
  status: number;
  headers: OutgoingHttpHeaders;
  length: number;
  chunked: boolean;
}

/** Parses an HTTP/1.1 response head (text up to, not including, the empty line). */
export function parseH1ResponseHead(text: string): ParsedHead | null {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) return null;
  const headers: OutgoingHttpHeaders = {};
  let length = -1;
  let chunked = false;
  let last: string | null = null;
  for (const line of lines.slice(1)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      headers[last] = `${String(headers[last])} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    last = null;
    if (name === 'content-length') length = Number(value);
    if (name === 'transfer-encoding') chunked = value.toLowerCase().includes('chunked');
    if (SKIP_RESPONSE.has(name)) continue;
    last = name;
    const prev = headers[name];
    if (prev === undefined) headers[name] = value;
    else if (name === 'set-cookie') headers[name] = [...(Array.isArray(prev) ? prev : [String(prev)]), value];
    else headers[name] = `${String(prev)}, ${value}`;
  }
  if (chunked) delete headers['content-length'];
  return { status: Number(m[1]), headers, length: Number.isSafeInteger(length) && length >= 0 ? length : -1, chunked };
}

const CRLF = Buffer.from('\r\n', 'latin1');

const enum R {
  Head,
  Body,
  Chunks,
  UntilEnd,
  Done,
}

/**
 * The virtual client connection of one stream. Readable side: the HTTP/1.1 request (head, then
 * the stream's body, chunk-encoded when its length is unknown). Writable side: the HTTP/1.1
 * response, decoded into `stream.respond()` and DATA frames.
 */
export class StreamConnection extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly encrypted = true;
  private state = R.Head;
  private buf: Buffer = Buffer.alloc(0);
  private left = 0;
  private chunkLeft = -1;
  /** Trailer fields of a chunked response, sent as HTTP/2 trailers (gRPC's `grpc-status`). */
  private trailers: OutgoingHttpHeaders = {};
  private readonly headRequest: boolean;

  constructor(
    private readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    client: { remoteAddress?: string | undefined; remotePort?: number | undefined; localAddress?: string | undefined; localPort?: number | undefined },
  ) {
    super({ allowHalfOpen: true });
    this.remoteAddress = client.remoteAddress;
    this.remotePort = client.remotePort;
    this.localAddress = client.localAddress;
    this.localPort = client.localPort;
    this.headRequest = headers[':method'] === 'HEAD';
    const bodyless = stream.endAfterHeaders;
    const { head, chunked } = h1RequestHead(headers, bodyless);
    this.push(Buffer.from(head, 'latin1'));
    if (bodyless) return;
    stream.on('data', (d: Buffer) => {
      if (d.length === 0) return;
      // One push per chunk: push() returning false asks to pause, it still took the bytes.
      const ok = this.push(chunked ? Buffer.concat([Buffer.from(`${d.length.toString(16)}\r\n`, 'latin1'), d, CRLF]) : d);
      if (!ok) stream.pause();
    });
    stream.on('end', () => {
      if (chunked) this.push('0\r\n\r\n');
    });
    stream.on('close', () => {
      if (this.state !== R.Done) this.destroy();
    });
  }

  /** Socket methods the HTTP/1.1 path calls; meaningless on a stream. */
  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  override _read(): void {
    this.stream.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    try {
      this.onResponseBytes(chunk);
    } catch (err) {
      this.fail(err as Error);
    }
    if (this.stream.writableNeedDrain) this.stream.once('drain', () => cb());
    else cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    // The HTTP/1.1 side ended the connection: a response read until close ends here.
    if (this.state === R.UntilEnd) this.finish();
    else if (this.state !== R.Done) this.fail(new Error('the response ended early'));
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.state !== R.Done) this.fail(err ?? new Error('the request was aborted'));
    cb(null);
  }

  private onResponseBytes(d: Buffer): void {
    this.buf = this.buf.length > 0 ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length > 0 && this.state !== R.Done) {
      if (this.state === R.Head) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = parseH1ResponseHead(this.buf.toString('latin1', 0, end));
        this.buf = this.buf.subarray(end + 4);
        if (!head) throw new Error('malformed HTTP/1.1 response');
        if (head.status < 200) {
          // 100 Continue is HTTP/2's own business; 103 Early Hints goes on as informational headers.
          if (head.status === 103) this.stream.additionalHeaders({ ...head.headers, ':status': 103 });
          continue;
        }
        const bodyless = this.headRequest || head.status === 204 || head.status === 304 || head.length === 0;
        // A chunked response may end in trailers: the stream then waits for them after its
        // last DATA frame (none found: an empty end, which clients treat as no trailers).
        const waitForTrailers = !bodyless && head.chunked;
        if (waitForTrailers) this.stream.once('wantTrailers', () => this.stream.sendTrailers(this.trailers));
        this.stream.respond({ ...head.headers, ':status': head.status }, { endStream: bodyless, waitForTrailers });
        if (bodyless) {
          this.finish();
          return;
        }
        if (head.chunked) this.state = R.Chunks;
        else if (head.length > 0) {
          this.state = R.Body;
          this.left = head.length;
        } else this.state = R.UntilEnd;
      } else if (this.state === R.Body) {
        const n = Math.min(this.left, this.buf.length);
        this.stream.write(this.buf.subarray(0, n));
        this.left -= n;
        this.buf = this.buf.subarray(n);
        if (this.left === 0) this.finish();
      } else if (this.state === R.UntilEnd) {
        this.stream.write(this.buf);
        this.buf = Buffer.alloc(0);
      } else if (!this.decodeChunks()) return;
    }
  }

  /** Moves decoded chunk data to the stream; false when more bytes are needed. */
  private decodeChunks(): boolean {
    if (this.chunkLeft > 0) {
      const n = Math.min(this.chunkLeft, this.buf.length);
      this.stream.write(this.buf.subarray(0, n));
      this.chunkLeft -= n;
      this.buf = this.buf.subarray(n);
      if (this.chunkLeft > 0) return false;
      this.chunkLeft = -2; // expect the CRLF after the data
    }
    if (this.chunkLeft === -2) {
      if (this.buf.length < 2) return false;
      this.buf = this.buf.subarray(2);
      this.chunkLeft = -1;
    }
    const eol = this.buf.indexOf('\r\n');
    if (eol < 0) return false;
    const size = parseInt(this.buf.toString('latin1', 0, eol).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new Error('malformed chunk size');
    if (size > 0) {
      this.buf = this.buf.subarray(eol + 2);
      this.chunkLeft = size;
      return true;
    }
    // Last chunk: trailer lines up to an empty line.
    const end = this.buf.indexOf('\r\n\r\n', eol);
    const crlf = this.buf.subarray(eol + 2, eol + 4).toString('latin1') === '\r\n';
    if (!crlf && end < 0) return false;
    if (!crlf) {
      for (const line of this.buf.toString('latin1', eol + 2, end).split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        if (colon <= 0 || SKIP_TRAILER.has(name) || name.startsWith(':')) continue;
        const value = line.slice(colon + 1).trim();
        const prev = this.trailers[name];
        this.trailers[name] = prev === undefined ? value : `${String(prev)}, ${value}`;
      }
    }
    this.buf = Buffer.alloc(0);
    this.finish();
    return true;
  }

  /** The whole response went out: end the stream and let the HTTP/1.1 side clean up. */
  private finish(): void {
    this.state = R.Done;
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.end();
    this.push(null);
    setImmediate(() => this.destroy());
  }

  private fail(err: Error): void {
    if (this.state === R.Done) return;
    const started = this.state !== R.Head;
    this.state = R.Done;
    if (this.stream.destroyed || this.stream.closed) return;
    if (!started && !this.stream.headersSent) {
      const body = `hangar-proxy: ${err.message}\n`;
      this.stream.respond({ ':status': 502, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      this.stream.end(body);
    } else this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }
}
