/**
 * `pick`: which machine gets the next connection or request (reference §1c "Load balancing"):
 * the least-loaded machine in the closest region; a machine at its `soft_limit` only when every
 * other machine of that region is too; never one at its `hard_limit`; another region only when
 * every machine of the closer one is at its hard limit (soft limits shape routing within a
 * region). Ties are broken randomly. Pure: the caller owns the load counters.
 */
import { regionDistance, type DistanceTable, type RegionGroup } from './region.js';
import type { Backend, LoadMap, Route } from './types.js';

/** The client routing headers of one request (reference §1c "Client routing headers"). */
export interface PickRequest {
  /** `fly-force-instance-id`: only this machine, no fallback. */
  forceInstance?: string | undefined;
  /** `fly-prefer-instance-id`: this machine if it can take traffic, else any other. */
  preferInstance?: string | undefined;
  /** `fly-force-region`: only these regions, no fallback. */
  forceRegions?: readonly string[] | undefined;
  /**
   * `fly-prefer-region`: these regions first, in order, then the nearest. A group (an alias such
   * as `eu`, expanded by `regionRouting` in region.ts) is one tier, the nearest of its regions first.
   */
  preferRegions?: readonly RegionGroup[] | undefined;
  /** `fly-replay: elsewhere=true`: never this machine (the one that asked for the replay). */
  excludeMachine?: string | undefined;
}

export interface BalanceOptions {
  /** The proxy's own region (distance 0). */
  region: string;
  distances?: DistanceTable | undefined;
  /** [0, 1) source for tie breaks (tests pass a fixed one). */
  random?: () => number;
  /** Answer `autostart` when no running machine is below its soft limit and one could start. */
  autostart?: boolean;
}

export type PickResult =
  | { kind: 'machine'; backend: Backend; preferredUnavailable: boolean }
  /** Autostart (§1c): start a stopped machine of the route and hold the request. */
  | { kind: 'autostart' }
  /** Every candidate is at its hard limit: wait in the queue. */
  | { kind: 'queue' }
  | { kind: 'reject'; status: number; reason: string };

const NO_MACHINE: PickResult = { kind: 'reject', status: 503, reason: 'no started machine is available to serve this app' };
const QUEUE: PickResult = { kind: 'queue' };
const AUTOSTART: PickResult = { kind: 'autostart' };

/**
 * Tiers compare as numbers: a preferred group's tier sorts before every distance, in list order,
 * and within a group by distance (clamped below the next group's start); an unpreferred region's
 * tier is its distance.
 */
const PREFERRED_BASE = -1e15;
const GROUP_SPAN = 1e9;

function tierOf(b: Backend, req: PickRequest, opts: BalanceOptions): number {
  const d = regionDistance(opts.distances, opts.region, b.region);
  const prefer = req.preferRegions;
  if (prefer) {
    for (let i = 0; i < prefer.length; i++) {
      const g = prefer[i]!;
      if (g === b.region || (typeof g !== 'string' && g.includes(b.region))) return PREFERRED_BASE + i * GROUP_SPAN + Math.min(d, GROUP_SPAN - 1);
    }
  }
  return d;
}

/** Picks among `route.backends` given the current load (missing key = 0). */
export function pick(route: Route, req: PickRequest, load: LoadMap, opts: BalanceOptions): PickResult {
  const all = route.backends;
  const rnd = opts.random ?? Math.random;
  if (req.forceInstance !== undefined) {
    const b = all.find((x) => x.machineId === req.forceInstance);
    if (!b) return { kind: 'reject', status: 503, reason: `machine ${req.forceInstance} (fly-force-instance-id) is not available` };
    return (load.get(b.key) ?? 0) >= b.hardLimit ? QUEUE : { kind: 'machine', backend: b, preferredUnavailable: false };
  }
  let preferredUnavailable = false;
  if (req.preferInstance !== undefined) {
    const b = all.find((x) => x.machineId === req.preferInstance);
    if (b && (load.get(b.key) ?? 0) < b.hardLimit) return { kind: 'machine', backend: b, preferredUnavailable: false };
    preferredUnavailable = true;
  }
  const force = req.forceRegions;
  const exclude = req.excludeMachine;
  let any = false;
  let bestTier = Number.POSITIVE_INFINITY;
  let tierFound = false;
  for (const b of all) {
    if ((force && !force.includes(b.region)) || b.machineId === exclude) continue;
    any = true;
    if ((load.get(b.key) ?? 0) >= b.hardLimit) continue;
    const t = tierOf(b, req, opts);
    if (!tierFound || t < bestTier) {
      bestTier = t;
      tierFound = true;
    }
  }
  if (!any) {
    if (force) return { kind: 'reject', status: 503, reason: `no machine in region ${force.join(',')}` };
    // A machine on its way up: wait for it (bounded by the queue's wait) rather than fail.
    if (route.starting > 0 && !force && exclude === undefined) return QUEUE;
    if (route.stopped > 0 && !route.autostart) return { kind: 'reject', status: 503, reason: `every machine of app '${route.app}' is stopped and autostart is off for this service` };
    return opts.autostart && route.autostart && route.stopped > 0 ? AUTOSTART : NO_MACHINE;
  }
  if (!tierFound) return opts.autostart && route.autostart && route.stopped > 0 ? AUTOSTART : QUEUE;
  // Within the closest tier: least loaded below soft, else least loaded below hard; random ties
  // by reservoir sampling so one pass and no allocation.
  let soft: Backend | undefined;
  let softLoad = 0;
  let softTies = 0;
  let hard: Backend | undefined;
  let hardLoad = 0;
  let hardTies = 0;
  for (const b of all) {
    if ((force && !force.includes(b.region)) || b.machineId === exclude) continue;
    const l = load.get(b.key) ?? 0;
    if (l >= b.hardLimit || tierOf(b, req, opts) !== bestTier) continue;
    if (l < b.softLimit) {
      if (!soft || l < softLoad) {
        soft = b;
        softLoad = l;
        softTies = 1;
      } else if (l === softLoad && rnd() * ++softTies < 1) soft = b;
    } else if (!hard || l < hardLoad) {
      hard = b;
      hardLoad = l;
      hardTies = 1;
    } else if (l === hardLoad && rnd() * ++hardTies < 1) hard = b;
  }
  if (soft) return { kind: 'machine', backend: soft, preferredUnavailable };
  if (opts.autostart && route.autostart && route.stopped > 0) return AUTOSTART;
  return { kind: 'machine', backend: hard!, preferredUnavailable };
}
