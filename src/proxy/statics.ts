/**
 * `[[statics]]` served by the proxy itself (core/proxy/statics.ts says which guest file a request
 * names): the file is read from the image's rootfs on this host, so no machine is started or
 * woken for it and it is served while every machine is stopped.
 *
 * Files are looked up the way the guest would see them: symlinks in the image are followed
 * inside its rootfs (an absolute target starts again at the rootfs, `..` stops at its top, as in
 * a chroot), then the result's realpath must still lie inside the rootfs and the last component
 * is opened with O_NOFOLLOW, so no link in the image can reach a file of the host.
 *
 * Responses: 200 with Content-Type (by extension), Content-Length, Last-Modified and a weak
 * ETag; 304 for a matching If-None-Match / If-Modified-Since (RFC 9110 §13.1); a 301 to the
 * slash form for a directory whose `index_document` exists. Bodies stream with backpressure and
 * the connection stays open for the next request unless the client asked to close.
 */
import { rewriteResponseHead, type CompiledResponseOptions } from '../core/proxy/response-options.js';
import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import type { RouteStatics, StaticMatch } from '../core/proxy/statics.js';
import { contentTypeFor } from './statics-mime.js';

/** The image a route's statics are read from (core `RouteStatics.image` / `imageDigest`). */
export interface StaticImage {
  readonly ref: string;
  readonly digest: string | undefined;
}

/**
 * Seam (`ProxyServerOptions.staticRoot`): the host directory holding the rootfs of an image, or
 * undefined when this host does not have it (the request then goes to the app). Wired in
 * src/server/proxy.ts: `dir:` images are their directory, others the ImageStore's unpacked rootfs.
 */
export type StaticRootResolver = (image: StaticImage) => Promise<string | undefined>;

/** What a static lookup came to; `miss` sends the request on to the app. */
export type StaticOutcome = { readonly kind: 'miss' } | { readonly kind: 'served'; readonly status: number; readonly bytes: number; readonly closed: boolean };

export interface StaticRequest {
  readonly client: Duplex;
  readonly statics: RouteStatics;
  readonly match: Extract<StaticMatch, { kind: 'file' }>;
  readonly method: string;
  /** The request head (up to the empty line): conditional headers are read from it. */
  readonly head: Buffer;
  /** `Fly-Request-Id`/`Via` lines, `''` for a pristine service. */
  readonly lines: string;
  /** The port's `http_options.response.headers`, when it has any (core/proxy/response-options.ts). */
  readonly rewrite?: CompiledResponseOptions | null;
  /** Close after this response (the client asked to, or HTTP/1.0). */
  readonly close: boolean;
  /** HTTP/1.0 client that asked for keep-alive: says so in the response. */
  readonly keepAlive10: boolean;
}

const MAX_SYMLINKS = 40;
/** Files up to this size go out in the same write as the head. */
const INLINE_MAX = 64 * 1024;
const ROOT_TTL_MS = 30_000;
const MISS_TTL_MS = 2_000;

interface CachedRoot {
  readonly at: number;
  /** realpath of the rootfs, undefined when the host does not have the image. */
  readonly root: Promise<string | undefined>;
}

type Found = { readonly kind: 'file'; readonly fh: FileHandle; readonly st: Stats } | { readonly kind: 'redirect' } | undefined;

/**
 * Serves statics for one `ProxyServer`. Rootfs lookups are cached per image for a while (an
 * ImageStore lookup reads its index; a `dir:` image or an unpacked rootfs rarely moves).
 */
export class StaticFiles {
  private readonly roots = new Map<string, CachedRoot>();

  constructor(private readonly resolve: StaticRootResolver, private readonly now: () => number = Date.now) {}

