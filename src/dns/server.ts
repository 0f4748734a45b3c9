/**
 * The `.internal` resolver (ARCHITECTURE.md "Networking (6PN)"): DNS over UDP and TCP on one
 * listener per network (its `<prefix>::3` address, port 53) plus, for tests and `hangar dig`, a
 * loopback port. Each listener serves one network's view of the zone, so a machine sees only
 * its own network's apps. Answers come from `Responder`; other names are forwarded.
 *
 * Every listener binds the same port number for UDP and TCP (asked for 0, UDP picks one and TCP
 * follows), because a client told to retry over TCP (TC bit) reuses the address it asked.
 *
 * Malformed input never throws out of a handler: bad packets get FORMERR or are dropped, and
 * socket errors are reported to `onError` and otherwise ignored.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server as TcpServer, type Socket as TcpSocket } from 'node:net';
import type { Zone } from '../core/dns/zone.js';
import { Forwarder, type Upstream } from './forward.js';
import { Responder, type Outcome, type Transport } from './respond.js';

export interface ListenSpec {
  /** The network whose view this listener answers from. */
  network: string;
  host: string;
  /** 53 on a network's ::3 address; 0 for "any free port" (tests). */
  port: number;
}

export interface BoundListener {
  network: string;
  host: string;
  port: number;
}

export interface DnsServerOptions {
  /** Resolvers for names outside `.internal` (see resolv-conf.ts). None: such names get SERVFAIL. */
  upstreams?: readonly Upstream[];
  /** Per-upstream forward timeout; default 2000 ms. */
  forwardTimeoutMs?: number;
  /** A TCP connection idle this long is closed (RFC 7766 §6.2.3); default 10 s. */
  tcpIdleMs?: number;
  /** Socket-level errors (the server keeps running). */
  onError?: (err: Error, where: string) => void;
}

interface Listener extends BoundListener {
  udp: UdpSocket;
  tcp: TcpServer;
  conns: Set<TcpSocket>;
  /** Set by unlisten/close: late forwarded answers are not sent any more. */
  closed: boolean;
}

/**
 * The listeners' UDP sockets send only to the source address of a datagram they received,
 * always an IP literal. Node's default lookup (dns.lookup) answers a literal on the next tick,
 * so every reply would wait for a tick and allocate its continuation; this passes the literal
 * straight through, making `send` synchronous.
 */
export function literalLookup(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  // dgram passes its socket's family (4 or 6) here, and uses only the address it gets back
  callback(null, address, family === 6 ? 6 : 4);
}

/** Largest TCP frame a client may send (a query is small; this bounds buffering). */
const MAX_TCP_QUERY = 4096;
const BIND_ATTEMPTS = 8;

export class DnsServer {
  private readonly responder = new Responder();
  private readonly forwarder: Forwarder;
  private readonly listeners = new Map<string, Listener>();
  private readonly tcpIdleMs: number;
  private readonly onError: (err: Error, where: string) => void;

  constructor(opts: DnsServerOptions = {}) {
    this.forwarder = new Forwarder({ upstreams: opts.upstreams ?? [], ...(opts.forwardTimeoutMs === undefined ? {} : { timeoutMs: opts.forwardTimeoutMs }) });
    this.tcpIdleMs = opts.tcpIdleMs ?? 10_000;
    this.onError = opts.onError ?? (() => undefined);
  }

  /** Serves `zone` from now on (every listener). */
  setZone(zone: Zone): void {
    this.responder.setZone(zone);
  }

  /** The listeners bound so far. */
  bound(): BoundListener[] {
    return [...this.listeners.values()].map(({ network, host, port }) => ({ network, host, port }));
  }

