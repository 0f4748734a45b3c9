/**
 * The I/O side of `fly-replay` (reference §1c; rules in core/proxy/replay.ts). When an app's
 * response carries `fly-replay` (spotted by the response head scan, http-parse.ts, so other
 * responses pay one flag test), http-response.ts reads that response instead of forwarding it
 * and hands its head and body to the session, which asks `beginReplay` what to do: answer the
 * client itself (an invalid directive, a request too large to replay, a replay loop) or send
 * the request it kept (head and body, up to 1 MiB) to the target through its usual dispatch
 * (balancer, queue, autostart), with `fly-replay-src` added. A replay that finds no machine, waits
 * past its `timeout` or cannot connect goes to its `fallback` with `fly-replay-failed`, else
 * fails with a 503/504. A fallback's own `fly-replay` is forwarded to the client as it is.
 */
import { performance } from 'node:perf_hooks';
import type { PickRequest } from '../core/proxy/balance.js';
import {
  fallbackPlan,
  formatReplayFailed,
  formatReplaySrc,
  parseReplayHeader,
  parseReplayJson,
  REPLAY_JSON_MAX_BYTES,
  REPLAY_MAX_HOPS,
  replayPlan,
  ReplayInvalidError,
  rewriteReplayHead,
  type ReplayDirective,
  type ReplayFailure,
  type ReplaySource,
} from '../core/proxy/replay.js';

const CRLF = '\r\n';

/** One replay (or fallback) of the current request: where it goes and the bytes to send. */
export class Replay {
  readonly startedAt = performance.now();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly directive: ReplayDirective,
    readonly source: ReplaySource,
    /** The app whose route (on the same public port) receives the request. */
    readonly app: string,
    readonly pick: PickRequest,
    /** Replays of this request so far, this one included. */
    readonly hops: number,
    /** The head the source machine received (a fallback sends it back there) ... */
    readonly sourceHead: string,
    /** ... and the one the target receives (transformed): request line and header lines. */
    readonly head: string,
    /** The request body; undefined until the client's body is complete (then filled in). */
    public body: Buffer | null | undefined,
    /** Set on the fallback request: why the replay failed (its answer is never replayed). */
    readonly failure: ReplayFailure | null,
    /** `fly-replay-src` or `fly-replay-failed`. */
    readonly line: string,
  ) {}

  /** The whole request for the upstream: head, the session's added lines, our line, body. */
  wire(lines: string): Buffer {
    const head = Buffer.from(this.head + lines + this.line + CRLF, 'latin1');
    return this.body ? Buffer.concat([head, this.body], head.length + this.body.length) : head;
  }

  /** `timeout=`: calls `onTimeout` once it has passed (fallback requests have no timeout). */
  arm(onTimeout: () => void): void {
    const ms = this.directive.timeoutMs;
    if (ms === undefined || this.failure !== null) return;
    const left = ms - (performance.now() - this.startedAt);
    this.timer = setTimeout(onTimeout, Math.max(0, left));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** For error messages: `app web, instance 1234`. */
  describe(): string {
    const d = this.directive;
    let s = `app ${this.app}`;
    if (d.instance ?? d.preferInstance) s += `, instance ${d.instance ?? d.preferInstance}`;
    if (d.regions) s += `, region ${d.regions.join(',')}`;
    return s;
  }
}

export type ReplayStart = { kind: 'replay'; replay: Replay } | { kind: 'answer'; status: number; reason: string };

/** The values of the `fly-replay` header lines of a response head. */
export function replayHeaderValues(head: Buffer): string[] {
  const text = head.toString('latin1');
  const out: string[] = [];
  for (const m of text.matchAll(/\r\nfly-replay[ \t]*:([^\r]*)/gi)) out.push(m[1]!.trim());
  return out;
}

function isJsonForm(head: Buffer): boolean {
  return /\r\ncontent-type[ \t]*:[ \t]*application\/vnd\.fly\.replay\+json/i.test(head.toString('latin1'));
}

function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * The data of a whole chunked body (its framing was checked by the response side's scanner;
 * chunk extensions and trailers are skipped).
 */
export function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let p = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', p, 'latin1');
    if (eol < 0) break;
    const size = parseInt(body.toString('latin1', p, eol).split(';')[0]!.trim(), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    p = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** The decoded directive of a `fly-replay` response (throws `ReplayInvalidError`). */
export function directiveOf(head: Buffer, body: Buffer | null): ReplayDirective {
  if (isJsonForm(head)) {
    if (body === null) throw new ReplayInvalidError(`invalid fly-replay: the JSON body is larger than ${REPLAY_JSON_MAX_BYTES} bytes`);
    const chunked = /\r\ntransfer-encoding[ \t]*:[^\r]*chunked/i.test(head.toString('latin1'));
    return parseReplayJson((chunked ? dechunk(body) : body).toString('utf8'));
  }
  return parseReplayHeader(replayHeaderValues(head));
}

export interface ReplayAsk {
  /** The response that asked for the replay. */
  readonly head: Buffer;
  readonly body: Buffer | null;
  /** The machine that answered it. */
  readonly source: ReplaySource;
  /** The replay under way when it answered (a chain), or null for the client's own request. */
  readonly prev: Replay | null;
  /** The request head as the source received it, when `prev` is null. */
  readonly requestHead: () => string;
  /** The client's request is over 1 MiB (its bytes were not kept). */
  readonly tooLarge: boolean;
}

/** What to do about a `fly-replay` response: replay, or answer the client. */
export function beginReplay(ask: ReplayAsk): ReplayStart {
  let d: ReplayDirective;
  try {
    d = directiveOf(ask.head, ask.body);
  } catch (err) {
    if (err instanceof ReplayInvalidError) return { kind: 'answer', status: 502, reason: `machine ${ask.source.machineId} answered with ${err.message}` };
    throw err;
  }
  if (ask.tooLarge) return { kind: 'answer', status: 413, reason: `machine ${ask.source.machineId} asked for a fly-replay, but the request is larger than 1 MiB, the most that can be replayed` };
  const hops = (ask.prev?.hops ?? 0) + 1;
  if (hops > REPLAY_MAX_HOPS) return { kind: 'answer', status: 502, reason: `the request was replayed ${REPLAY_MAX_HOPS} times and machine ${ask.source.machineId} asked for another fly-replay (a replay loop?)` };
  const sourceHead = ask.prev?.head ?? ask.requestHead();
  const plan = replayPlan(d, ask.source);
  const head = rewriteReplayHead(sourceHead, d.transform);
  const line = formatReplaySrc(ask.source, nowMicros(), d.state);
  return { kind: 'replay', replay: new Replay(d, ask.source, plan.app, plan.pick, hops, sourceHead, head, ask.prev?.body, null, line) };
}

/** The fallback of a failed replay, or null when it has none (or is one already). */
export function fallbackOf(rp: Replay, reason: ReplayFailure): Replay | null {
  const f = rp.directive.fallback;
  if (f === undefined || rp.failure !== null) return null;
  const plan = fallbackPlan(f, rp.source);
  const line = formatReplayFailed(rp.directive, rp.source, reason, performance.now() - rp.startedAt);
  return new Replay(rp.directive, rp.source, plan.app, plan.pick, rp.hops, rp.sourceHead, rewriteReplayHead(rp.sourceHead, undefined), rp.body, reason, line);
}
