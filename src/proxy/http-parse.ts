/**
 * A hand-rolled HTTP/1.x head scanner and chunked-body framer over raw Buffers. The proxy
 * forwards bytes, not objects: it reads only what a decision needs (method, Host, framing,
 * Connection/Upgrade, Fly's client routing headers) and re-emits the head as slices of the
 * client's buffer with some lines dropped and Fly's lines added (reference §1c). Node's HTTP
 * parser and re-serialization cost 3–4× nginx's CPU per request (bench/proxy), hence this file.
 */

/** `\r\n\r\n` as a search needle. */
export const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
export const MAX_HEAD_BYTES = 64 * 1024;

/** Why a request head was refused: answered with `status` and the connection closed. */
export class HeadError extends Error {
  readonly code = 'HANGAR_ERR_PROXY_BAD_REQUEST';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface RequestHead {
  method: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  host: string;
  /** The client asked to close after this request (or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** `Connection: upgrade` + `Upgrade:` present (WebSocket and friends). */
  upgrade: boolean;
  /** -1 = no Content-Length. */
  contentLength: number;
  chunked: boolean;
  forwardedFor: string | undefined;
  hasForwardedPort: boolean;
  forceInstance: string | undefined;
  preferInstance: string | undefined;
  forceRegion: string | undefined;
  preferRegion: string | undefined;
  /**
   * The head to forward, as `[start, end)` pairs of the request buffer (dropped lines left out,
   * no final empty line): copied straight into the upstream write, never decoded (bench/proxy).
   */
  slices: number[];
  /** Lines to forward after the slices (the re-added `Connection`/`Upgrade` of an upgrade). */
  tail: string;
  /** Bytes of slices + tail. */
  forwardLength: number;
  /** Offset of the request target in the buffer (decoded only for a redirect). */
  targetStart: number;
  targetEnd: number;
}

/** The request target of `head` within the buffer it was parsed from. */
export function requestTarget(buf: Buffer, head: RequestHead): string {
  return buf.toString('latin1', head.targetStart, head.targetEnd);
}

/** The forwarded head as a string (tests and diagnostics; the hot path copies the slices). */
export function forwardedHead(buf: Buffer, head: RequestHead): string {
  let out = '';
  for (let i = 0; i < head.slices.length; i += 2) out += buf.toString('latin1', head.slices[i], head.slices[i + 1]);
  return out + head.tail;
}

function methodOf(buf: Buffer, len: number): string {
  // The common methods as constants: no decode per request.
  if (len === 3 && buf[0] === 0x47 && buf[1] === 0x45 && buf[2] === 0x54) return 'GET';
  if (len === 4 && buf[0] === 0x50 && buf[1] === 0x4f && buf[2] === 0x53 && buf[3] === 0x54) return 'POST';
  if (len === 4 && buf[0] === 0x48 && buf[1] === 0x45 && buf[2] === 0x41 && buf[3] === 0x44) return 'HEAD';
  return buf.toString('latin1', 0, len);
}

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c | 0x20 : c;
}

function nameIs(buf: Buffer, s: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if (lower(buf[s + i]!) !== name.charCodeAt(i)) return false;
  return true;
}

/** Header names the proxy acts on (by name length, to compare few). */
const enum H {
  Other,
  Host,
  Connection,
  Upgrade,
  ContentLength,
  TransferEncoding,
  XForwardedFor,
  XForwardedPort,
  ForceInstance,
  PreferInstance,
  ForceRegion,
  PreferRegion,
  /** Hop-by-hop or set by the proxy itself: dropped from the forwarded head. */
  Drop,
}

