/**
 * Autostop: which machines the proxy stops (or suspends) this round (reference §1c "Autostop").
 *
 * Fly's rule, per service with `autostop` on, per region, every few minutes:
 * - more than one machine started: `excess = started − (machines over their soft limit + 1)`;
 *   when `excess ≥ 1`, stop exactly one machine (Hangar picks the least loaded, ties by id);
 * - one machine started: stop it only when its load is zero;
 * - never go below `min_machines_running` in the app's primary region (other regions may go to 0).
 * `autostop = "suspend"` suspends instead (the control plane falls back to a stop where the
 * driver cannot suspend). Pure: the caller supplies the machines and their current load.
 */
import type { MachineAutostop, MachineService } from '../fly/machine-config.js';
import { DEFAULT_SOFT_LIMIT } from './table.js';

/** The machine fields the rule reads. */
export interface AutostopMachine {
  readonly id: string;
  readonly app: string;
  readonly region: string;
  readonly state: string;
  /** `PRIMARY_REGION` from the machine's env (flyctl writes it), else undefined. */
  readonly primaryRegion?: string | undefined;
  readonly services: readonly Pick<MachineService, 'internal_port' | 'autostop' | 'min_machines_running' | 'concurrency' | 'protocol'>[];
}

export interface AutostopAction {
  readonly app: string;
  readonly machineId: string;
  readonly action: 'stop' | 'suspend';
  /** Human-readable why (logged by the loop). */
  readonly reason: string;
}

/** `true`/`"stop"` → stop, `"suspend"` → suspend, anything else off (wire form: bool | "suspend"). */
export function autostopMode(v: MachineAutostop | string | undefined): 'stop' | 'suspend' | 'off' {
  if (v === true || v === 'stop') return 'stop';
  if (v === 'suspend') return 'suspend';
  return 'off';
}

interface Group {
  app: string;
  internalPort: number;
  region: string;
  mode: 'stop' | 'suspend';
  minRunning: number;
  primaryRegion: string;
  started: { id: string; load: number; soft: number }[];
}

/**
 * Decides one round. `load(machineId, internalPort)` is the proxy's current count for that
 * service on that machine (connections or requests, as the service counts them). At most one
 * action per (app, service, region) and at most one per machine.
 */
export function decideAutostop(machines: readonly AutostopMachine[], load: (machineId: string, internalPort: number) => number): AutostopAction[] {
  // The app's primary region: the first PRIMARY_REGION any machine of the app carries, else
  // (per machine) its own region, so a lone region counts as primary.
  const appPrimary = new Map<string, string>();
  for (const m of machines) if (m.primaryRegion && !appPrimary.has(m.app)) appPrimary.set(m.app, m.primaryRegion);
  const groups = new Map<string, Group>();
  for (const m of machines) {
    if (m.state !== 'started') continue;
    for (const svc of m.services) {
      if (svc.protocol !== 'tcp') continue;
      const mode = autostopMode(svc.autostop);
      if (mode === 'off') continue;
      const key = `${m.app}\0${svc.internal_port}\0${m.region}`;
      let g = groups.get(key);
      if (!g) {
        g = {
          app: m.app,
          internalPort: svc.internal_port,
          region: m.region,
          mode,
          minRunning: Math.max(0, svc.min_machines_running ?? 0),
          primaryRegion: appPrimary.get(m.app) ?? m.region,
          started: [],
        };
        groups.set(key, g);
      }
      g.started.push({ id: m.id, load: load(m.id, svc.internal_port), soft: svc.concurrency?.soft_limit ?? DEFAULT_SOFT_LIMIT });
    }
  }
  const out: AutostopAction[] = [];
  const taken = new Set<string>();
  for (const g of [...groups.values()].sort((a, b) => (a.app + a.region + a.internalPort < b.app + b.region + b.internalPort ? -1 : 1))) {
    const n = g.started.length;
    const floor = g.region === g.primaryRegion ? g.minRunning : 0;
    if (n - 1 < floor) continue;
    let victim: { id: string; load: number } | undefined;
    let reason: string;
    if (n > 1) {
      const over = g.started.filter((s) => s.load >= s.soft).length;
      const excess = n - (over + 1);
      if (excess < 1) continue;
      for (const s of g.started) {
        if (taken.has(s.id)) continue;
        if (!victim || s.load < victim.load || (s.load === victim.load && s.id < victim.id)) victim = s;
      }
      reason = `${n} machines started in ${g.region}, ${over} over their soft limit: excess ${excess}`;
    } else {
      const only = g.started[0]!;
      if (only.load !== 0 || taken.has(only.id)) continue;
      victim = only;
      reason = `the only machine started in ${g.region} has no load`;
    }
    if (!victim) continue;
    taken.add(victim.id);
    out.push({ app: g.app, machineId: victim.id, action: g.mode, reason: `${reason} (port ${g.internalPort})` });
  }
  return out;
}
