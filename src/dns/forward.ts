/**
 * Forwards queries for names outside `.internal` to the host's resolvers (reference §1d: the
 * 6PN resolver "resolves public names too").
 *
 * Each forward uses a fresh socket bound to an OS-chosen ephemeral port and a random query id,
 * and accepts only a reply from the upstream it asked, with that id and the same question, so an
 * off-path attacker has to guess both port and id to poison an answer (RFC 5452). The client's
 * own id is restored on the reply. Upstreams are tried in order, each with its own timeout;
 * when none answers the caller replies SERVFAIL.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import type { Transport } from './respond.js';

export interface Upstream {
  host: string;
  port: number;
}

export interface ForwarderOptions {
  upstreams: readonly Upstream[];
  /** Per-upstream timeout. Default 2000 ms. */
  timeoutMs?: number;
  /**
   * Forwards allowed at once (each holds a socket until answered or timed out); more fail at
   * once (SERVFAIL), so a flood of public names cannot exhaust file descriptors. Default 512.
   */
  maxInFlight?: number;
}

/** Length of the question section starting at byte 12, or -1 when it does not parse. */
function questionEnd(msg: Buffer): number {
  let off = 12;
  while (off < msg.length) {
    const len = msg[off] ?? 0;
    if (len === 0) return off + 1 + 4 <= msg.length ? off + 1 + 4 : -1;
    if ((len & 0xc0) !== 0) return -1; // a query's first name is never compressed
    off += len + 1;
  }
  return -1;
}

/** Whether `reply` answers `query` (same id, QR set, identical question, case-insensitively). */
function matches(query: Buffer, reply: Buffer): boolean {
  if (reply.length < 12 || reply.readUInt16BE(0) !== query.readUInt16BE(0) || (reply[2]! & 0x80) === 0) return false;
  const end = questionEnd(query);
  if (end < 0 || reply.length < end) return false;
  return query.toString('latin1', 12, end).toLowerCase() === reply.toString('latin1', 12, end).toLowerCase();
}

function sameHost(a: string, b: string): boolean {
  const strip = (s: string) => s.replace(/^::ffff:/, '').toLowerCase();
  return strip(a) === strip(b);
}

export class Forwarder {
  readonly upstreams: readonly Upstream[];
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private inFlight = 0;

  constructor(opts: ForwarderOptions) {
    this.upstreams = opts.upstreams;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxInFlight = opts.maxInFlight ?? 512;
  }

  /** The upstream's reply with the client's id, or undefined when no upstream answered in time. */
  async forward(query: Buffer, transport: Transport): Promise<Buffer | undefined> {
    if (query.length < 12 || questionEnd(query) < 0 || this.inFlight >= this.maxInFlight) return undefined;
    this.inFlight++;
    try {
      for (const upstream of this.upstreams) {
        const id = randomInt(0, 0x10000);
        const out = Buffer.from(query);
        out.writeUInt16BE(id, 0);
        const reply = transport === 'udp' ? await this.udp(upstream, out) : await this.tcp(upstream, out);
        if (reply) {
          reply.writeUInt16BE(query.readUInt16BE(0), 0);
          return reply;
        }
      }
      return undefined;
    } finally {
      this.inFlight--;
    }
  }

  private udp(upstream: Upstream, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      let socket: UdpSocket;
      try {
        socket = createSocket(isIPv6(upstream.host.split('%')[0] ?? '') ? 'udp6' : 'udp4');
      } catch {
        resolve(undefined);
        return;
      }
      let done = false;
      const finish = (value: Buffer | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.close();
        resolve(value);
      };
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      socket.on('error', () => finish(undefined));
      socket.on('message', (msg, rinfo) => {
        // ignore stray datagrams: wrong source, id or question
        if (rinfo.port === upstream.port && sameHost(rinfo.address, upstream.host) && matches(query, msg)) finish(msg);
      });
      // port 0: the OS picks a random ephemeral source port for every forward
      socket.bind(0, () => {
        socket.send(query, upstream.port, upstream.host, (err) => {
          if (err) finish(undefined);
        });
      });
    });
  }

  private tcp(upstream: Upstream, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = connect({ host: upstream.host, port: upstream.port });
      let buf = Buffer.alloc(0);
      let done = false;
      const finish = (value: Buffer | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        resolve(value);
      };
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      sock.on('error', () => finish(undefined));
      sock.on('close', () => finish(undefined));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2) return;
        const need = buf.readUInt16BE(0);
        if (buf.length < need + 2) return;
        const reply = Buffer.from(buf.subarray(2, need + 2));
        finish(matches(query, reply) ? reply : undefined);
      });
    });
  }
}
