/**
 * Fly's region codes with the city each stands for (reference §1d; docs `reference/regions`),
 * and a default closeness between them for balancing and `top<N>.nearest.of` DNS when the
 * operator gives no measured table (`--region-distances`).
 *
 * The default is an estimated round-trip time from the great-circle distance between the cities:
 * light in fibre covers ~200 km per ms one way, and real paths are about 1.5× the great circle,
 * so RTT ≈ 2 × 1.5 × km / 200 ≈ km / 67 ms. Only the order matters for "closest first"; the
 * scale just keeps a measured table (ms of RTT) and the default comparable.
 */

export interface RegionInfo {
  readonly city: string;
  readonly lat: number;
  readonly lon: number;
}

/** Current regions first, then retired ones that older apps and fly.toml files still name. */
export const FLY_REGIONS: Readonly<Record<string, RegionInfo>> = {
  ams: { city: 'Amsterdam, Netherlands', lat: 52.37, lon: 4.9 },
  arn: { city: 'Stockholm, Sweden', lat: 59.65, lon: 17.92 },
  bom: { city: 'Mumbai, India', lat: 19.09, lon: 72.87 },
  cdg: { city: 'Paris, France', lat: 49.01, lon: 2.55 },
  dfw: { city: 'Dallas, Texas (US)', lat: 32.9, lon: -97.04 },
  ewr: { city: 'Secaucus, NJ (US)', lat: 40.79, lon: -74.06 },
  fra: { city: 'Frankfurt, Germany', lat: 50.03, lon: 8.57 },
  gru: { city: 'Sao Paulo, Brazil', lat: -23.43, lon: -46.47 },
  iad: { city: 'Ashburn, Virginia (US)', lat: 39.04, lon: -77.49 },
  jnb: { city: 'Johannesburg, South Africa', lat: -26.14, lon: 28.25 },
  lax: { city: 'Los Angeles, California (US)', lat: 33.94, lon: -118.41 },
  lhr: { city: 'London, United Kingdom', lat: 51.47, lon: -0.45 },
  nrt: { city: 'Tokyo, Japan', lat: 35.76, lon: 140.39 },
  ord: { city: 'Chicago, Illinois (US)', lat: 41.98, lon: -87.9 },
  sin: { city: 'Singapore, Singapore', lat: 1.36, lon: 103.99 },
  sjc: { city: 'San Jose, California (US)', lat: 37.36, lon: -121.93 },
  syd: { city: 'Sydney, Australia', lat: -33.95, lon: 151.18 },
  yyz: { city: 'Toronto, Canada', lat: 43.68, lon: -79.63 },
  // retired or merged regions
  atl: { city: 'Atlanta, Georgia (US)', lat: 33.64, lon: -84.43 },
  bog: { city: 'Bogotá, Colombia', lat: 4.7, lon: -74.14 },
  bos: { city: 'Boston, Massachusetts (US)', lat: 42.36, lon: -71.01 },
  den: { city: 'Denver, Colorado (US)', lat: 39.86, lon: -104.67 },
  eze: { city: 'Ezeiza, Argentina', lat: -34.82, lon: -58.54 },
  gdl: { city: 'Guadalajara, Mexico', lat: 20.52, lon: -103.31 },
  hkg: { city: 'Hong Kong, Hong Kong', lat: 22.31, lon: 113.91 },
  mad: { city: 'Madrid, Spain', lat: 40.49, lon: -3.57 },
  mia: { city: 'Miami, Florida (US)', lat: 25.79, lon: -80.29 },
  otp: { city: 'Bucharest, Romania', lat: 44.57, lon: 26.1 },
  phx: { city: 'Phoenix, Arizona (US)', lat: 33.43, lon: -112.01 },
  qro: { city: 'Querétaro, Mexico', lat: 20.62, lon: -100.19 },
  scl: { city: 'Santiago, Chile', lat: -33.39, lon: -70.79 },
  sea: { city: 'Seattle, Washington (US)', lat: 47.45, lon: -122.31 },
  waw: { city: 'Warsaw, Poland', lat: 52.17, lon: 20.97 },
  yul: { city: 'Montreal, Canada', lat: 45.47, lon: -73.74 },
};

const EARTH_KM = 6371;
/** km of great circle per ms of estimated round trip (see the header). */
const KM_PER_RTT_MS = 67;

/** Estimated RTT in ms between two known regions (0 within one); undefined when either is unknown. */
export function estimatedRttMs(a: string, b: string): number | undefined {
  if (a === b) return 0;
  const p = FLY_REGIONS[a];
  const q = FLY_REGIONS[b];
  if (!p || !q) return undefined;
  const rad = Math.PI / 180;
  const dLat = (q.lat - p.lat) * rad;
  const dLon = (q.lon - p.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(p.lat * rad) * Math.cos(q.lat * rad) * Math.sin(dLon / 2) ** 2;
  const km = 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(h)));
  return Math.round((km / KM_PER_RTT_MS) * 10) / 10;
}

/**
 * Distance from `from` to `to` for "closest first": the operator's table (`table[a][b]`, looked
 * up both ways) when it has the pair, else the estimate above, else +Infinity (sorts last).
 */
export function regionCloseness(table: Readonly<Record<string, Readonly<Record<string, number>>>> | undefined, from: string, to: string): number {
  if (from === to) return 0;
  const d = table?.[from]?.[to] ?? table?.[to]?.[from];
  if (d !== undefined) return d;
  return estimatedRttMs(from, to) ?? Number.POSITIVE_INFINITY;
}
