/**
 * Region closeness for balancing (reference §1c: "least-loaded, closest machine; closeness =
 * measured edge↔worker RTT"). Hangar has no RTT probes yet, so closeness comes from a
 * configurable table in the same shape `.internal` DNS uses (`distances[a][b]`, looked up both
 * ways); the proxy's own region is 0 and an unknown pair sorts after every known one.
 */

export type DistanceTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** Distance from `from` to `to`: the table's value, 0 within a region, else +Infinity. */
export function regionDistance(table: DistanceTable | undefined, from: string, to: string): number {
  if (from === to) return 0;
  const d = table?.[from]?.[to] ?? table?.[to]?.[from];
  return d ?? Number.POSITIVE_INFINITY;
}