  /** Serves the file `req.match` names, or answers `miss` without writing anything. */
  async serve(req: StaticRequest): Promise<StaticOutcome> {
    let found: Found;
    try {
      found = await this.find(req.statics, req.match);
    } catch {
      found = undefined;
    }
    if (!found) return { kind: 'miss' };
    if (req.client.destroyed) {
      if (found.kind === 'file') await found.fh.close().catch(() => undefined);
      return { kind: 'served', status: 499, bytes: 0, closed: true };
    }
    if (found.kind === 'redirect') return this.write(req, 301, `Location: ${req.match.redirect}\r\nContent-Length: 0\r\n`, null);
    return this.send(req, found.fh, found.st);
  }

  private async rootOf(statics: RouteStatics): Promise<string | undefined> {
    const key = statics.imageDigest ?? statics.image;
    const now = this.now();
    const cached = this.roots.get(key);
    if (cached) {
      const root = await cached.root;
      if (now - cached.at < (root === undefined ? MISS_TTL_MS : ROOT_TTL_MS)) return root;
    }
    const root = this.resolve({ ref: statics.image, digest: statics.imageDigest }).then(
      (dir) => (dir === undefined ? undefined : realpath(dir).catch(() => undefined)),
      () => undefined,
    );
    this.roots.set(key, { at: now, root });
    return root;
  }

  private async find(statics: RouteStatics, match: Extract<StaticMatch, { kind: 'file' }>): Promise<Found> {
    const root = await this.rootOf(statics);
    if (root === undefined) return undefined;
    const file = await openInRoot(root, match.guestFile);
    if (!file) return undefined;
    if (file.st.isFile()) return { kind: 'file', ...file };
    await file.fh.close();
    if (file.st.isDirectory() && match.dirIndex !== undefined) {
      const index = await openInRoot(root, match.dirIndex);
      if (index) {
        await index.fh.close();
        if (index.st.isFile()) return { kind: 'redirect' };
      }
    }
    return undefined;
  }