function classify(buf: Buffer, s: number, len: number): H {
  switch (len) {
    case 4:
      return nameIs(buf, s, 'host') ? H.Host : H.Other;
    case 7:
      return nameIs(buf, s, 'upgrade') ? H.Upgrade : H.Other;
    case 10:
      if (nameIs(buf, s, 'connection')) return H.Connection;
      return nameIs(buf, s, 'keep-alive') || nameIs(buf, s, 'fly-region') ? H.Drop : H.Other;
    case 13:
      return nameIs(buf, s, 'fly-client-ip') ? H.Drop : H.Other;
    case 14:
      if (nameIs(buf, s, 'content-length')) return H.ContentLength;
      // Only the proxy sets fly-replay-src / fly-replay-failed (a client must not forge them).
      return nameIs(buf, s, 'fly-replay-src') ? H.Drop : H.Other;
    case 15:
      if (nameIs(buf, s, 'x-forwarded-for')) return H.XForwardedFor;
      return nameIs(buf, s, 'x-forwarded-ssl') ? H.Drop : H.Other;
    case 16:
      if (nameIs(buf, s, 'x-forwarded-port')) return H.XForwardedPort;
      if (nameIs(buf, s, 'fly-force-region')) return H.ForceRegion;
      return nameIs(buf, s, 'proxy-connection') ? H.Drop : H.Other;
    case 17:
      if (nameIs(buf, s, 'transfer-encoding')) return H.TransferEncoding;
      if (nameIs(buf, s, 'fly-prefer-region')) return H.PreferRegion;
      return nameIs(buf, s, 'x-forwarded-proto') || nameIs(buf, s, 'fly-replay-failed') ? H.Drop : H.Other;
    case 18:
      return nameIs(buf, s, 'fly-forwarded-port') ? H.Drop : H.Other;
    case 21:
      return nameIs(buf, s, 'fly-force-instance-id') ? H.ForceInstance : H.Other;
    case 22:
      return nameIs(buf, s, 'fly-prefer-instance-id') ? H.PreferInstance : H.Other;
    case 34:
      return nameIs(buf, s, 'fly-preferred-instance-unavailable') ? H.Drop : H.Other;
    default:
      return H.Other;
  }
}

function isTchar(c: number): boolean {
  // RFC 9110 token characters.
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || (c !== 0x22 && c !== 0x2c && c !== 0x2f && c > 0x20 && c < 0x7f && !(c >= 0x3a && c <= 0x40) && !(c >= 0x5b && c <= 0x5d) && c !== 0x7b && c !== 0x7d);
}

function hasToken(value: string, token: string): boolean {
  const v = value.toLowerCase();
  if (v === token) return true;
  for (const part of v.split(',')) if (part.trim() === token) return true;
  return false;
}

/**
 * Parses the request head in `buf[0, end)` where `end` is just past `\r\n\r\n`. Throws
 * `HeadError` for anything a proxy must not forward (bad request line, obsolete line folding,
 * conflicting or invalid framing: request smuggling guards).
 */
