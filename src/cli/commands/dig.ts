/**
 * `hangar dig [type] <name> [--server host:port] [--timeout ms] [--json]`: asks Hangar's
 * `.internal` resolver, as `fly dig` asks Fly's (reference §1e). Prints the answers like
 * `dig +short`; `--json` prints the whole response. The type defaults to AAAA, the type the
 * resolver answers `.internal` names with. A truncated UDP reply is retried over TCP, as a
 * resolver library would.
 *
 * Server: `--server`, else `HANGAR_DNS_ADDR`, else `127.0.0.1:5354` (the loopback listener of
 * an embedded `hangar server`). Unlike the other commands this talks DNS, not the API: the
 * resolver is the thing being inspected.
 */
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';
import { decode, encode, type Answer, type DecodedPacket, type RecordType } from 'dns-packet';
import { HangarError } from '../../core/errors.js';
import { ENV } from '../../env.js';
import type { CommandContext } from '../registry.js';

interface Options {
  server?: string;
  timeout?: string;
}

/** The environment variable naming the resolver `hangar dig` asks. */
export const DEFAULT_DNS_ADDR = '127.0.0.1:5354';
const DEFAULT_TIMEOUT_MS = 2000;

const TYPES: readonly RecordType[] = ['A', 'AAAA', 'TXT', 'SOA', 'NS', 'CNAME', 'MX', 'SRV', 'PTR', 'CAA', 'HINFO', 'NAPTR', 'DS', 'DNSKEY'];

/** A failed exchange with the resolver. Code to be added to `core/errors.ts`. */
export class DigError extends HangarError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('HANGAR_ERR_DNS_UNREACHABLE', message, options);
    this.name = 'DigError';
  }
}

function usage(message: string): HangarError {
  return new HangarError('HANGAR_ERR_USAGE', message);
}

/** `host:port`, `[v6]:port`, `host` or a bare IPv6 address (port 53). */
export function parseServer(text: string): { host: string; port: number } {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  let host: string;
  let port = '53';
  if (bracket) {
    host = bracket[1] ?? '';
    if (bracket[2]) port = bracket[2];
  } else if (isIPv6(text)) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    host = i < 0 ? text : text.slice(0, i);
    if (i >= 0) port = text.slice(i + 1);
  }
  const n = Number(port);
  if (host === '' || !/^\d+$/.test(port) || n < 1 || n > 65535) throw usage(`invalid DNS server address ${JSON.stringify(text)} (want host:port, e.g. 127.0.0.1:5354)`);
  return { host, port: n };
}

/** `[type] <name>` from positionals, whichever way the registry declares them. */
export function parseArgs(args: unknown[]): { type: RecordType | 'ANY'; name: string } {
  const words = args.flat().filter((a): a is string => typeof a === 'string' && a !== '');
  if (words.length === 0 || words.length > 2) throw usage('usage: hangar dig [type] <name>');
  const name = words[words.length - 1] ?? '';
  const type = (words.length === 2 ? (words[0] ?? '') : 'AAAA').toUpperCase();
  if (type !== 'ANY' && !TYPES.includes(type as RecordType)) throw usage(`unknown record type ${JSON.stringify(type)} (one of ${TYPES.join(', ')}, ANY)`);
  return { type: type as RecordType | 'ANY', name };
}

function exchangeUdp(server: { host: string; port: number }, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new DigError(`no answer from ${server.host}:${server.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(new DigError(`cannot query ${server.host}:${server.port}: ${err.message}`, { cause: err }));
    });
    sock.on('message', (msg) => {
      if (msg.length < 2 || msg.readUInt16BE(0) !== query.readUInt16BE(0)) return;
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.send(query, server.port, server.host);
  });
}

function exchangeTcp(server: { host: string; port: number }, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    const fail = (why: string, cause?: unknown) => {
      clearTimeout(timer);
      sock.destroy();
      reject(new DigError(`cannot query ${server.host}:${server.port} over TCP: ${why}`, { cause }));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    sock.on('error', (err) => fail(err.message, err));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < buf.readUInt16BE(0) + 2) return;
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.from(buf.subarray(2, buf.readUInt16BE(0) + 2)));
    });
  });
}

/** Asks `server` for `name`/`type`: UDP with EDNS first, TCP when the reply is truncated. */
export async function dig(server: { host: string; port: number }, name: string, type: RecordType | 'ANY', timeoutMs = DEFAULT_TIMEOUT_MS): Promise<DecodedPacket & { rcode?: string }> {
  const query = encode({
    type: 'query',
    id: randomInt(0, 0x10000),
    flags: 1 << 8,
    questions: [{ name, type: type as RecordType }],
    additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
  let reply = decode(await exchangeUdp(server, query, timeoutMs));
  if (reply.flag_tc) reply = decode(await exchangeTcp(server, query, timeoutMs));
  return reply;
}

function text(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) return value.map(text);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, text(v)]));
  return value;
}

/** One answer as `dig +short` prints it. */
export function shortForm(a: Answer): string {
  if (a.type === 'OPT') return '';
  const data: unknown = a.data;
  if (a.type === 'TXT') return (Array.isArray(data) ? data : [data]).map((s) => JSON.stringify(String(text(s)))).join(' ');
  if (a.type === 'SOA') {
    const s = a.data;
    return `${s.mname}. ${s.rname}. ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
  }
  if (typeof data === 'string') return data;
  return JSON.stringify(text(data));
}

export async function run(ctx: CommandContext<Options>): Promise<void> {
  const { type, name } = parseArgs(ctx.args);
  const server = parseServer(ctx.options.server ?? process.env[ENV.dnsAddr] ?? DEFAULT_DNS_ADDR);
  const timeoutMs = ctx.options.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(ctx.options.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw usage(`invalid --timeout ${JSON.stringify(ctx.options.timeout)} (want milliseconds)`);
  const reply = await dig(server, name, type, timeoutMs);
  if (ctx.out.json) {
    ctx.out.printJson({
      server: `${server.host}:${server.port}`,
      id: reply.id,
      rcode: reply.rcode,
      flags: { aa: reply.flag_aa, tc: reply.flag_tc, rd: reply.flag_rd, ra: reply.flag_ra },
      questions: reply.questions ?? [],
      answers: text(reply.answers ?? []),
      authorities: text(reply.authorities ?? []),
      additionals: text(reply.additionals ?? []),
    });
    return;
  }
  for (const a of reply.answers ?? []) ctx.out.line(shortForm(a));
  // dig +short stays silent on NXDOMAIN; say why nothing was printed, on stderr
  if (reply.rcode && reply.rcode !== 'NOERROR') ctx.out.err(`;; status: ${reply.rcode}`);
}
