/**
 * A byte-level reader for the one query shape the resolver's hot path sees: a standard query
 * with one question and at most an EDNS OPT record, its name written out in full (no
 * compression pointer). It finds where the question ends and reads the EDNS fields, without
 * allocating, so `src/dns/respond.ts` can key its reply cache on the question bytes. Anything
 * else (several questions, records in the answer or authority sections, pointers, trailing
 * bytes, odd EDNS options) is "not simple" and goes through dns-packet's full decode as before.
 *
 * The reader is strict on purpose: for every query it accepts, dns-packet decodes the same bytes
 * without error, so a reply cached for these bytes is the reply the full decode would produce.
 */

/** Where a simple query's parts are; filled in place by `readSimpleQuery` (no allocation). */
export interface SimpleQuery {
  /** Offset just past QCLASS: the question section is `msg[12, questionEnd)`. */
  questionEnd: number;
  qtype: number;
  qclass: number;
  /** The OPT record's requestor UDP payload size; -1 when the query has no OPT record. */
  ednsUdpSize: number;
  ednsVersion: number;
}

const HEADER = 12;
/** RFC 1035 §2.3.4: 255 octets per name on the wire; dns-packet rejects label bytes over 254. */
const MAX_NAME_LABEL_BYTES = 254;
const TYPE_OPT = 41;
/**
 * EDNS options dns-packet decodes field by field (ECS, edns-tcp-keepalive, edns-key-tag): their
 * decoders can throw on a malformed body, which the full path turns into FORMERR. Queries
 * carrying them skip the fast path so that answer stays the same. Other options (a cookie from
 * dig, padding) are opaque bytes to dns-packet.
 */
function optionDecodedByFields(code: number): boolean {
  return code === 8 || code === 11 || code === 14;
}

/** A new, empty `SimpleQuery` to pass to `readSimpleQuery` again and again. */
export function simpleQuery(): SimpleQuery {
  return { questionEnd: 0, qtype: 0, qclass: 0, ednsUdpSize: -1, ednsVersion: 0 };
}

/**
 * Whether `msg` is a simple query (see the file comment); if so, fills `out`. Header checks:
 * QR 0, opcode QUERY, QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1 (an OPT with the root
 * name), and nothing after the last record.
 */
export function readSimpleQuery(msg: Uint8Array, out: SimpleQuery): boolean {
  const len = msg.length;
  if (len < HEADER + 5) return false;
  // QR (bit 15) and opcode (bits 11-14) must all be 0
  if ((msg[2]! & 0xf8) !== 0) return false;
  if (msg[4] !== 0 || msg[5] !== 1 || msg[6] !== 0 || msg[7] !== 0 || msg[8] !== 0 || msg[9] !== 0 || msg[10] !== 0) return false;
  const arcount = msg[11]!;
  if (arcount > 1) return false;

  let off = HEADER;
  let nameBytes = 0;
  for (;;) {
    if (off >= len) return false;
    const l = msg[off]!;
    off++;
    if (l === 0) break;
    // a compression pointer (0xc0) or a reserved label type (0x40, 0x80)
    if (l > 63) return false;
    nameBytes += l + 1;
    if (nameBytes > MAX_NAME_LABEL_BYTES) return false;
    off += l;
  }
  if (off + 4 > len) return false;
  out.qtype = (msg[off]! << 8) | msg[off + 1]!;
  out.qclass = (msg[off + 2]! << 8) | msg[off + 3]!;
  off += 4;
  out.questionEnd = off;

  if (arcount === 0) {
    out.ednsUdpSize = -1;
    out.ednsVersion = 0;
    return off === len;
  }
  // OPT: root name (1) + TYPE (2) + CLASS = UDP size (2) + TTL = ext-rcode, version, flags (4) + RDLEN (2)
  if (off + 11 > len || msg[off] !== 0) return false;
  if (((msg[off + 1]! << 8) | msg[off + 2]!) !== TYPE_OPT) return false;
  out.ednsUdpSize = (msg[off + 3]! << 8) | msg[off + 4]!;
  out.ednsVersion = msg[off + 6]!;
  const rdlen = (msg[off + 9]! << 8) | msg[off + 10]!;
  off += 11;
  const end = off + rdlen;
  if (end !== len) return false;
  while (off < end) {
    if (off + 4 > end) return false;
    const code = (msg[off]! << 8) | msg[off + 1]!;
    const optLen = (msg[off + 2]! << 8) | msg[off + 3]!;
    if (optionDecodedByFields(code)) return false;
    off += 4 + optLen;
  }
  return off === end;
}
