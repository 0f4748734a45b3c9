/**
 * Turns one DNS query (wire bytes) into a reply from the `.internal` zone, or into "forward this"
 * for names outside it. Shared by every UDP and TCP listener of the server.
 *
 * Hot path (bench/dns: >= 20k qps, p99 <= 1 ms): a plain query (one question, at most an OPT
 * record; core/dns/wire.ts) is read in place without dns-packet, and its encoded reply is cached
 * per listener network and transport, keyed by the question bytes (exact case) and the header
 * and EDNS bits the reply depends on (`variant`). A repeated question then costs a hash over its
 * ~30 question bytes, a byte compare, a copy and a 2-byte id patch, with no string or decoded
 * packet per query. A miss, and every other query shape, takes the full dns-packet path, which
 * alone decides what a reply says; the cache only remembers it. The cache is dropped with the
 * zone it was built from, and bounded so that a client cycling through random names or case
 * variants cannot grow it without limit.
 */
import { decode, encode, type Answer, type DecodedPacket, type Packet, type Question } from 'dns-packet';
import type { LookupResult, Zone, ZoneRecord } from '../core/dns/zone.js';
import { isInternalName, normalizeName } from '../core/dns/zone.js';
import { readSimpleQuery, simpleQuery } from '../core/dns/wire.js';
import { questionHash, ReplyCache } from './reply-cache.js';

export type Transport = 'udp' | 'tcp';

/** What to do with a query. */
export type Outcome =
  | { kind: 'reply'; bytes: Buffer }
  /** Not ours: forward `query` upstream; answer `servfail` if that fails. */
  | { kind: 'forward'; query: Buffer; servfail: () => Buffer }
  /** Not a query (too short, or a response): say nothing, so we never feed a reflection loop. */
  | { kind: 'drop' };

/** Our EDNS UDP payload size: 1232 bytes, the DNS Flag Day 2020 value that avoids IP fragmentation. */
export const EDNS_UDP_SIZE = 1232;
/** RFC 1035 §4.2.1: UDP replies without EDNS are at most 512 bytes. */
export const PLAIN_UDP_SIZE = 512;
const CACHE_MAX = 20_000;
const DROP: Outcome = Object.freeze({ kind: 'drop' });

const QR = 1 << 15;
const AA = 1 << 10;
const TC = 1 << 9;
const RD = 1 << 8;
const RA = 1 << 7;
const CD = 1 << 4;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type RcodeName = keyof typeof RCODE;
/** EDNS BADVERS (16): upper 8 bits in the OPT record, lower 4 in the header (RFC 6891 §6.1.3). */
const BADVERS_EXTENDED = 1;

type OptRecord = Extract<Answer, { type: 'OPT' }>;

/** A header-only reply (no sections): for queries we cannot parse far enough to echo. */
function headerOnly(msg: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(msg.readUInt16BE(0), 0);
  const flags = msg.readUInt16BE(2);
  // keep opcode and RD, set QR and RA
  out.writeUInt16BE(QR | (flags & 0x7800) | (flags & RD) | RA | rcode, 2);
  return out;
}

function toAnswer(r: ZoneRecord, name: string): Answer {
  // dns-packet's TXT encoder replaces strings by Buffers inside the array it gets: hand it a copy
  // so the zone stays immutable.
  if (r.type === 'TXT') return { name, type: 'TXT', class: 'IN', ttl: r.ttl, data: [...r.data] };
  if (r.type === 'SOA') return { name: r.name, type: 'SOA', class: 'IN', ttl: r.ttl, data: { ...r.data } };
  return { name, type: r.type, class: 'IN', ttl: r.ttl, data: r.data };
}

interface ParsedQuery {
  packet: DecodedPacket;
  question: Question;
  opt: OptRecord | undefined;
  flags: number;
}

/**
 * The inputs of a reply besides the id and the question bytes: the RD and CD bits it copies, and
 * for EDNS queries a flag and, over UDP, the size it must fit (the truncation limit).
 */
function replyVariant(flags: number, ednsUdpSize: number, transport: Transport): number {
  const bits = flags & (RD | CD);
  if (ednsUdpSize < 0) return bits;
  return bits | (1 << 16) | (transport === 'udp' ? udpLimit(ednsUdpSize) << 17 : 0);
}

/** The largest UDP reply a client may get: 512 without EDNS, else its size clamped to [512, 1232]. */
function udpLimit(ednsUdpSize: number | undefined): number {
  return ednsUdpSize === undefined ? PLAIN_UDP_SIZE : Math.max(PLAIN_UDP_SIZE, Math.min(ednsUdpSize, EDNS_UDP_SIZE));
}

export class Responder {
  private zone: Zone | undefined;
  /** Per transport, per listener network (a network's name is one string, so lookups hash it once). */
  private caches = { udp: new Map<string, ReplyCache>(), tcp: new Map<string, ReplyCache>() };
  /** Filled by `readSimpleQuery` for each query; respond() is synchronous, so one suffices. */
  private readonly simple = simpleQuery();

  /** Replaces the zone; replies cached from the previous one are dropped with it. */
  setZone(zone: Zone): void {
    this.zone = zone;
    this.caches = { udp: new Map(), tcp: new Map() };
  }

  /** Replies cached for `network` over `transport` (for tests). */
  cachedReplies(network: string, transport: Transport): number {
    return this.caches[transport].get(network)?.size ?? 0;
  }

  private cacheFor(network: string, transport: Transport): ReplyCache {
    const byNetwork = this.caches[transport];
    let cache = byNetwork.get(network);
    if (!cache) {
      cache = new ReplyCache(CACHE_MAX);
      byNetwork.set(network, cache);
    }
    return cache;
  }

