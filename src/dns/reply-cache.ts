/**
 * Encoded replies keyed by a query's question bytes (`msg[12, questionEnd)`, exact case) and a
 * small integer of the other inputs that shape the reply (`variant`: RD/CD bits, EDNS presence
 * and the UDP size limit). A lookup hashes those bytes in place and compares them with the
 * stored copy, so a hit allocates nothing; a string key would cost a string per query plus its
 * hashing (bench/dns).
 *
 * Exact case rather than lowercased: the reply echoes the question's spelling in the question
 * and answer names, so two spellings are two different replies. Stub resolvers ask one spelling;
 * a client randomizing case (DNS 0x20) only fills the cache, which is bounded.
 */

const BUCKET_BITS = 15;
const BUCKET_MASK = (1 << BUCKET_BITS) - 1;

interface Entry {
  hash: number;
  variant: number;
  question: Buffer;
  reply: Buffer;
  next: Entry | undefined;
}

/** FNV-1a over `msg[start, end)` then `variant`: cheap, and spreads names that differ in one byte. */
export function questionHash(msg: Uint8Array, start: number, end: number, variant: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ msg[i]!, 0x01000193);
  h = Math.imul(h ^ (variant & 0xffff), 0x01000193);
  h = Math.imul(h ^ (variant >>> 16), 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array, bStart: number, bEnd: number): boolean {
  if (a.length !== bEnd - bStart) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[bStart + i]) return false;
  return true;
}

export class ReplyCache {
  private buckets: (Entry | undefined)[] = new Array<Entry | undefined>(BUCKET_MASK + 1).fill(undefined);
  private count = 0;

  /** At most `max` replies; past that the cache starts over (cheaper than LRU bookkeeping per hit). */
  constructor(private readonly max: number) {}

  get size(): number {
    return this.count;
  }

  /** The reply stored for `msg`'s question bytes `[12, questionEnd)` and `variant`, if any. */
  get(msg: Uint8Array, questionEnd: number, variant: number, hash: number): Buffer | undefined {
    for (let e = this.buckets[hash & BUCKET_MASK]; e !== undefined; e = e.next) {
      if (e.hash === hash && e.variant === variant && sameBytes(e.question, msg, 12, questionEnd)) return e.reply;
    }
    return undefined;
  }

  /** Stores `reply` (not copied: the caller hands it over) for `msg`'s question bytes and `variant`. */
  set(msg: Uint8Array, questionEnd: number, variant: number, hash: number, reply: Buffer): void {
    if (this.count >= this.max) this.clear();
    const i = hash & BUCKET_MASK;
    this.buckets[i] = { hash, variant, question: Buffer.from(msg.subarray(12, questionEnd)), reply, next: this.buckets[i] };
    this.count++;
  }

  clear(): void {
    this.buckets.fill(undefined);
    this.count = 0;
  }
}
