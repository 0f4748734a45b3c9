/**
 * Keep-alive upstream connections per machine address (reference §1c: Fly pools backend
 * connections ~4 s). Acquire is synchronous: a new socket queues writes until it connects, so the
 * hot path has no promise. Idle connections are swept after `idleMs`, below Node's default 5 s
 * keep-alive so the proxy, not the app, closes first (the app closing first is still handled: an
 * idle request retried once on a fresh connection, see http-session.ts).
 */
import { connect, type Socket } from 'node:net';

/** The key of connections that are never pooled (no idle list has it). */
const UNPOOLED = '';

/**
 * The buffer every upstream TCP connection reads into (`net.connect`'s `onread`): no Buffer is
 * allocated per read and Node's Readable machinery (push, 'data' emit, read-more tick) is skipped
 * (bench/proxy: CPU µs per request). One buffer serves all connections because each read is
 * handled to the end before the next one can happen: a reader that keeps bytes past its call,
 * or hands them to a write that may complete later, copies them (`Upstream.sharedReads`).
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Whoever is using an upstream connection receives its bytes and its end. */
export interface UpstreamOwner {
  /**
   * Bytes from the app. With `up.sharedReads`, `data` is a view of a buffer the next read
   * overwrites: copy what is kept or written (`Upstream.keep`).
   */
  onUpstreamData(up: Upstream, data: Buffer): void;
  onUpstreamClose(up: Upstream): void;
}

export class Upstream {
  owner: UpstreamOwner | null = null;
  /** Requests sent on this connection so far (0 = fresh). */
  uses = 0;
  idleSince = 0;
  closed = false;
  /** The TCP connection was established (false after a refused connect: nothing was delivered). */
  connected = false;

  /**
   * @param sharedReads the socket reads into `READ_BUFFER` (`net.connect` with `onread` calling
   * `onRead`); otherwise its 'data' events are used (an adopted h2c duplex).
   */
  constructor(readonly sock: Socket, readonly key: string, private readonly pool: UpstreamPool, readonly sharedReads = false) {
    sock.setNoDelay(true);
    sock.once('connect', () => {
      this.connected = true;
    });
    if (!sharedReads) sock.on('data', (d: Buffer) => this.onRead(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      this.pool.forget(this);
      const o = this.owner;
      this.owner = null;
      if (o) o.onUpstreamClose(this);
    });
  }

  onRead(d: Buffer): void {
    const o = this.owner;
    if (o) o.onUpstreamData(this, d);
    else this.sock.destroy(); // bytes nobody asked for: the connection is out of step
  }

  /** `d` (a view this connection's reader got) as bytes that stay valid after the call. */
  keep(d: Buffer): Buffer {
    return this.sharedReads ? Buffer.from(d) : d;
  }

  destroy(): void {
    this.owner = null;
    this.sock.destroy();
  }
}

/** A TCP connection to the app that reads into `READ_BUFFER`, wrapped as an `Upstream`. */
function openUpstream(address: string, port: number, key: string, pool: UpstreamPool, preamble?: Buffer): Upstream {
  let up: Upstream | null = null;
  const sock = connect({
    host: address,
    port,
    onread: {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Uint8Array): boolean => {
        up!.onRead((buf as Buffer).subarray(0, n));
        return true; // backpressure goes through sock.pause()/resume()
      },
    },
  });
  if (preamble) sock.write(preamble);
  up = new Upstream(sock, key, pool, true);
  return up;
}

export class UpstreamPool {
  private readonly idle = new Map<string, Upstream[]>();
  private readonly keys = new WeakMap<object, string>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  /** Connections opened so far (tests check reuse with it). */
  opened = 0;

  constructor(private readonly idleMs = 4000, private readonly maxIdlePerKey = 256) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(250, Math.floor(idleMs / 4)));
    this.sweeper.unref();
  }

  /** `acquire` for a backend, its pool key memoized (no string built per request). */
  acquireFor(b: { readonly address: string; readonly port: number }, fresh = false): Upstream {
    let key = this.keys.get(b);
    if (key === undefined) this.keys.set(b, (key = `${b.address}:${b.port}`));
    return this.acquireKey(key, b.address, b.port, fresh);
  }

  /** An idle connection to `address:port`, or a new one (`fresh` then has `uses === 0`). */
  acquire(address: string, port: number, fresh = false): Upstream {
    return this.acquireKey(`${address}:${port}`, address, port, fresh);
  }

  private acquireKey(key: string, address: string, port: number, fresh: boolean): Upstream {
    if (!fresh) {
      const list = this.idle.get(key);
      while (list && list.length > 0) {
        const up = list.pop()!;
        if (!up.closed) return up;
      }
    }
    this.opened += 1;
    return openUpstream(address, port, key, this);
  }

  /**
   * A new connection that never joins the idle lists (own-upstreams.ts keeps it for one client),
   * with `preamble` (a PROXY header) queued as its first bytes.
   */
  dedicated(b: { readonly address: string; readonly port: number }, preamble?: Buffer): Upstream {
    this.opened += 1;
    return openUpstream(b.address, b.port, UNPOOLED, this, preamble);
  }

  /** Wraps a socket-shaped duplex (an h2c virtual connection) as a never-pooled `Upstream`. */
  adopt(sock: Socket): Upstream {
    this.opened += 1;
    return new Upstream(sock, UNPOOLED, this);
  }

  /** Puts a connection whose response ended cleanly back for reuse. */
  release(up: Upstream): void {
    up.owner = null;
    if (up.key === UNPOOLED) {
      up.destroy();
      return;
    }
    if (up.closed) return;
    let list = this.idle.get(up.key);
    if (!list) this.idle.set(up.key, (list = []));
    if (list.length >= this.maxIdlePerKey) {
      up.destroy();
      return;
    }
    up.idleSince = Date.now();
    list.push(up);
  }

  forget(up: Upstream): void {
    const list = this.idle.get(up.key);
    if (!list) return;
    const i = list.indexOf(up);
    if (i >= 0) list.splice(i, 1);
  }

  private sweep(): void {
    const limit = Date.now() - this.idleMs;
    for (const list of this.idle.values()) {
      while (list.length > 0 && list[0]!.idleSince < limit) list.shift()!.destroy();
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const list of this.idle.values()) for (const up of list.splice(0)) up.destroy();
  }
}