  /** Starts answering `spec.network`'s queries on `spec.host:spec.port` over UDP and TCP. */
  async listen(spec: ListenSpec): Promise<BoundListener> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < (spec.port === 0 ? BIND_ATTEMPTS : 1); attempt++) {
      const udp = createSocket({ type: isIPv6(spec.host) ? 'udp6' : 'udp4', ipv6Only: isIPv6(spec.host), lookup: literalLookup });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(spec.port, spec.host, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        throw err;
      }
      const port = udp.address().port;
      const conns = new Set<TcpSocket>();
      const tcp = createServer((sock) => this.onTcp(spec.network, sock, conns));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ port, host: spec.host, ipv6Only: isIPv6(spec.host) }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        // the UDP port's TCP twin is taken: with port 0, try another pair
        udp.close();
        lastErr = err;
        continue;
      }
      const listener: Listener = { network: spec.network, host: spec.host, port, udp, tcp, conns, closed: false };
      udp.on('message', (msg, rinfo) => this.onUdp(listener, msg, rinfo.address, rinfo.port));
      udp.on('error', (err) => this.onError(err, `udp ${spec.host}:${port}`));
      tcp.on('error', (err) => this.onError(err, `tcp ${spec.host}:${port}`));
      this.listeners.set(`${spec.host}|${port}`, listener);
      return { network: spec.network, host: spec.host, port };
    }
    throw lastErr instanceof Error ? lastErr : new Error(`cannot bind DNS listener on ${spec.host}`);
  }

  /** Stops one listener (e.g. a network's ::3 address going away). */
  async unlisten(host: string, port: number): Promise<void> {
    const key = `${host}|${port}`;
    const l = this.listeners.get(key);
    if (!l) return;
    this.listeners.delete(key);
    await closeListener(l);
  }

  /** Stops every listener and drops open TCP connections. */
  async close(): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map(closeListener));
  }

  private outcome(network: string, msg: Buffer, transport: Transport): Outcome | undefined {
    try {
      return this.responder.respond(network, msg, transport);
    } catch (err) {
      // a bug must not take the resolver down; the client times out and retries
      this.onError(err as Error, 'respond');
      return undefined;
    }
  }

  private forward(outcome: Extract<Outcome, { kind: 'forward' }>, transport: Transport, send: (bytes: Buffer) => void): void {
    const { servfail } = outcome;
    this.forwarder.forward(outcome.query, transport).then(
      (reply) => send(reply ?? servfail()),
      (err: unknown) => {
        this.onError(err as Error, 'forward');
        send(servfail());
      },
    );
  }

  /**
   * The hot path: a cached `.internal` answer goes out synchronously, with no closure, promise or
   * send callback per query. Without a callback Node reports no send error; a UDP reply that
   * cannot be sent (a full socket buffer) is a lost datagram the client retries, so the forward
   * path below, which is not hot, is the only one that still reports them.
   */
  private onUdp(l: Listener, msg: Buffer, address: string, port: number): void {
    const outcome = this.outcome(l.network, msg, 'udp');
    if (outcome === undefined || l.closed) return;
    if (outcome.kind === 'reply') l.udp.send(outcome.bytes, port, address);
    else if (outcome.kind === 'forward') {
      this.forward(outcome, 'udp', (bytes) => {
        if (l.closed) return;
        l.udp.send(bytes, port, address, (err) => {
          if (err) this.onError(err, `udp send to ${address}:${port}`);
        });
      });
    }
  }

  private onTcp(network: string, sock: TcpSocket, conns: Set<TcpSocket>): void {
    conns.add(sock);
    let buf: Buffer = Buffer.alloc(0);
    sock.setNoDelay(true);
    sock.setTimeout(this.tcpIdleMs, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('close', () => conns.delete(sock));
    const send = (bytes: Buffer) => {
      if (sock.destroyed || !sock.writable) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(bytes.length);
      sock.write(Buffer.concat([len, bytes]));
    };
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      // RFC 7766: several queries may arrive on one connection, pipelined; answers may be out of order.
      while (buf.length >= 2) {
        const need = buf.readUInt16BE(0);
        if (need === 0 || need > MAX_TCP_QUERY) {
          sock.destroy();
          return;
        }
        if (buf.length < need + 2) return;
        const msg = Buffer.from(buf.subarray(2, need + 2));
        buf = buf.subarray(need + 2);
        const outcome = this.outcome(network, msg, 'tcp');
        if (outcome?.kind === 'reply') send(outcome.bytes);
        else if (outcome?.kind === 'forward') this.forward(outcome, 'tcp', send);
      }
    });
  }
}

async function closeListener(l: Listener): Promise<void> {
  l.closed = true;
  for (const c of l.conns) c.destroy();
  await Promise.all([
    new Promise<void>((resolve) => {
      try {
        l.udp.close(() => resolve());
      } catch {
        resolve();
      }
    }),
    new Promise<void>((resolve) => l.tcp.close(() => resolve())),
  ]);
}
