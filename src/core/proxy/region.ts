/**
 * Region closeness for balancing (reference §1c: "least-loaded, closest machine; closeness =
 * measured edge↔worker RTT"). Hangar has no RTT probes yet, so closeness comes from the
 * operator's table (`--region-distances`, the shape `.internal` DNS uses: `distances[a][b]`,
 * looked up both ways) or, for pairs it lacks, an estimate from the regions' cities; the
 * proxy's own region is 0 and an unknown pair sorts after every known one.
 */

import { FLY_REGIONS, type RegionArea } from '../fly/regions.js';

export { regionDistance, type DistanceTable, type RegionArea } from '../fly/regions.js';

/**
 * Region lists (`fly-replay: region="iad,ord,us,na"`, `fly-prefer-region`, `fly-force-region`;
 * reference §1c) accept the area aliases of core/fly/regions.ts plus `any`. Regions Hangar does
 * not know (a self-hosted `local`, say) are still valid codes: they are just not reached by an
 * alias other than `any`.
 */
export const REGION_AREAS: Readonly<Record<string, readonly RegionArea[]>> = Object.fromEntries(Object.entries(FLY_REGIONS).map(([code, r]) => [code, r.areas]));

const AREA_ALIASES: Readonly<Record<string, RegionArea>> = { apac: 'apac', eu: 'eu', na: 'na', sa: 'sa', us: 'us', usa: 'us' };

/** The regions of an area, in the table's (alphabetical) order. */
export function regionsIn(area: RegionArea): string[] {
  return Object.keys(REGION_AREAS)
    .filter((r) => REGION_AREAS[r]!.includes(area))
    .sort();
}

/** One entry of an expanded list: a region, or the regions an alias stands for (one tier). */
export type RegionGroup = string | readonly string[];

export interface RegionList {
  /** In the order listed; an alias becomes the group of its regions, the nearest of which wins. */
  readonly groups: readonly RegionGroup[];
  /** Every region the groups name, once each. */
  readonly regions: readonly string[];
  /** `any` was listed: anything beyond the groups is acceptable too. */
  readonly any: boolean;
}

/** Expands a region list (`["lhr", "eu", "any"]`, lower case) into groups, aliases resolved. */
export function expandRegionList(codes: readonly string[]): RegionList {
  const groups: RegionGroup[] = [];
  const regions = new Set<string>();
  let any = false;
  for (const code of codes) {
    if (code === 'any') {
      any = true;
      continue;
    }
    const area = AREA_ALIASES[code];
    if (area === undefined) {
      if (!regions.has(code)) groups.push(code);
      regions.add(code);
      continue;
    }
    const members = regionsIn(area).filter((r) => !regions.has(r));
    for (const r of members) regions.add(r);
    if (members.length > 0) groups.push(members);
  }
  return { groups, regions: [...regions], any };
}

/**
 * The balancer's view of a region list header or field. `force` (fly-force-region, fly-replay's
 * `region`): only the listed regions, tried in order, unless `any` is listed, which turns the list
 * into a preference (Fly: "If you replay to lhr,eu the proxy will try London, and failing that
 * force to anywhere in Europe. To make both a preference, you can replay to lhr,eu,any";
 * community.fly.io "Route (and replay) to regions in order of preference"). Without `force`
 * (fly-prefer-region) the list is always a preference, then the nearest region.
 */
export function regionRouting(codes: readonly string[], force: boolean): { forceRegions?: readonly string[]; preferRegions?: readonly RegionGroup[] } {
  const list = expandRegionList(codes);
  if (force && !list.any) return { forceRegions: list.regions, preferRegions: list.groups };
  return list.groups.length > 0 ? { preferRegions: list.groups } : {};
}
