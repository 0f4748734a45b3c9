/**
 * Check results → the machine's `checks[] {name, status, output, updated_at}` (reference §1a),
 * and the schedule of one check. Pure: the runner in `src/checks` does the probing and writing.
 *
 * Statuses (Fly's three):
 * - `passing`: the last probe succeeded: a TCP connect, or an HTTP answer with a 2xx status
 *   (docs `reference/health-checks`: "expecting a 2xx HTTP response"; 3xx is not followed and
 *   counts as failing, as Fly's docs ask for 2xx).
 * - `critical`: the last probe failed (refused, reset, timed out, non-2xx, TLS error). One failure
 *   is enough: Fly documents no failure threshold, and the proxy must route around a failing
 *   machine within an interval.
 * - `warning`: no result yet: the machine is in its grace period (Fly waits `grace_period` after
 *   start before checking), or the machine is not running. Not passing, so a gated service does
 *   not route to a machine whose checks have not passed since it started ("Confirm that Machines
 *   are ready before receiving traffic").
 *
 * `updated_at` moves only when the status changes ("the Last Updated column shows when the
 * check's status last changed, not when it was last executed").
 */
import { formatGoDuration, NS_PER_MS } from '../duration.js';
import type { CheckStatus, MachineEvent } from '../machine/types.js';
import type { MachineRouting } from '../model.js';
import type { CheckSpec } from './spec.js';

export type CheckState = CheckStatus['status'];

/** A check's current result, before `updated_at` is decided. */
export interface CheckResult {
  readonly name: string;
  readonly status: CheckState;
  readonly output: string;
}

/** What one probe found: `ok` plus a short, stable text (no latencies, so repeats do not write). */
export interface ProbeOutcome {
  readonly ok: boolean;
  readonly output: string;
}

/** Output of a machine that is not running. */
export const NOT_RUNNING_OUTPUT = 'machine is not running';

/** Go-style duration text of milliseconds ("2s", "500ms"). */
export function msText(ms: number): string {
  return formatGoDuration(ms * NS_PER_MS);
}

/** The result a check has between the machine's start and its first probe. */
export function pendingResult(spec: CheckSpec): CheckResult {
  if (spec.problem !== undefined) return { name: spec.name, status: 'critical', output: spec.problem };
  const output = spec.graceMs > 0 ? `waiting for the first check (grace period ${msText(spec.graceMs)})` : 'waiting for the first check';
  return { name: spec.name, status: 'warning', output };
}

/** The result of a probe. */
export function resultOf(spec: CheckSpec, probe: ProbeOutcome): CheckResult {
  return { name: spec.name, status: probe.ok ? 'passing' : 'critical', output: probe.output };
}

/** Whether an HTTP status passes an http check (Fly: 2xx). */
export function httpStatusPasses(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * Entries the runner does not own and keeps as they are: Fly's blue-green deploy check
 * (`bg_deployment`, docs `reference/health-checks`), which a deploy strategy may write.
 */
export function isForeignCheck(name: string): boolean {
  return name.startsWith('bg_deployment');
}

/**
 * The next `checks[]`: `results` in their order (then foreign entries), with `updated_at` kept
 * where the status did not change and `nowIso` where it did or the check is new; entries of
 * checks no longer configured are dropped. Undefined when nothing would change, so the caller
 * writes nothing.
 */
export function mergeChecks(current: readonly CheckStatus[] | undefined, results: readonly CheckResult[], nowIso: string): CheckStatus[] | undefined {
  const prev = new Map((current ?? []).map((c) => [c.name, c]));
  const next: CheckStatus[] = results.map((r) => {
    const old = prev.get(r.name);
    const updated_at = old && old.status === r.status && typeof old.updated_at === 'string' ? old.updated_at : nowIso;
    return { name: r.name, status: r.status, output: r.output, updated_at };
  });
  const mine = new Set(results.map((r) => r.name));
  for (const c of current ?? []) if (isForeignCheck(c.name) && !mine.has(c.name)) next.push(c);
  const same =
    (current ?? []).length === next.length &&
    next.every((c, i) => {
      const o = (current ?? [])[i];
      return o !== undefined && o.name === c.name && o.status === c.status && o.output === c.output && o.updated_at === c.updated_at;
    });
  return same ? undefined : next;
}

/** The `checks[]` of a machine that stopped: every owned entry says it is not running. */
export function notRunningResults(current: readonly CheckStatus[] | undefined): CheckResult[] {
  return (current ?? []).filter((c) => !isForeignCheck(c.name)).map((c) => ({ name: c.name, status: 'warning', output: NOT_RUNNING_OUTPUT }));
}

/** When a check first runs: `grace_period` after the machine started, not before `now`. */
export function firstDueAt(spec: Pick<CheckSpec, 'graceMs'>, startedAt: number, now: number): number {
  return Math.max(now, startedAt + spec.graceMs);
}

/** When a check runs again: `interval` after the previous probe began, not before `now`. */
export function nextDueAt(spec: Pick<CheckSpec, 'intervalMs'>, probeStartedAt: number, now: number): number {
  return Math.max(now, probeStartedAt + spec.intervalMs);
}

/**
 * The machine's latest successful start (its `start`/`started` event; events are newest first).
 * Its id tells runs apart: a restart leaves `state: started` but adds a new start event.
 */
export function latestStart(events: readonly MachineEvent[] | undefined): { id: string; at: number } | undefined {
  for (const e of events ?? []) if (e.type === 'start' && e.status === 'started') return { id: e.id, at: e.timestamp };
  return undefined;
}

/**
 * Where a check connects: the machine's routing address and the listening port of `port`.
 * Isolated drivers map ports to themselves; the process driver maps only service ports, so
 * another port (a top-level check on a port no service declares) is tried as itself.
 */
export function checkTarget(routing: MachineRouting | null | undefined, port: number): { host: string; port: number } | undefined {
  if (!routing) return undefined;
  return { host: routing.address, port: routing.ports[String(port)] ?? port };
}
