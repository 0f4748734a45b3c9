/**
 * Region closeness for balancing (reference §1c: "least-loaded, closest machine; closeness =
 * measured edge↔worker RTT"). Hangar has no RTT probes yet, so closeness comes from a
 * configurable table in the same shape `.internal` DNS uses (`distances[a][b]`, looked up both
 * ways); the proxy's own region is 0 and an unknown pair sorts after every known one.
 */

import { regionCloseness } from '../fly/regions.js';

export type DistanceTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

/**
 * Distance from `from` to `to`: 0 within a region, the table's value, else the estimate from the
 * regions' cities (core/fly/regions.ts), else +Infinity.
 */
export function regionDistance(table: DistanceTable | undefined, from: string, to: string): number {
  return regionCloseness(table, from, to);
}
