/**
 * The health-check runner of one host (ARCHITECTURE.md: the host agent owns health checks; in
 * the embedded server it runs in the same process). It watches the store for machines placed on
 * its host, runs their service and top-level checks while they are `started` and writes the
 * results into each machine's `checks[]` (reference §1a), which the proxy reads to gate routing
 * (§1c; `core/checks/gate.ts`).
 *
 * - Schedule (pure, `core/checks/status.ts`): the first probe `grace_period` after the machine's
 *   latest start, then every `interval`, each probe bounded by `timeout`. A restart (new start
 *   event) or a config change resets the machine's checks to `warning` until they run again.
 * - Writes: compare-and-set with retry (`agent/records.ts: updateMachine`), only when a status or
 *   output changes, never once per probe; `updated_at` moves only with the status. Writes of one
 *   machine are serialized and coalesced (a burst of results becomes one write).
 * - A machine that leaves `started` has its timers cleared and in-flight probes aborted; once it
 *   settles (stopped, suspended, created, failed) its entries become `warning`/"machine is not
 *   running", so a later start cannot route on a stale `passing` before the checks run again.
 * - One owner per timer set: this runner owns every check timer of its host; probes share one
 *   concurrency limit. Failing checks never restart or stop a machine (docs `reference/health-checks`).
 */
import { silentLogger, type AgentLogger } from '../agent/logger.js';
import { updateMachine } from '../agent/records.js';
import { checksOf, type CheckSpec } from '../core/checks/spec.js';
import {
  checkTarget,
  firstDueAt,
  latestStart,
  mergeChecks,
  nextDueAt,
  notRunningResults,
  pendingResult,
  resultOf,
  type CheckResult,
  type ProbeOutcome,
} from '../core/checks/status.js';
import type { MachineRecord, MachineState } from '../core/machine/types.js';
import { KINDS } from '../core/model.js';
import type { StateStore, StoreWatcher } from '../store/types.js';
import { Limiter } from './limiter.js';
import { probe } from './probe.js';

export interface CheckRunnerOptions {
  readonly store: StateStore;
  /** Only machines with this `host` are checked. */
  readonly hostId: string;
  /** Probes in flight at once across all machines (default 32). */
  readonly maxConcurrentProbes?: number;
  /** Floor of intervals, timeouts and grace periods (default 1 s, as Fly; tests lower it). */
  readonly floorMs?: number;
  readonly logger?: AgentLogger;
}

/** Settled states in which a machine's check entries are reset to "not running". */
const RESTING: ReadonlySet<MachineState> = new Set<MachineState>(['stopped', 'suspended', 'created', 'failed']);

/** The check timers and results of one started machine run. */
interface Tracked {
  readonly id: string;
  /** The latest record seen (probes read `routing` from it). */
  rec: MachineRecord;
  /** Id of the start event of this run ('' when the record has none). */
  readonly startId: string;
  readonly signature: string;
  readonly specs: readonly CheckSpec[];
  readonly results: Map<string, CheckResult>;
  readonly timers: Map<string, NodeJS.Timeout>;
  readonly abort: AbortController;
  closed: boolean;
}

export class CheckRunner {
  private readonly store: StateStore;
  private readonly hostId: string;
  private readonly floorMs: number | undefined;
  private readonly log: AgentLogger;
  private readonly limiter: Limiter;
  private readonly tracked = new Map<string, Tracked>();
  private readonly writes = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly inflight = new Set<Promise<void>>();
  private watcher: StoreWatcher<MachineRecord> | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;

  constructor(opts: CheckRunnerOptions) {
    this.store = opts.store;
    this.hostId = opts.hostId;
    this.floorMs = opts.floorMs;
    this.log = opts.logger ?? silentLogger;
    this.limiter = new Limiter(opts.maxConcurrentProbes ?? 32);
  }

  /** Opens the watch; resolves once it is open (the snapshot is processed in the background). */
  async start(): Promise<void> {
    if (this.watcher || this.closed) throw new Error('CheckRunner: start() may be called once, before close()');
    const watcher = await this.store.watch<MachineRecord>(KINDS.machine);
    this.watcher = watcher;
    this.loop = this.consume(watcher);
  }

  /** Machines whose checks are running now (for tests and status output). */
  get machines(): string[] {
    return [...this.tracked.keys()];
  }

