/**
 * The Bus contract (ARCHITECTURE.md "Interfaces (the seams)"): publish/subscribe, request/reply
 * and durable streams, used for logs (`logs.<app>.<region>.<machine>`, as Fly uses) and events.
 *
 * Implementations: in-process (`memory/`, the embedded default) and, later, NATS JetStream
 * (cluster mode). The semantics are NATS's on purpose so the second implementation is a thin
 * adapter; `test/bus/conformance.ts` checks every rule written here against both.
 *
 * Subjects are dot-separated tokens (`logs.web.ams.1857156b526dd8`). A token is non-empty and
 * contains no whitespace, `.`, `*` or `>`. Patterns may use `*` for exactly one token and `>` as
 * the last token for one or more tokens (`logs.>`, `logs.web.*.*`).
 *
 * Data is any JSON-serializable value. Every receiver gets its own structurally equal copy
 * (implementations serialize), never the publisher's object.
 */

/** A delivered message. */
import { HangarError } from '../core/errors.js';
export interface BusMessage<T = unknown> {
  /** The concrete subject it was published to (never a pattern). */
  readonly subject: string;
  readonly data: T;
}

/** A message stored in a stream. */
export interface StreamMessage<T = unknown> extends BusMessage<T> {
  readonly stream: string;
  /** 1 for the first message of a stream, +1 for each stored message; never reused, even after discard. */
  readonly seq: number;
  /** When the stream stored it, in milliseconds since the epoch. */
  readonly time: number;
}

/** What `publish` reports once the message is handed over (and stored, if a stream captures it). */
export interface PublishAck {
  /** The stream that stored it and its sequence there; absent when no stream captures the subject. */
  readonly stream?: string;
  readonly seq?: number;
}

/** Called for each message of a subscription; may be async. */
export type MessageHandler<T = unknown> = (msg: BusMessage<T>) => void | Promise<void>;

/** Answers one request; the returned value is the reply. Throwing makes the request reject with `HANGAR_ERR_BUS_REMOTE`. */
export type RequestHandler<Q = unknown, R = unknown> = (msg: BusMessage<Q>) => R | Promise<R>;

/** A live subscription or responder. */
export interface Subscription {
  /** The pattern it was made with. */
  readonly subject: string;
  /** Stops delivery; messages already queued for the handler are dropped. Idempotent. */
  unsubscribe(): void;
}

/** Limits of a stream. When any is exceeded the oldest messages are discarded (NATS `DiscardOld`). */
export interface StreamConfig {
  /** `[A-Za-z0-9_-]+`. */
  readonly name: string;
  /** Subject patterns captured by the stream. Must not overlap another stream's subjects. */
  readonly subjects: ReadonlyArray<string>;
  /** Keep at most this many messages (unlimited when omitted). */
  readonly maxMessages?: number;
  /** Keep at most this many bytes, counting each message as subject length + JSON length of its data. */
  readonly maxBytes?: number;
  /** Discard messages older than this. */
  readonly maxAgeMs?: number;
}

/** State of a stream. Empty stream: `messages` 0, `firstSeq` = `lastSeq + 1`. */
export interface StreamInfo {
  readonly config: StreamConfig;
  readonly messages: number;
  readonly bytes: number;
  /** Sequence of the oldest stored message. */
  readonly firstSeq: number;
  /** Sequence of the newest message ever stored (0 if none). */
  readonly lastSeq: number;
}

/** Where reading a stream starts, and what to read. `fromSeq` and `fromTime` are exclusive of each other. */
export interface StreamReadOptions {
  /** First sequence to read; below the oldest stored message means "from the oldest". Default: the oldest. */
  readonly fromSeq?: number;
  /** Start at the first message stored at or after this time (ms since the epoch). */
  readonly fromTime?: number;
  /** Only messages whose subject matches this pattern (e.g. `logs.web.ams.*`). */
  readonly subject?: string;
}

/** A live stream consumer: stored messages from its start position, then new ones as they arrive. */
export interface StreamFollower<T = unknown> extends AsyncIterable<StreamMessage<T>> {
  /**
   * Ends the iteration; a pending `next()` resolves `done`. Messages are delivered in sequence
   * order; a follower slower than the stream's retention skips discarded messages (visible as a
   * jump in `seq`) instead of holding them in memory.
   */
  close(): void;
}

