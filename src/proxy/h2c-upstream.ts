/**
 * `http_options.h2_backend = true` (reference §1c): the proxy speaks h2c (HTTP/2 with prior
 * knowledge, no TLS) to the machine, as gRPC servers need. The HTTP/1.1 session
 * (http-session.ts) stays as it is: it writes the request it framed (head and body bytes) to an
 * `H2cConnection`, a socket-shaped duplex that issues each request as one stream on an h2c
 * session to the machine and gives the response back as HTTP/1.1 bytes for http-response.ts.
 * Response trailers (gRPC's `grpc-status`) travel as chunked trailers, which the HTTP/2 front's
 * bridge (h2/h1-bridge.ts) turns back into HTTP/2 trailers.
 *
 * Sessions are shared per machine address and multiplexed; one that is closing (GOAWAY, idle
 * timeout, error) takes no new streams and the next request opens a new one. A route that also
 * has `proxy_proto` gets a session of its own per client connection, opened with the PROXY
 * header as its first bytes.
 */
import { STATUS_CODES } from 'node:http';
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { ChunkedDecoder } from './chunked-decode.js';
import { HEAD_END, MAX_HEAD_BYTES } from './http-parse.js';

/** Request headers that describe one HTTP/1.1 connection, not the request (RFC 9113 §8.2.2). */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'te', 'expect']);

export interface H2cTarget {
  readonly address: string;
  readonly port: number;
}

function authority(t: H2cTarget): string {
  return t.address.includes(':') ? `[${t.address}]:${t.port}` : `${t.address}:${t.port}`;
}

/** The h2c sessions to machines, shared per address; owned by the `ProxyServer`. */
export class H2cSessions {
  private readonly shared = new Map<string, ClientHttp2Session>();

  /** `idleMs`: a session with no stream activity for this long is closed (its streams finish). */
  constructor(private readonly idleMs = 60_000) {}

  /** A session to `target` that takes new streams: the shared one, or with `preamble` a new private one. */
  session(target: H2cTarget, preamble?: Buffer): ClientHttp2Session {
    const key = authority(target);
    if (!preamble) {
      const s = this.shared.get(key);
      if (s && !s.closed && !s.destroyed) return s;
    }
    const s = h2connect(`http://${key}`, {
      createConnection: () => {
        const sock = netConnect({ host: target.address, port: target.port });
        sock.setNoDelay(true);
        // The PROXY header must be the first bytes on the connection, before the h2 preface.
        if (preamble) sock.write(preamble);
        return sock;
      },
    });
    s.on('error', () => undefined);
    s.setTimeout(this.idleMs, () => s.close());
    if (!preamble) {
      this.shared.set(key, s);
      s.once('close', () => {
        if (this.shared.get(key) === s) this.shared.delete(key);
      });
    }
    return s;
  }

  close(): void {
    for (const s of this.shared.values()) s.destroy();
    this.shared.clear();
  }
}

interface H2Request {
  headers: OutgoingHttpHeaders;
  /** Body bytes to expect: a length, -1 for chunked, 0 for none. */
  body: number;
  head: boolean;
  expectContinue: boolean;
}

/** The HTTP/2 request for an HTTP/1.1 request head (text up to, not including, the empty line). */
export function h2RequestFromHead(text: string): H2Request {
  const lines = text.split('\r\n');
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? '');
  if (!m) throw new Error('malformed request line');
  const method = m[1]!;
  let path = m[2]!;
  let host = '';
  const abs = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(path);
  if (abs) {
    host = abs[1]!;
    path = abs[2] || '/';
  }
  const fields: [string, string][] = [];
  const dropped = new Set(HOP);
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'connection') for (const n of value.split(',')) dropped.add(n.trim().toLowerCase());
    fields.push([name, value]);
  }
  const headers: OutgoingHttpHeaders = { ':method': method, ':scheme': 'http', ':path': path };
  let body = 0;
  let expectContinue = false;
  for (const [name, value] of fields) {
    if (name === 'host') host ||= value;
    else if (name === 'transfer-encoding') {
      if (value.toLowerCase().includes('chunked')) body = -1;
    } else if (name === 'content-length') {
      if (body !== -1) body = Number(value);
    } else if (name === 'expect') expectContinue = value.toLowerCase() === '100-continue';
    else if (name === 'te' && value.toLowerCase() === 'trailers') headers.te = 'trailers';
    if (dropped.has(name)) continue;
    const prev = headers[name];
    headers[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [String(prev)]), value];
  }
  if (method === 'CONNECT') throw new Error('CONNECT cannot be forwarded to an h2c backend');
  headers[':authority'] = host;
  if (body === -1) delete headers['content-length'];
  return { headers, body: Number.isSafeInteger(body) && body >= -1 ? body : 0, head: method === 'HEAD', expectContinue };
}

/** An HTTP/1.1 head for an HTTP/2 response (`chunked`: the body is re-framed as chunks). */
export function h1ResponseHead(h: IncomingHttpHeaders, chunked: boolean): string {
  const status = Number(h[':status']);
  let out = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (const [name, value] of Object.entries(h)) {
    if (name.startsWith(':') || value === undefined || (chunked && name === 'content-length')) continue;
    for (const v of Array.isArray(value) ? value : [value]) out += `${name}: ${v}\r\n`;
  }
  if (chunked) out += 'Transfer-Encoding: chunked\r\n';
  return `${out}\r\n`;
}

