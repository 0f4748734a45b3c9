/**
 * The in-process Bus of the embedded default (single process). NATS semantics kept on purpose:
 * data is copied through JSON, each subscription has its own bounded queue drained one message
 * at a time (a slow handler delays only itself; past `maxPending` new messages are dropped as
 * NATS does for slow consumers), requests go to one responder of a queue group, and streams
 * follow JetStream's limits retention.
 */
import {
  BusError,
  BusNoRespondersError,
  BusTimeoutError,
  type Bus,
  type BusMessage,
  type MessageHandler,
  type PublishAck,
  type RequestHandler,
  type StreamConfig,
  type StreamFollower,
  type StreamInfo,
  type StreamMessage,
  type StreamReadOptions,
  type Subscription,
} from '../types.js';
import { MemoryStream, type StreamCursor } from './stream.js';
import { checkPattern, checkSubject, matches, overlaps } from './subject.js';

export interface MemoryBusOptions {
  /** Messages queued per subscription before new ones are dropped (default 65,536, like NATS clients). */
  readonly maxPending?: number;
  /** Told about handler failures and slow-consumer drops. Default: a process warning. */
  readonly onError?: (err: unknown, subject: string) => void;
  /** Clock for stream timestamps and max age (ms since the epoch). */
  readonly now?: () => number;
}

interface Sub {
  readonly pattern: string;
  readonly tokens: readonly string[];
  readonly handler: MessageHandler<unknown>;
  queue: Array<{ subject: string; json: string }>;
  head: number;
  draining: boolean;
  dropping: boolean;
  active: boolean;
}

interface Responder {
  readonly tokens: readonly string[];
  readonly handler: RequestHandler<unknown, unknown>;
}

const STREAM_NAME = /^[A-Za-z0-9_-]+$/;

export class MemoryBus implements Bus {
  private readonly subs = new Set<Sub>();
  private readonly responders: Responder[] = [];
  private readonly streams = new Map<string, MemoryStream>();
  private readonly pending = new Set<(err: BusError) => void>();
  private readonly maxPending: number;
  private readonly onError: (err: unknown, subject: string) => void;
  private readonly now: () => number;
  private nextResponder = 0;
  private closed = false;

  constructor(opts: MemoryBusOptions = {}) {
    this.maxPending = positiveInt('maxPending', opts.maxPending ?? 65_536);
    this.onError = opts.onError ?? ((err, subject) => process.emitWarning(`bus subscriber of ${subject} failed: ${err instanceof Error ? err.message : String(err)}`));
    this.now = opts.now ?? Date.now;
  }

  async publish<T = unknown>(subject: string, data: T): Promise<PublishAck> {
    this.checkOpen();
    const tokens = checkSubject(subject);
    const json = encode(subject, data);
    let ack: PublishAck = {};
    for (const stream of this.streams.values()) {
      if (stream.captures(tokens)) {
        ack = { stream: stream.config.name, seq: stream.append(subject, tokens, json) };
        break; // subjects of streams never overlap, so at most one captures it
      }
    }
    this.dispatch(subject, tokens, json);
    return ack;
  }

  subscribe<T = unknown>(pattern: string, handler: MessageHandler<T>): Subscription {
    this.checkOpen();
    const sub: Sub = { pattern, tokens: checkPattern(pattern), handler: handler as MessageHandler<unknown>, queue: [], head: 0, draining: false, dropping: false, active: true };
    this.subs.add(sub);
    return {
      subject: pattern,
      unsubscribe: () => {
        sub.active = false;
        sub.queue = [];
        sub.head = 0;
        this.subs.delete(sub);
      },
    };
  }