  /** Stops the watch, every timer and probe, and waits for pending writes. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    await this.loop;
    for (const id of [...this.tracked.keys()]) this.untrack(id);
    await Promise.allSettled([...this.inflight]);
    await Promise.allSettled([...this.writes.values()].map((w) => w.done));
  }

  private async consume(watcher: StoreWatcher<MachineRecord>): Promise<void> {
    try {
      for await (const ev of watcher) {
        if (this.closed) break;
        if (ev.type === 'snapshot') {
          const seen = new Set(ev.entities.map((e) => e.id));
          for (const id of [...this.tracked.keys()]) if (!seen.has(id)) this.untrack(id);
          for (const e of ev.entities) this.observe(e.value);
        } else if (ev.type === 'put') {
          this.observe(ev.entity.value);
        } else {
          this.untrack(ev.entity.id);
        }
      }
    } catch (err) {
      if (!this.closed) this.log.error({ err: String(err) }, 'check runner lost its store watch');
    }
  }

  /** Brings the checks of one machine in line with its record. */
  private observe(rec: MachineRecord): void {
    if (rec.host !== this.hostId) {
      this.untrack(rec.id);
      return;
    }
    if (rec.state !== 'started') {
      this.untrack(rec.id);
      if (RESTING.has(rec.state) && mergeChecks(rec.checks, notRunningResults(rec.checks), '') !== undefined) this.requestWrite(rec.id);
      return;
    }
    const specs = checksOf(rec.config, this.floorMs === undefined ? {} : { floorMs: this.floorMs });
    const start = latestStart(rec.events);
    const startId = start?.id ?? '';
    const signature = JSON.stringify(specs);
    const old = this.tracked.get(rec.id);
    if (old && old.startId === startId && old.signature === signature) {
      old.rec = rec;
      return;
    }
    this.untrack(rec.id);
    const now = Date.now();
    const startedAt = start?.at ?? now;
    const t: Tracked = { id: rec.id, rec, startId, signature, specs, results: new Map(), timers: new Map(), abort: new AbortController(), closed: false };
    this.tracked.set(rec.id, t);
    for (const spec of specs) {
      if (spec.problem !== undefined) {
        t.results.set(spec.name, pendingResult(spec));
        continue;
      }
      // First sight of a run already past its grace period (this runner restarted): keep what
      // the record says until the next probe, so routing does not flap.
      const existing = old === undefined && now >= startedAt + spec.graceMs ? rec.checks?.find((c) => c.name === spec.name) : undefined;
      if (existing) {
        t.results.set(spec.name, { name: spec.name, status: existing.status, output: existing.output });
        this.schedule(t, spec, now);
      } else {
        t.results.set(spec.name, pendingResult(spec));
        this.schedule(t, spec, firstDueAt(spec, startedAt, now));
      }
    }
    if (mergeChecks(rec.checks, [...t.results.values()], '') !== undefined) this.requestWrite(rec.id);
  }

  private untrack(id: string): void {
    const t = this.tracked.get(id);
    if (!t) return;
    t.closed = true;
    for (const timer of t.timers.values()) clearTimeout(timer);
    t.timers.clear();
    t.abort.abort();
    this.tracked.delete(id);
  }

  private schedule(t: Tracked, spec: CheckSpec, at: number): void {
    if (t.closed) return;
    const timer = setTimeout(() => {
      t.timers.delete(spec.name);
      const running = this.runProbe(t, spec).catch((err: unknown) => this.log.error({ machine: t.id, check: spec.name, err: String(err) }, 'check probe failed'));
      this.inflight.add(running);
      void running.finally(() => this.inflight.delete(running));
    }, Math.max(0, at - Date.now()));
    t.timers.set(spec.name, timer);
  }

  private async runProbe(t: Tracked, spec: CheckSpec): Promise<void> {
    if (t.closed) return;
    const began = Date.now();
    const target = spec.port === undefined ? undefined : checkTarget(t.rec.routing, spec.port);
    let outcome: ProbeOutcome;
    if (!target) outcome = { ok: false, output: 'machine has no address to check' };
    else outcome = await this.limiter.run(() => (t.closed ? Promise.resolve({ ok: false, output: '' }) : probe(spec, target, t.abort.signal)));
    if (t.closed) return;
    const result = resultOf(spec, outcome);
    const prev = t.results.get(spec.name);
    t.results.set(spec.name, result);
    if (!prev || prev.status !== result.status || prev.output !== result.output) {
      this.log.debug({ machine: t.id, check: spec.name, status: result.status, output: result.output }, 'check changed');
      this.requestWrite(t.id);
    }
    this.schedule(t, spec, nextDueAt(spec, began, Date.now()));
  }

  /** Queues a write of machine `id`'s checks; one write at a time per machine, bursts coalesce. */
  private requestWrite(id: string): void {
    const pending = this.writes.get(id);
    if (pending) {
      pending.again = true;
      return;
    }
    const entry = { again: true, done: Promise.resolve() };
    this.writes.set(id, entry);
    entry.done = (async () => {
      try {
        while (entry.again && !this.closed) {
          entry.again = false;
          await updateMachine(this.store, id, (r) => this.change(r));
        }
      } catch (err) {
        if (!this.closed) this.log.warn({ machine: id, err: String(err) }, 'could not write machine checks');
      } finally {
        this.writes.delete(id);
      }
    })();
  }

  /** The record with its checks as this runner knows them now; undefined = nothing to write. */
  private change(r: MachineRecord): MachineRecord | undefined {
    if (r.host !== this.hostId) return undefined;
    const t = this.tracked.get(r.id);
    let results: CheckResult[];
    if (t) {
      // Another run started since: its own observation rewrites the checks.
      if (r.state !== 'started' || (latestStart(r.events)?.id ?? '') !== t.startId) return undefined;
      results = t.specs.map((s) => t.results.get(s.name) ?? pendingResult(s));
    } else {
      if (!RESTING.has(r.state)) return undefined;
      results = notRunningResults(r.checks);
    }
    const next = mergeChecks(r.checks, results, new Date().toISOString());
    if (!next) return undefined;
    r.checks = next;
    return r;
  }
}