function trailerBlock(t: IncomingHttpHeaders | null): string {
  let out = '0\r\n';
  for (const [name, value] of Object.entries(t ?? {})) {
    if (name.startsWith(':') || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out += `${name}: ${v}\r\n`;
  }
  return `${out}\r\n`;
}

const enum Req {
  Head,
  Body,
  /** The request is sent; bytes written now belong to the next one (kept until the response ended). */
  Sent,
}

/**
 * One virtual upstream connection of an h2_backend route: HTTP/1.1 requests in, one HTTP/2
 * stream each, HTTP/1.1 responses out. Implements what `Upstream` (pool.ts) and the session use
 * of a `net.Socket`: `write`, `pause`/`resume`, `destroy`, `setNoDelay`, `'connect'`, `'data'`,
 * `'drain'`, `'close'`.
 */
export class H2cConnection extends Duplex {
  private session: ClientHttp2Session;
  private stream: ClientHttp2Stream | null = null;
  private req = Req.Head;
  private buf: Buffer | null = null;
  private bodyLeft = 0;
  private chunks: ChunkedDecoder | null = null;
  /** The app answered before the request body was all sent: the rest is dropped, no request follows. */
  private discard = false;

  constructor(private readonly sessions: H2cSessions, private readonly target: H2cTarget, private readonly preamble?: Buffer) {
    super({ allowHalfOpen: true });
    this.session = sessions.session(target, preamble);
    // `Upstream.connected` tells a refused connection (retried while a machine autostarts)
    // from one that took the request.
    if (this.session.connecting) this.session.once('connect', () => this.emit('connect'));
    else queueMicrotask(() => this.emit('connect'));
  }

  setNoDelay(): this {
    return this;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    try {
      this.onRequestBytes(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    const s = this.stream;
    if (s && !s.destroyed && s.writableNeedDrain) s.once('drain', () => cb());
    else cb();
  }

  override _read(): void {
    this.stream?.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const s = this.stream;
    this.stream = null;
    if (s && !s.destroyed) s.close(constants.NGHTTP2_CANCEL);
    // A private session (PROXY header) belongs to this client connection alone.
    if (this.preamble) this.session.destroy();
    cb(err);
  }

  private onRequestBytes(d: Buffer): void {
    while (d.length > 0) {
      if (this.req === Req.Sent) {
        if (!this.discard) this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
        return;
      }
      if (this.req === Req.Head) {
        const buf = this.buf ? Buffer.concat([this.buf, d]) : d;
        this.buf = null;
        const idx = buf.indexOf(HEAD_END);
        if (idx < 0) {
          if (buf.length > MAX_HEAD_BYTES) throw new Error('request head too large');
          this.buf = buf;
          return;
        }
        this.open(h2RequestFromHead(buf.toString('latin1', 0, idx)));
        d = buf.subarray(idx + 4);
        continue;
      }
      const s = this.stream!;
      if (this.chunks) {
        const piece = this.chunks.push(d);
        for (const part of piece.data) if (part.length > 0) s.write(part);
        if (!piece.done) return;
        // Request trailers are rare from HTTP/1.1 clients; they are not forwarded.
        this.endRequest(s);
        d = piece.rest ?? Buffer.alloc(0);
      } else {
        const n = Math.min(this.bodyLeft, d.length);
        s.write(n === d.length ? d : d.subarray(0, n));
        this.bodyLeft -= n;
        d = d.subarray(n);
        if (this.bodyLeft === 0) this.endRequest(s);
      }
    }
  }

  private endRequest(s: ClientHttp2Stream): void {
    s.end();
    this.req = Req.Sent;
  }

  private open(r: H2Request): void {
    if (this.session.closed || this.session.destroyed) this.session = this.sessions.session(this.target, this.preamble);
    if (r.expectContinue) this.push(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1'));
    const s = this.session.request(r.headers, { endStream: r.body === 0 });
    this.stream = s;
    if (r.body === 0) this.req = Req.Sent;
    else {
      this.req = Req.Body;
      this.bodyLeft = r.body;
      this.chunks = r.body === -1 ? new ChunkedDecoder() : null;
    }
    let chunked = false;
    let trailers: IncomingHttpHeaders | null = null;
    let ended = false;
    s.on('headers', (h: IncomingHttpHeaders) => {
      // Informational responses (103 Early Hints) go on; http-response.ts passes them through.
      if (Number(h[':status']) >= 100 && Number(h[':status']) < 200) this.push(Buffer.from(h1ResponseHead(h, false), 'latin1'));
    });
    s.on('response', (h: IncomingHttpHeaders) => {
      const status = Number(h[':status']);
      chunked = !r.head && status !== 204 && status !== 304 && h['content-length'] === undefined;
      if (!this.push(Buffer.from(h1ResponseHead(h, chunked), 'latin1'))) s.pause();
    });
    s.on('data', (d: Buffer) => {
      if (d.length === 0) return;
      const out = chunked ? Buffer.concat([Buffer.from(`${d.length.toString(16)}\r\n`, 'latin1'), d, Buffer.from('\r\n', 'latin1')]) : d;
      if (!this.push(out)) s.pause();
    });
    s.on('trailers', (t: IncomingHttpHeaders) => {
      trailers = t;
    });
    s.on('end', () => {
      ended = true;
      if (chunked) this.push(Buffer.from(trailerBlock(trailers), 'latin1'));
      if (this.stream !== s) return;
      this.stream = null;
      this.chunks = null;
      if (this.req === Req.Body) {
        // Answered before the body was all sent: the session closes the client connection.
        this.req = Req.Sent;
        this.discard = true;
        return;
      }
      this.req = Req.Head;
      const pending = this.buf;
      this.buf = null;
      if (pending) this.onRequestBytes(pending);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      // Reset, refused, or the session went away before the response ended: to the session
      // this is an upstream connection that closed (502, or a retry when nothing was answered).
      if (!ended && this.stream === s) this.destroy();
    });
  }
}