export function parseRequestHead(buf: Buffer, end: number): RequestHead {
  const lineEnd = buf.indexOf(13, 0);
  if (lineEnd <= 0 || buf[lineEnd + 1] !== 10) throw new HeadError(400, 'malformed request line');
  const sp1 = buf.indexOf(32, 0);
  if (sp1 <= 0 || sp1 > lineEnd) throw new HeadError(400, 'malformed request line');
  for (let i = 0; i < sp1; i++) if (!isTchar(buf[i]!)) throw new HeadError(400, 'malformed method');
  const sp2 = buf.lastIndexOf(32, lineEnd);
  if (sp2 <= sp1 + 1 || lineEnd - sp2 !== 9 || !nameIs(buf, sp2 + 1, 'http/1.')) throw new HeadError(400, 'malformed request line');
  const minorCh = buf[lineEnd - 1]!;
  if (minorCh !== 0x30 && minorCh !== 0x31) throw new HeadError(505, 'only HTTP/1.0 and HTTP/1.1 are supported');
  for (let i = sp1 + 1; i < sp2; i++) if (buf[i]! <= 0x20 || buf[i] === 0x7f) throw new HeadError(400, 'malformed request target');
  const head: RequestHead = {
    method: methodOf(buf, sp1),
    minor: minorCh - 0x30,
    host: '',
    close: minorCh === 0x30,
    upgrade: false,
    contentLength: -1,
    chunked: false,
    forwardedFor: undefined,
    hasForwardedPort: false,
    forceInstance: undefined,
    preferInstance: undefined,
    forceRegion: undefined,
    preferRegion: undefined,
    slices: [],
    tail: '',
    forwardLength: 0,
    targetStart: sp1 + 1,
    targetEnd: sp2,
  };
  let hasHost = false;
  let connUpgrade = false;
  let hasUpgrade = false;
  const slices = head.slices;
  let copyFrom = 0;
  let p = lineEnd + 2;
  const last = end - 2; // the final empty line starts here
  while (p < last) {
    const e = buf.indexOf(13, p);
    if (e < 0 || e >= last + 1 || buf[e + 1] !== 10) throw new HeadError(400, 'malformed header line');
    const c0 = buf[p]!;
    if (c0 === 32 || c0 === 9) throw new HeadError(400, 'obsolete header line folding');
    const colon = buf.indexOf(58, p);
    if (colon <= p || colon > e) throw new HeadError(400, 'malformed header line');
    for (let i = p; i < colon; i++) if (!isTchar(buf[i]!)) throw new HeadError(400, 'malformed header name');
    const kind = classify(buf, p, colon - p);
    if (kind !== H.Other) {
      let vs = colon + 1;
      let ve = e;
      while (vs < ve && (buf[vs] === 32 || buf[vs] === 9)) vs++;
      while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
      const value = buf.toString('latin1', vs, ve);
      let drop = false;
      switch (kind) {
        case H.Host:
          if (hasHost) throw new HeadError(400, 'more than one Host header');
          hasHost = true;
          head.host = value;
          break;
        case H.Connection: {
          const v = value.toLowerCase();
          if (hasToken(v, 'close')) head.close = true;
          else if (hasToken(v, 'keep-alive')) head.close = false;
          if (hasToken(v, 'upgrade')) connUpgrade = true;
          drop = true;
          break;
        }
        case H.Upgrade:
          hasUpgrade = true;
          drop = true;
          break;
        case H.ContentLength: {
          if (!/^[0-9]{1,15}$/.test(value)) throw new HeadError(400, 'invalid Content-Length');
          const n = Number(value);
          if (head.contentLength >= 0 && head.contentLength !== n) throw new HeadError(400, 'conflicting Content-Length headers');
          head.contentLength = n;
          break;
        }
        case H.TransferEncoding: {
          const v = value.toLowerCase();
          if (!(v === 'chunked' || v.endsWith(',chunked') || v.endsWith(', chunked'))) throw new HeadError(400, 'unsupported Transfer-Encoding');
          if (head.chunked) throw new HeadError(400, 'repeated Transfer-Encoding');
          head.chunked = true;
          break;
        }
        case H.XForwardedFor:
          head.forwardedFor = head.forwardedFor === undefined ? value : `${head.forwardedFor}, ${value}`;
          drop = true;
          break;
        case H.XForwardedPort:
          head.hasForwardedPort = true;
          break;
        case H.ForceInstance:
          head.forceInstance = value;
          break;
        case H.PreferInstance:
          head.preferInstance = value;
          break;
        case H.ForceRegion:
          head.forceRegion = value;
          break;
        case H.PreferRegion:
          head.preferRegion = value;
          break;
        case H.Drop:
          drop = true;
          break;
      }
      if (drop) {
        if (p > copyFrom) slices.push(copyFrom, p);
        copyFrom = e + 2;
      }
    }
    p = e + 2;
  }
  if (head.chunked && head.contentLength >= 0) throw new HeadError(400, 'both Content-Length and Transfer-Encoding');
  if (!hasHost && head.minor === 1) throw new HeadError(400, 'missing Host header');
  head.upgrade = connUpgrade && hasUpgrade;
  if (last > copyFrom) slices.push(copyFrom, last);
  if (head.upgrade) {
    // Connection/Upgrade are hop-by-hop and were dropped; an upgrade passes them on explicitly.
    const up = /\r\nupgrade:[ \t]*([^\r]*)/i.exec(buf.toString('latin1', 0, last));
    head.tail = `Connection: upgrade\r\nUpgrade: ${up?.[1]?.trim() ?? ''}\r\n`;
  }
  let n = head.tail.length;
  for (let i = 0; i < slices.length; i += 2) n += slices[i + 1]! - slices[i]!;
  head.forwardLength = n;
  return head;
}

export interface ResponseHead {
  status: number;
  /** -1 = no Content-Length. */
  contentLength: number;
  chunked: boolean;
  close: boolean;
  /** HTTP/1.0 response (not reusable unless keep-alive). */
  minor: number;
  /** A `fly-replay` header or a `application/vnd.fly.replay+json` body (src/proxy/replay.ts). */
  replay: boolean;
}

