/**
 * One in-memory stream: messages in sequence order with JetStream's limits retention
 * (max messages, max bytes, max age; the oldest go first). Sequences are contiguous among the
 * stored messages because only the oldest are ever removed, so a sequence is found by offset.
 */
import { BusError } from '../types.js';
import type { StreamConfig, StreamFollower, StreamInfo, StreamMessage } from '../types.js';
import { matches } from './subject.js';

interface Stored {
  readonly seq: number;
  readonly subject: string;
  readonly tokens: readonly string[];
  readonly json: string;
  readonly time: number;
  readonly size: number;
}

/** Where to start and what to keep, already validated. */
export interface StreamCursor {
  readonly fromSeq?: number;
  readonly fromTime?: number;
  readonly filter?: readonly string[];
}

export class MemoryStream {
  private msgs: Stored[] = [];
  private head = 0;
  private bytes = 0;
  private lastSeq = 0;
  private readonly listeners = new Set<() => void>();
  private readonly followers = new Set<Follower<unknown>>();

  constructor(
    readonly config: StreamConfig,
    readonly patterns: ReadonlyArray<readonly string[]>,
    private readonly now: () => number,
  ) {}

  /** Whether this stream captures a subject. */
  captures(tokens: readonly string[]): boolean {
    return this.patterns.some((p) => matches(p, tokens));
  }

  /** Stores a message, applies the limits, wakes followers; returns its sequence. */
  append(subject: string, tokens: readonly string[], json: string): number {
    const size = Buffer.byteLength(subject) + Buffer.byteLength(json);
    if (this.config.maxBytes !== undefined && size > this.config.maxBytes) {
      throw new BusError('HANGAR_ERR_BUS_INVALID', `message of ${size} bytes on ${subject} is larger than stream ${this.config.name}'s maxBytes (${this.config.maxBytes})`);
    }
    this.lastSeq += 1;
    this.msgs.push({ seq: this.lastSeq, subject, tokens, json, time: this.now(), size });
    this.bytes += size;
    const { maxMessages, maxBytes } = this.config;
    while ((maxMessages !== undefined && this.count() > maxMessages) || (maxBytes !== undefined && this.bytes > maxBytes)) this.dropOldest();
    this.expire();
    for (const l of [...this.listeners]) l();
    return this.lastSeq;
  }

  info(): StreamInfo {
    this.expire();
    return { config: this.config, messages: this.count(), bytes: this.bytes, firstSeq: this.firstSeq(), lastSeq: this.lastSeq };
  }

  /** Messages from the cursor on, in order, at most `limit`. */
  read(cursor: StreamCursor, limit: number): StreamMessage[] {
    this.expire();
    const out: StreamMessage[] = [];
    for (let seq = this.startSeq(cursor); seq <= this.lastSeq && out.length < limit; seq++) {
      const m = this.at(seq);
      if (m !== undefined && (cursor.filter === undefined || matches(cursor.filter, m.tokens))) out.push(this.toMessage(m));
    }
    return out;
  }

  /** A follower starting at the cursor. */
  follow<T>(cursor: StreamCursor): StreamFollower<T> {
    this.expire();
    const f = new Follower<T>(this, this.startSeq(cursor), cursor.filter, () => this.followers.delete(f as Follower<unknown>));
    this.followers.add(f as Follower<unknown>);
    return f;
  }

  /** Ends every follower (stream deleted or bus closed). */
  closeFollowers(): void {
    for (const f of [...this.followers]) f.close();
  }

  /** The first stored message with seq >= `seq` matching `filter`, skipping discarded ones. */
  nextFrom(seq: number, filter: readonly string[] | undefined): StreamMessage | undefined {
    this.expire();
    for (let s = Math.max(seq, this.firstSeq()); s <= this.lastSeq; s++) {
      const m = this.at(s);
      if (m !== undefined && (filter === undefined || matches(filter, m.tokens))) return this.toMessage(m);
    }
    return undefined;
  }

  /** Calls `fn` after each append until the returned function is called. */
  onAppend(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get last(): number {
    return this.lastSeq;
  }

  private startSeq(cursor: StreamCursor): number {
    if (cursor.fromTime !== undefined) {
      // Times are non-decreasing with sequence: binary search the first one at or after fromTime.
      let lo = this.head;
      let hi = this.msgs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((this.msgs[mid] as Stored).time < cursor.fromTime) lo = mid + 1;
        else hi = mid;
      }
      return lo < this.msgs.length ? (this.msgs[lo] as Stored).seq : this.lastSeq + 1;
    }
    return Math.max(cursor.fromSeq ?? 1, this.firstSeq());
  }

  private count(): number {
    return this.msgs.length - this.head;
  }

  private firstSeq(): number {
    return this.count() === 0 ? this.lastSeq + 1 : (this.msgs[this.head] as Stored).seq;
  }

  private at(seq: number): Stored | undefined {
    const first = this.firstSeq();
    return seq < first ? undefined : this.msgs[this.head + (seq - first)];
  }

  private expire(): void {
    const { maxAgeMs } = this.config;
    if (maxAgeMs === undefined) return;
    const cutoff = this.now() - maxAgeMs;
    while (this.count() > 0 && (this.msgs[this.head] as Stored).time <= cutoff) this.dropOldest();
  }

  private dropOldest(): void {
    const m = this.msgs[this.head] as Stored;
    this.bytes -= m.size;
    this.head += 1;
    // Reclaim the array once half of it is dead weight, so discarding stays O(1) amortized.
    if (this.head > 1024 && this.head * 2 > this.msgs.length) {
      this.msgs = this.msgs.slice(this.head);
      this.head = 0;
    }
  }

  private toMessage(m: Stored): StreamMessage {
    return { stream: this.config.name, seq: m.seq, subject: m.subject, time: m.time, data: JSON.parse(m.json) as unknown };
  }
}

/** A follower reads straight from the stream at its own cursor, so it buffers nothing itself. */
class Follower<T> implements StreamFollower<T> {
  private closed = false;
  private wake: (() => void) | undefined;
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly stream: MemoryStream,
    private nextSeq: number,
    private readonly filter: readonly string[] | undefined,
    private readonly onClose: () => void,
  ) {}

  async next(): Promise<IteratorResult<StreamMessage<T>>> {
    for (;;) {
      if (this.closed) return { value: undefined, done: true };
      const m = this.stream.nextFrom(this.nextSeq, this.filter);
      if (m !== undefined) {
        this.nextSeq = m.seq + 1;
        return { value: m as StreamMessage<T>, done: false };
      }
      // Nothing matching up to the end: skip what was scanned, then sleep until the next append.
      this.nextSeq = Math.max(this.nextSeq, this.stream.last + 1);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.unlisten = this.stream.onAppend(resolve);
      });
      this.unlisten?.();
      this.wake = undefined;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.unlisten?.();
    this.wake?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamMessage<T>> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