  async request<Q = unknown, R = unknown>(subject: string, data: Q, opts: { readonly timeoutMs?: number } = {}): Promise<R> {
    this.checkOpen();
    const tokens = checkSubject(subject);
    const timeoutMs = positiveInt('timeoutMs', opts.timeoutMs ?? 5000);
    const json = encode(subject, data);
    const candidates = this.responders.filter((r) => matches(r.tokens, tokens));
    this.dispatch(subject, tokens, json);
    if (candidates.length === 0) throw new BusNoRespondersError(subject);
    // Round-robin over the matching responders: one queue group per bus.
    const responder = candidates[this.nextResponder++ % candidates.length] as Responder;
    return new Promise<R>((resolve, reject) => {
      const settle = (err: BusError | undefined, reply?: R): void => {
        if (!this.pending.delete(fail)) return;
        clearTimeout(timer);
        if (err === undefined) resolve(reply as R);
        else reject(err);
      };
      const fail = (err: BusError): void => settle(err);
      const timer = setTimeout(() => fail(new BusTimeoutError(subject, timeoutMs)), timeoutMs);
      this.pending.add(fail);
      Promise.resolve()
        .then(() => responder.handler({ subject, data: JSON.parse(json) as unknown }))
        .then(
          (reply) => settle(undefined, JSON.parse(encode(`reply to ${subject}`, reply ?? null)) as R),
          (err: unknown) => fail(err instanceof BusError && err.code === 'HANGAR_ERR_BUS_INVALID' ? err : new BusError('HANGAR_ERR_BUS_REMOTE', `responder of ${subject} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })),
        );
    });
  }

  respond<Q = unknown, R = unknown>(pattern: string, handler: RequestHandler<Q, R>): Subscription {
    this.checkOpen();
    const responder: Responder = { tokens: checkPattern(pattern), handler: handler as RequestHandler<unknown, unknown> };
    this.responders.push(responder);
    return {
      subject: pattern,
      unsubscribe: () => {
        const i = this.responders.indexOf(responder);
        if (i >= 0) this.responders.splice(i, 1);
      },
    };
  }

  async createStream(config: StreamConfig): Promise<StreamInfo> {
    this.checkOpen();
    const normalized = normalizeConfig(config);
    const patterns = normalized.subjects.map(checkPattern);
    const existing = this.streams.get(normalized.name);
    if (existing !== undefined) {
      if (JSON.stringify(existing.config) === JSON.stringify(normalized)) return existing.info();
      throw new BusError('HANGAR_ERR_BUS_STREAM_EXISTS', `stream ${normalized.name} already exists with a different configuration`);
    }
    for (const other of this.streams.values()) {
      for (const p of patterns) {
        if (other.patterns.some((q) => overlaps(p, q))) {
          throw new BusError('HANGAR_ERR_BUS_STREAM_EXISTS', `subjects of stream ${normalized.name} overlap stream ${other.config.name} (${other.config.subjects.join(', ')})`);
        }
      }
    }
    const stream = new MemoryStream(normalized, patterns, this.now);
    this.streams.set(normalized.name, stream);
    return stream.info();
  }

  async streamInfo(name: string): Promise<StreamInfo> {
    return this.stream(name).info();
  }

  async deleteStream(name: string): Promise<void> {
    const stream = this.stream(name);
    this.streams.delete(name);
    stream.closeFollowers();
  }

  async readStream<T = unknown>(name: string, opts: StreamReadOptions & { readonly limit?: number } = {}): Promise<Array<StreamMessage<T>>> {
    const stream = this.stream(name);
    const limit = opts.limit === undefined ? Infinity : positiveInt('limit', opts.limit);
    return stream.read(cursorOf(opts), limit) as Array<StreamMessage<T>>;
  }

  async followStream<T = unknown>(name: string, opts: StreamReadOptions = {}): Promise<StreamFollower<T>> {
    return this.stream(name).follow<T>(cursorOf(opts));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs) sub.active = false;
    this.subs.clear();
    this.responders.length = 0;
    for (const fail of [...this.pending]) fail(new BusError('HANGAR_ERR_BUS_CLOSED', 'the bus was closed before the reply came'));
    for (const stream of this.streams.values()) stream.closeFollowers();
    this.streams.clear();
  }

  /** Queues a message for every matching subscription; handlers run later, never inside publish. */
  private dispatch(subject: string, tokens: readonly string[], json: string): void {
    for (const sub of this.subs) {
      if (!matches(sub.tokens, tokens)) continue;
      if (sub.queue.length - sub.head >= this.maxPending) {
        if (!sub.dropping) {
          sub.dropping = true;
          this.report(new BusError('HANGAR_ERR_BUS_SLOW_CONSUMER', `subscriber of ${sub.pattern} is too slow: dropping messages beyond ${this.maxPending} pending`), sub.pattern);
        }
        continue;
      }
      sub.queue.push({ subject, json });
      if (!sub.draining) {
        sub.draining = true;
        queueMicrotask(() => void this.drain(sub));
      }
    }
  }

  /** Delivers a subscription's queue one message at a time, so its handler sees them in order. */
  private async drain(sub: Sub): Promise<void> {
    while (sub.active && sub.head < sub.queue.length) {
      const m = sub.queue[sub.head] as { subject: string; json: string };
      sub.head += 1;
      try {
        await sub.handler({ subject: m.subject, data: JSON.parse(m.json) as unknown } satisfies BusMessage);
      } catch (err) {
        this.report(err, sub.pattern);
      }
      if (sub.head === sub.queue.length) {
        sub.queue = [];
        sub.head = 0;
        sub.dropping = false;
      }
    }
    sub.draining = false;
  }

  private report(err: unknown, subject: string): void {
    try {
      this.onError(err, subject);
    } catch {
      // A failing error hook must not take delivery down with it.
    }
  }

  private stream(name: string): MemoryStream {
    this.checkOpen();
    const stream = this.streams.get(name);
    if (stream === undefined) throw new BusError('HANGAR_ERR_BUS_STREAM_NOT_FOUND', `stream ${JSON.stringify(name)} does not exist`);
    return stream;
  }

  private checkOpen(): void {
    if (this.closed) throw new BusError('HANGAR_ERR_BUS_CLOSED', 'the bus is closed');
  }
}

function encode(subject: string, data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    throw new BusError('HANGAR_ERR_BUS_INVALID', `data for ${subject} is not JSON-serializable (${(err as Error).message})`, { cause: err });
  }
  if (json === undefined) throw new BusError('HANGAR_ERR_BUS_INVALID', `data for ${subject} is not JSON-serializable (${typeof data})`);
  return json;
}

function normalizeConfig(c: StreamConfig): StreamConfig {
  if (c === null || typeof c !== 'object') throw new BusError('HANGAR_ERR_BUS_INVALID', 'stream config must be an object');
  if (typeof c.name !== 'string' || !STREAM_NAME.test(c.name)) {
    throw new BusError('HANGAR_ERR_BUS_INVALID', `stream name ${JSON.stringify(c.name)} must match ${STREAM_NAME.source}`);
  }
  if (!Array.isArray(c.subjects) || c.subjects.length === 0) throw new BusError('HANGAR_ERR_BUS_INVALID', `stream ${c.name} needs at least one subject`);
  const out: { -readonly [K in keyof StreamConfig]: StreamConfig[K] } = { name: c.name, subjects: [...c.subjects] };
  if (c.maxMessages !== undefined) out.maxMessages = positiveInt('maxMessages', c.maxMessages);
  if (c.maxBytes !== undefined) out.maxBytes = positiveInt('maxBytes', c.maxBytes);
  if (c.maxAgeMs !== undefined) out.maxAgeMs = positiveInt('maxAgeMs', c.maxAgeMs);
  return out;
}

function cursorOf(opts: StreamReadOptions): StreamCursor {
  if (opts.fromSeq !== undefined && opts.fromTime !== undefined) throw new BusError('HANGAR_ERR_BUS_INVALID', 'pass fromSeq or fromTime, not both');
  const cursor: { -readonly [K in keyof StreamCursor]: StreamCursor[K] } = {};
  if (opts.fromSeq !== undefined) cursor.fromSeq = positiveInt('fromSeq', opts.fromSeq);
  if (opts.fromTime !== undefined) {
    if (!Number.isFinite(opts.fromTime)) throw new BusError('HANGAR_ERR_BUS_INVALID', `fromTime must be a time in ms, got ${JSON.stringify(opts.fromTime)}`);
    cursor.fromTime = opts.fromTime;
  }
  if (opts.subject !== undefined) cursor.filter = checkPattern(opts.subject);
  return cursor;
}

function positiveInt(what: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new BusError('HANGAR_ERR_BUS_INVALID', `${what} must be a positive integer, got ${JSON.stringify(n)}`);
  return n;
}