  private async send(req: StaticRequest, fh: FileHandle, st: Stats): Promise<StaticOutcome> {
    const etag = `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const modified = new Date(Math.floor(st.mtimeMs / 1000) * 1000);
    const validators = `ETag: ${etag}\r\nLast-Modified: ${modified.toUTCString()}\r\n`;
    if (notModified(req.head, etag, modified)) {
      await fh.close();
      return this.write(req, 304, validators, null);
    }
    const head = `Content-Type: ${contentTypeFor(req.match.guestFile)}\r\nContent-Length: ${st.size}\r\n${validators}`;
    if (req.method === 'HEAD' || st.size === 0) {
      await fh.close();
      return this.write(req, 200, head, null);
    }
    if (st.size <= INLINE_MAX) {
      const body = Buffer.allocUnsafe(st.size);
      let got = 0;
      try {
        while (got < body.length) {
          const { bytesRead } = await fh.read(body, got, body.length - got, got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
      } finally {
        await fh.close();
      }
      // The file shrank since fstat: the promised length cannot be sent; let the app answer.
      if (got < body.length) return { kind: 'miss' };
      return this.write(req, 200, head, body);
    }
    return this.stream(req, head, fh, st.size);
  }

  /** A whole response in one write. */
  private write(req: StaticRequest, status: number, headers: string, body: Buffer | null): StaticOutcome {
    const h = Buffer.from(headText(req, statusLine(status) + headers), 'latin1');
    req.client.write(body ? Buffer.concat([h, body]) : h);
    return { kind: 'served', status, bytes: body?.length ?? 0, closed: false };
  }

  /** Head, then the file in chunks, pausing the file while the client's buffer is full. */
  private stream(req: StaticRequest, headers: string, fh: FileHandle, size: number): Promise<StaticOutcome> {
    const client = req.client;
    client.write(Buffer.from(headText(req, statusLine(200) + headers), 'latin1'));
    // `end` bounds the read to the length already promised, even if the file grows meanwhile.
    const rs = fh.createReadStream({ start: 0, end: size - 1, autoClose: true });
    return new Promise((resolve) => {
      let sent = 0;
      let done = false;
      const finish = (closed: boolean) => {
        if (done) return;
        done = true;
        client.off('close', onClose);
        client.off('drain', onDrain);
        if (closed) {
          rs.destroy();
          client.destroy();
        }
        resolve({ kind: 'served', status: 200, bytes: sent, closed });
      };
      const onClose = () => finish(true);
      const onDrain = () => rs.resume();
      client.on('close', onClose);
      client.on('drain', onDrain);
      rs.on('data', (chunk: Buffer | string) => {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        sent += b.length;
        if (!client.write(b)) rs.pause();
      });
      // A short read (the file shrank) would leave the response incomplete: close to say so.
      rs.on('end', () => finish(sent !== size));
      rs.on('error', () => finish(true));
    });
  }
}

function statusLine(status: number): string {
  return status === 200 ? 'HTTP/1.1 200 OK\r\n' : status === 304 ? 'HTTP/1.1 304 Not Modified\r\n' : 'HTTP/1.1 301 Moved Permanently\r\n';
}

/**
 * The whole head: the proxy is the origin of these responses, so it sends `Date` (RFC 9110
 * §6.6.1); the port's `http_options.response.headers` apply as to the app's responses.
 */
function headText(req: StaticRequest, statusAndHeaders: string): string {
  let head = `${statusAndHeaders}Date: ${new Date().toUTCString()}\r\n`;
  if (req.rewrite) head = rewriteResponseHead(head, req.rewrite);
  return `${head}${req.lines}${req.close ? 'Connection: close\r\n' : req.keepAlive10 ? 'Connection: keep-alive\r\n' : ''}\r\n`;
}

/**
 * Opens `guestPath` inside `root` as the guest would resolve it (see the file comment).
 * Undefined when a component is missing or not a directory, or the result leaves the rootfs.
 */
export async function openInRoot(root: string, guestPath: string): Promise<{ fh: FileHandle; st: Stats } | undefined> {
  const queue = guestPath.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let hops = 0;
  let last: Stats | undefined;
  while (queue.length > 0) {
    const comp = queue.shift()!;
    if (comp === '..') {
      resolved.pop();
      last = undefined;
      continue;
    }
    let st: Stats;
    try {
      st = await lstat(join(root, ...resolved, comp));
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINKS) return undefined;
      const target = await readlink(join(root, ...resolved, comp));
      if (target.startsWith('/')) resolved.length = 0;
      queue.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
      continue;
    }
    if (queue.length > 0 && !st.isDirectory()) return undefined;
    resolved.push(comp);
    last = st;
  }
  // Only files and directories: opening a FIFO or a device in the image could block or act.
  if (last && !last.isFile() && !last.isDirectory()) return undefined;
  const path = join(root, ...resolved);
  // A second fence against a tree changed under us between the lstat walk and the open.
  const real = await realpath(path).catch(() => undefined);
  if (real === undefined || (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep))) return undefined;
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    return { fh, st: await fh.stat() };
  } catch {
    await fh.close();
    return undefined;
  }
}

/** A request header's value from the raw head (first occurrence; names compared without case). */
export function headerValue(head: Buffer, name: string): string | undefined {
  const text = head.toString('latin1');
  const lower = name.toLowerCase();
  let p = text.indexOf('\r\n') + 2;
  while (p > 1 && p < text.length) {
    const e = text.indexOf('\r\n', p);
    if (e <= p) return undefined;
    const colon = text.indexOf(':', p);
    if (colon > p && colon < e && text.slice(p, colon).toLowerCase() === lower) return text.slice(colon + 1, e).trim();
    p = e + 2;
  }
  return undefined;
}

/**
 * RFC 9110 §13.1.2 / §13.1.3: If-None-Match (weak comparison, `*` matches any) wins over
 * If-Modified-Since, which matches when the file is not newer than the given date.
 */
export function notModified(head: Buffer, etag: string, modified: Date): boolean {
  const inm = headerValue(head, 'if-none-match');
  if (inm !== undefined) {
    if (inm.trim() === '*') return true;
    const opaque = etag.replace(/^W\//, '');
    return inm.split(',').some((t) => t.trim().replace(/^W\//, '') === opaque);
  }
  const ims = headerValue(head, 'if-modified-since');
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && modified.getTime() <= since;
}
