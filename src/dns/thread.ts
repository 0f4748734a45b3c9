/**
 * The `.internal` resolver on a thread of its own: a DnsServer in a worker (thread-worker.ts),
 * driven from the main thread with the same operations (zone, listen, unlisten, close).
 *
 * Why a thread. `hangar server` runs the API, the store (synchronous SQLite), the agent and the
 * proxy on its main thread; a resolver there answers late whenever they are busy. And the
 * resolver's own garbage is mostly one ArrayBuffer per datagram (Node's UDP receive path):
 * in a heap whose young generation grew to 16 MB while a large zone was built, each scavenge
 * frees a second's worth of them at once, 2.5–3.5 ms pauses that made p99 at 20k qps miss 1 ms
 * (bench/dns). The worker's young generation is capped (`youngGenerationMb`), so its pauses stay
 * short, and nothing else runs on its event loop.
 *
 * The zone is posted as its plain input (ZoneInput, structured-cloned) and built in the worker.
 * Requests carry an id and are answered in order; a worker that dies fails what is pending and
 * every later call with HANGAR_ERR_DNS_THREAD (the server keeps running without a resolver).
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { ZoneInput } from '../core/dns/zone.js';
import { HangarError } from '../core/errors.js';
import type { BoundListener, DnsServerOptions, ListenSpec } from './server.js';

export type ThreadRequest =
  | { id: number; op: 'zone'; input: ZoneInput }
  | { id: number; op: 'listen'; spec: ListenSpec }
  | { id: number; op: 'unlisten'; host: string; port: number }
  | { id: number; op: 'stats' }
  | { id: number; op: 'close' };

/** The worker's garbage collections since the last `stats()` call (count, total and longest pause, ms). */
export interface ThreadStats {
  readonly gcCount: number;
  readonly gcMs: number;
  readonly gcMaxMs: number;
}

export type ThreadReply = { type: 'reply'; id: number; ok: true; value: unknown } | { type: 'reply'; id: number; ok: false; message: string; code: string | undefined };
export type ThreadEvent = { type: 'error'; where: string; message: string };

type Request = ThreadRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface ThreadedDnsOptions extends DnsServerOptions {
  /**
   * The worker's young generation, MB (V8 `maxYoungGenerationSizeMb`). Default 6: pauses under
   * a millisecond here with a 10,000-machine zone, at 20k qps.
   */
  readonly youngGenerationMb?: number;
}

export class ThreadedDnsServer {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: BoundListener[] = [];
  private nextId = 0;
  private dead: HangarError | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: ThreadedDnsOptions = {}) {
    const { onError, youngGenerationMb, ...serverOpts } = opts;
    this.worker = new Worker(new URL('./thread-worker.js', import.meta.url), {
      workerData: serverOpts,
      resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb ?? 6 },
      // The resolver's own logs go through onError; its stdio is the process's.
      stdout: false,
      stderr: false,
    });
    this.worker.on('message', (m: ThreadReply | ThreadEvent) => {
      if (m.type === 'error') {
        onError?.(new Error(m.message), m.where);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(Object.assign(new Error(m.message), m.code === undefined ? {} : { code: m.code }));
    });
    const fail = (err: Error): void => {
      this.dead ??= new HangarError('HANGAR_ERR_DNS_THREAD', `the DNS thread stopped: ${err.message}`, { cause: err });
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    this.worker.on('error', (err) => {
      fail(err);
      onError?.(err, 'dns thread');
    });
    this.worker.on('exit', (code) => fail(new Error(`exit ${code}`)));
  }

  /** Serves the zone built from `input` from now on; resolves once the worker has it. */
  setZoneInput(input: ZoneInput): Promise<void> {
    return this.request({ op: 'zone', input }).then(() => undefined);
  }

  /** The listeners bound so far. */
  bound(): BoundListener[] {
    return [...this.listeners];
  }

  /** Starts answering `spec.network`'s queries on `spec.host:spec.port` (UDP and TCP). */
  async listen(spec: ListenSpec): Promise<BoundListener> {
    const bound = (await this.request({ op: 'listen', spec })) as BoundListener;
    this.listeners.push(bound);
    return bound;
  }

  async unlisten(host: string, port: number): Promise<void> {
    await this.request({ op: 'unlisten', host, port });
    const i = this.listeners.findIndex((l) => l.host === host && l.port === port);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  /** The thread's GC pauses since the last call (diagnostics, bench/dns). */
  async stats(): Promise<ThreadStats> {
    return (await this.request({ op: 'stats' })) as ThreadStats;
  }

  /** The thread's event-loop utilization (Node's `performance.eventLoopUtilization`, of the worker). */
  eventLoopUtilization(a?: EventLoopUtilization, b?: EventLoopUtilization): EventLoopUtilization {
    return this.worker.performance.eventLoopUtilization(a, b);
  }

  /** Closes every listener and ends the thread. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.dead) await this.request({ op: 'close' }).catch(() => undefined);
      await this.worker.terminate();
    })();
    return this.closing;
  }

  private request(r: Request): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...r, id });
    });
  }
}