  get currentZone(): Zone | undefined {
    return this.zone;
  }

  /** Answers one query that arrived on `network`'s listener over `transport`. */
  respond(network: string, msg: Buffer, transport: Transport): Outcome {
    if (msg.length < 12) return DROP;
    const flags = msg.readUInt16BE(2);
    if ((flags & QR) !== 0) return DROP;
    let cache: ReplyCache | undefined;
    let questionEnd = 0;
    let variant = 0;
    let hash = 0;
    // EDNS versions other than 0 get BADVERS from the full path; the key does not carry the version.
    if (readSimpleQuery(msg, this.simple) && this.simple.ednsVersion === 0) {
      cache = this.cacheFor(network, transport);
      questionEnd = this.simple.questionEnd;
      variant = replyVariant(flags, this.simple.ednsUdpSize, transport);
      hash = questionHash(msg, 12, questionEnd, variant);
      const cached = cache.get(msg, questionEnd, variant, hash);
      if (cached) return { kind: 'reply', bytes: withId(cached, msg.readUInt16BE(0)) };
    }

    const opcode = (flags >> 11) & 0xf;
    if (opcode !== 0) return { kind: 'reply', bytes: headerOnly(msg, RCODE.NOTIMP) };
    let parsed: ParsedQuery;
    try {
      const packet = decode(msg);
      const questions = packet.questions ?? [];
      const question = questions[0];
      if (questions.length !== 1 || !question || (packet.answers ?? []).length > 0) return { kind: 'reply', bytes: headerOnly(msg, RCODE.FORMERR) };
      const opt = (packet.additionals ?? []).find((a): a is OptRecord => a.type === 'OPT');
      parsed = { packet, question, opt, flags };
    } catch {
      return { kind: 'reply', bytes: headerOnly(msg, RCODE.FORMERR) };
    }
    const { question, opt } = parsed;
    if (opt && opt.ednsVersion !== 0) return { kind: 'reply', bytes: this.encodeReply(parsed, 'NOERROR', [], [], transport, BADVERS_EXTENDED) };

    const name = normalizeName(question.name);
    const internal = isInternalName(name);
    if ((question.class ?? 'IN') !== 'IN') {
      // Only class IN exists in .internal; other classes of public names go upstream untouched.
      if (internal) return { kind: 'reply', bytes: this.encodeReply(parsed, 'REFUSED', [], [], transport) };
      return this.forwardOutcome(parsed, msg, transport);
    }
    if (!internal) return this.forwardOutcome(parsed, msg, transport);
    if (!this.zone) return { kind: 'reply', bytes: this.encodeReply(parsed, 'SERVFAIL', [], [], transport) };

    const result: LookupResult = this.zone.lookup(network, question.name, question.type);
    if (result.kind === 'forward') return this.forwardOutcome(parsed, msg, transport);
    const answers = result.answers.map((r) => toAnswer(r, question.name));
    const authority = result.authority.map((r) => toAnswer(r, r.name));
    const bytes = this.encodeReply(parsed, result.rcode, answers, authority, transport);
    // Only simple queries are cached: their key covers every input of the reply (see replyVariant).
    cache?.set(msg, questionEnd, variant, hash, bytes);
    return { kind: 'reply', bytes: withId(bytes, msg.readUInt16BE(0)) };
  }

  /** A SERVFAIL reply to `msg` (used when a forward fails), or undefined if `msg` is not a query. */
  servfail(msg: Buffer, transport: Transport): Buffer | undefined {
    if (msg.length < 12) return undefined;
    try {
      const packet = decode(msg);
      const question = packet.questions?.[0];
      if (!question) return headerOnly(msg, RCODE.SERVFAIL);
      const opt = (packet.additionals ?? []).find((a): a is OptRecord => a.type === 'OPT');
      return this.encodeReply({ packet, question, opt, flags: msg.readUInt16BE(2) }, 'SERVFAIL', [], [], transport);
    } catch {
      return headerOnly(msg, RCODE.SERVFAIL);
    }
  }

  private forwardOutcome(parsed: ParsedQuery, msg: Buffer, transport: Transport): Outcome {
    return { kind: 'forward', query: msg, servfail: () => this.encodeReply(parsed, 'SERVFAIL', [], [], transport) };
  }

  private encodeReply(q: ParsedQuery, rcode: RcodeName, answers: Answer[], authority: Answer[], transport: Transport, extendedRcode = 0): Buffer {
    const internal = isInternalName(normalizeName(q.question.name));
    let flags = (q.flags & RD) | (q.flags & CD) | RA | RCODE[rcode];
    if (internal && rcode !== 'SERVFAIL' && rcode !== 'REFUSED') flags |= AA;
    const additionals: Answer[] = q.opt
      ? [{ name: '.', type: 'OPT', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [];
    const packet: Packet = {
      type: 'response',
      id: q.packet.id ?? 0,
      flags,
      questions: [q.question],
      answers,
      authorities: authority,
      additionals,
    };
    const bytes = encode(packet);
    if (transport === 'tcp') return bytes;
    const limit = udpLimit(q.opt?.udpPayloadSize);
    if (bytes.length <= limit) return bytes;
    // Too big for this client over UDP: an empty reply with TC makes it retry over TCP (RFC 7766).
    return encode({ ...packet, flags: flags | TC, answers: [], authorities: [] });
  }
}

/** A copy of a cached reply with the query's id; TypedArray#set copies without a call into C++ as Buffer#copy makes. */
function withId(bytes: Buffer, id: number): Buffer {
  const out = Buffer.allocUnsafe(bytes.length);
  out.set(bytes);
  out[0] = id >> 8;
  out[1] = id & 0xff;
  return out;
}
