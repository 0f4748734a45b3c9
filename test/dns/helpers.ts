/**
 * DNS test helpers: queries over real UDP/TCP sockets on 127.0.0.1, and a tiny fake upstream
 * resolver (never a real external one).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { decode, encode, type DecodedPacket, type Packet } from 'dns-packet';

export function query(name: string, type: string, opts: { id?: number; edns?: number; flags?: number } = {}): Buffer {
  const packet: Packet = {
    type: 'query',
    id: opts.id ?? 4242,
    flags: opts.flags ?? 1 << 8,
    questions: [{ name, type: type as 'A' }],
    ...(opts.edns === undefined ? {} : { additionals: [{ name: '.', type: 'OPT', udpPayloadSize: opts.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] }),
  };
  return encode(packet);
}

/** A decoded reply; dns-packet decodes `rcode` too but its types omit it. */
export type Reply = DecodedPacket & { rcode: string };

export function rcodeOf(bytes: Buffer): number {
  return bytes.readUInt16BE(2) & 0xf;
}

/** Sends raw bytes over UDP; resolves with the first reply or undefined after `timeoutMs`. */
export function udpRaw(port: number, bytes: Buffer, timeoutMs = 1000, host = '127.0.0.1'): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve(msg);
    });
    s.send(bytes, port, host);
  });
}

export async function udp(port: number, bytes: Buffer, timeoutMs = 1000): Promise<Reply> {
  const reply = await udpRaw(port, bytes, timeoutMs);
  if (!reply) throw new Error('no UDP reply');
  return decode(reply) as Reply;
}

/** Sends framed messages over one TCP connection and collects `expect` framed replies. */
export function tcpRaw(port: number, frames: Buffer[], expect = frames.length, timeoutMs = 2000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: '127.0.0.1' });
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(replies);
    }, timeoutMs);
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(replies);
    });
    sock.on('connect', () => sock.write(Buffer.concat(frames)));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        replies.push(buf.subarray(2, buf.readUInt16BE(0) + 2));
        buf = buf.subarray(buf.readUInt16BE(0) + 2);
      }
      if (replies.length >= expect) {
        clearTimeout(timer);
        sock.destroy();
        resolve(replies);
      }
    });
  });
}

export function frame(bytes: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

export async function tcp(port: number, bytes: Buffer): Promise<Reply> {
  const [reply] = await tcpRaw(port, [frame(bytes)], 1);
  if (!reply) throw new Error('no TCP reply');
  return decode(reply) as Reply;
}

/** A fake upstream resolver on 127.0.0.1 (UDP and TCP on one port). */
export interface FakeUpstream {
  port: number;
  /** Queries received: id, source port, transport, name. */
  seen: { id: number; port: number; transport: 'udp' | 'tcp'; name: string }[];
  /** false: receive but never answer (timeouts). */
  answering: boolean;
  /** true: answer UDP from a wrong id first (spoof), then correctly. */
  spoofFirst: boolean;
  close(): Promise<void>;
}

function upstreamReply(q: DecodedPacket, idOverride?: number, address = '192.0.2.7'): Buffer {
  const question = q.questions?.[0];
  return encode({
    type: 'response',
    id: idOverride ?? q.id ?? 0,
    flags: (1 << 7) | (1 << 8),
    questions: question ? [question] : [],
    answers: question ? [{ name: question.name, type: 'A', class: 'IN', ttl: 60, data: address }] : [],
  });
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const udpSock: UdpSocket = createSocket('udp4');
  await new Promise<void>((r) => udpSock.bind(0, '127.0.0.1', () => r()));
  const port = udpSock.address().port;
  const tcpServer: Server = createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < buf.readUInt16BE(0) + 2) return;
      const q = decode(buf.subarray(2, buf.readUInt16BE(0) + 2));
      fake.seen.push({ id: q.id ?? 0, port: sock.remotePort ?? 0, transport: 'tcp', name: q.questions?.[0]?.name ?? '' });
      if (fake.answering) sock.write(frame(upstreamReply(q)));
    });
  });
  await new Promise<void>((r) => tcpServer.listen(port, '127.0.0.1', () => r()));
  const fake: FakeUpstream = {
    port,
    seen: [],
    answering: true,
    spoofFirst: false,
    close: async () => {
      await new Promise<void>((r) => udpSock.close(() => r()));
      await new Promise<void>((r) => tcpServer.close(() => r()));
    },
  };
  udpSock.on('message', (msg, rinfo) => {
    const q = decode(msg);
    fake.seen.push({ id: q.id ?? 0, port: rinfo.port, transport: 'udp', name: q.questions?.[0]?.name ?? '' });
    if (!fake.answering) return;
    if (fake.spoofFirst) udpSock.send(upstreamReply(q, ((q.id ?? 0) + 1) & 0xffff, '203.0.113.66'), rinfo.port, rinfo.address);
    udpSock.send(upstreamReply(q), rinfo.port, rinfo.address);
  });
  return fake;
}