/** The bus. Every method rejects with `HANGAR_ERR_BUS_CLOSED` after `close()`. */
export interface Bus {
  /**
   * Publishes to a concrete subject. Resolves once every current subscriber has the message
   * queued and, if a stream captures the subject, once it is stored; never waits for handlers.
   */
  publish<T = unknown>(subject: string, data: T): Promise<PublishAck>;

  /**
   * Calls `handler` for every message published to a subject matching `pattern`, one message at a
   * time, in publish order per publisher. A slow handler only delays its own subscription; a
   * handler that throws or rejects is reported (implementation-defined) and keeps receiving.
   * Request messages are delivered to matching subscribers too, as on NATS.
   */
  subscribe<T = unknown>(pattern: string, handler: MessageHandler<T>): Subscription;

  /**
   * Sends a request to one responder of `subject` and resolves with its reply.
   * Rejects with `BusNoRespondersError` at once when no responder matches, `BusTimeoutError` after
   * `timeoutMs` (default 5000) without a reply, and `HANGAR_ERR_BUS_REMOTE` when the responder throws.
   */
  request<Q = unknown, R = unknown>(subject: string, data: Q, opts?: { readonly timeoutMs?: number }): Promise<R>;

  /**
   * Answers requests on `pattern`. When several responders match, each request goes to exactly one
   * of them (a NATS queue group).
   */
  respond<Q = unknown, R = unknown>(pattern: string, handler: RequestHandler<Q, R>): Subscription;

  /**
   * Creates a durable stream. Creating one that exists with the same config is a no-op; with a
   * different config, or with subjects that overlap another stream's, it fails (`HANGAR_ERR_BUS_STREAM_EXISTS`).
   */
  createStream(config: StreamConfig): Promise<StreamInfo>;

  /** The stream's config and counters; `HANGAR_ERR_BUS_STREAM_NOT_FOUND` if it does not exist. */
  streamInfo(name: string): Promise<StreamInfo>;

  /** Deletes a stream and its messages; its followers end. */
  deleteStream(name: string): Promise<void>;

  /** Reads stored messages in sequence order (at most `limit`, default all). */
  readStream<T = unknown>(name: string, opts?: StreamReadOptions & { readonly limit?: number }): Promise<Array<StreamMessage<T>>>;

  /** Follows a stream: stored messages from the start position, then new ones until closed. */
  followStream<T = unknown>(name: string, opts?: StreamReadOptions): Promise<StreamFollower<T>>;

  /** Ends subscriptions and followers, rejects pending requests. Idempotent. */
  close(): Promise<void>;
}

/** Codes of bus errors; the lead adds them to `src/core/errors.ts`. */
export type BusErrorCode =
  | 'HANGAR_ERR_BUS_TIMEOUT'
  | 'HANGAR_ERR_BUS_NO_RESPONDERS'
  /** The responder threw; the message is its error message. */
  | 'HANGAR_ERR_BUS_REMOTE'
  /** A caller bug: bad subject, pattern, stream name, limit or non-JSON data. */
  | 'HANGAR_ERR_BUS_INVALID'
  | 'HANGAR_ERR_BUS_STREAM_NOT_FOUND'
  | 'HANGAR_ERR_BUS_STREAM_EXISTS'
  /** A subscriber's queue overflowed and messages were dropped (NATS "slow consumer"). */
  | 'HANGAR_ERR_BUS_SLOW_CONSUMER'
  | 'HANGAR_ERR_BUS_CLOSED';

export class BusError extends HangarError {
  declare readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'BusError';
  }
}

/** No reply within the request's timeout. */
export class BusTimeoutError extends BusError {
  constructor(subject: string, timeoutMs: number) {
    super('HANGAR_ERR_BUS_TIMEOUT', `request to ${subject} got no reply within ${timeoutMs} ms`);
    this.name = 'BusTimeoutError';
  }
}

/** Nobody responds on the subject. */
export class BusNoRespondersError extends BusError {
  constructor(subject: string) {
    super('HANGAR_ERR_BUS_NO_RESPONDERS', `no responders for request to ${subject}`);
    this.name = 'BusNoRespondersError';
  }
}