/** Parses a response head in `buf[0, end)`; undefined when it is not a valid HTTP/1.x head. */
export function parseResponseHead(buf: Buffer, end: number): ResponseHead | undefined {
  if (end < 16 || !nameIs(buf, 0, 'http/1.') || buf[8] !== 32) return undefined;
  const d0 = buf[9]! - 48;
  const d1 = buf[10]! - 48;
  const d2 = buf[11]! - 48;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return undefined;
  const res: ResponseHead = { status: d0 * 100 + d1 * 10 + d2, contentLength: -1, chunked: false, close: buf[7] === 0x30, minor: buf[7] === 0x30 ? 0 : 1, replay: false };
  let p = buf.indexOf(10, 0) + 1;
  const last = end - 2;
  while (p > 0 && p < last) {
    const e = buf.indexOf(13, p);
    if (e < 0) return undefined;
    const colon = buf.indexOf(58, p);
    if (colon > p && colon < e) {
      const len = colon - p;
      if (len === 14 || len === 17 || len === 10 || len === 12) {
        let vs = colon + 1;
        while (vs < e && (buf[vs] === 32 || buf[vs] === 9)) vs++;
        if (len === 14 && nameIs(buf, p, 'content-length')) {
          // Digits read in place (no decode); trailing spaces allowed, anything else is malformed.
          let n = 0;
          let i = vs;
          for (; i < e && buf[i]! >= 48 && buf[i]! <= 57; i++) n = n * 10 + buf[i]! - 48;
          let t = i;
          while (t < e && (buf[t] === 32 || buf[t] === 9)) t++;
          if (i === vs || t !== e || !Number.isSafeInteger(n)) return undefined;
          res.contentLength = n;
        } else if (len === 17 && nameIs(buf, p, 'transfer-encoding')) {
          res.chunked = buf.toString('latin1', vs, e).toLowerCase().includes('chunked');
        } else if (len === 12) {
          // fly-replay's JSON form: only a value as long as the media type is compared.
          if (e - vs >= 31 && nameIs(buf, p, 'content-type') && nameIs(buf, vs, 'application/vnd.fly.replay+json')) res.replay = true;
        } else if (len === 10 && nameIs(buf, p, 'connection')) {
          // The usual values compared in place; anything else decoded and tokenized.
          if (e - vs === 10 && nameIs(buf, vs, 'keep-alive')) res.close = false;
          else if (e - vs === 5 && nameIs(buf, vs, 'close')) res.close = true;
          else {
            const v = buf.toString('latin1', vs, e).toLowerCase();
            if (hasToken(v, 'close')) res.close = true;
            else if (hasToken(v, 'keep-alive')) res.close = false;
          }
        } else if (len === 10 && nameIs(buf, p, 'fly-replay')) {
          res.replay = true;
        }
      }
    }
    p = e + 2;
  }
  return res;
}

/**
 * Finds where a chunked body ends, across as many `scan` calls as its bytes take to arrive
 * (RFC 9112 §7.1: size line with optional extensions, data, CRLF, ..., `0` line, trailers, CRLF).
 */
export class ChunkedScanner {
  private state = 0;
  private remaining = 0;
  private digits = 0;

  /** Offset just past the end of the body within `buf[start, end)`, -1 if not there yet; throws on bad framing. */
  scan(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      const c = buf[i]!;
      switch (this.state) {
        case 0: {
          // size digits
          const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (v >= 0) {
            if (++this.digits > 12) throw new HeadError(400, 'chunk size too large');
            this.remaining = this.remaining * 16 + v;
          } else if (this.digits === 0) throw new HeadError(400, 'malformed chunk size');
          else if (c === 13) this.state = 2;
          else if (c === 59 || c === 32 || c === 9) this.state = 1;
          else throw new HeadError(400, 'malformed chunk size');
          i++;
          break;
        }
        case 1: // extensions
          if (c === 13) this.state = 2;
          i++;
          break;
        case 2:
          if (c !== 10) throw new HeadError(400, 'malformed chunk size line');
          this.digits = 0;
          this.state = this.remaining === 0 ? 6 : 3;
          i++;
          break;
        case 3: {
          const n = Math.min(this.remaining, end - i);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.state = 4;
          break;
        }
        case 4:
          if (c !== 13) throw new HeadError(400, 'malformed chunk end');
          this.state = 5;
          i++;
          break;
        case 5:
          if (c !== 10) throw new HeadError(400, 'malformed chunk end');
          this.state = 0;
          i++;
          break;
        case 6: // start of a trailer line or the final CRLF
          this.state = c === 13 ? 8 : 7;
          i++;
          break;
        case 7:
          if (c === 10) this.state = 6;
          i++;
          break;
        case 8:
          if (c !== 10) throw new HeadError(400, 'malformed chunked trailer');
          this.state = 0;
          this.remaining = 0;
          return i + 1;
        default:
          throw new HeadError(400, 'bad chunk state');
      }
    }
    return -1;
  }
}
