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

/**
 * The geographic groups Fly's region lists accept as aliases (`us` also spelled `usa`; docs
 * `networking/dynamic-request-routing`). `jnb` is in none (only `any` reaches it); `yyz` and
 * `yul` are North America but not the US.
 */
export type RegionArea = 'apac' | 'eu' | 'na' | 'sa' | 'us';

export interface RegionInfo {
  readonly city: string;
  readonly lat: number;
  readonly lon: number;
  readonly areas: readonly RegionArea[];
}

/** Current regions first, then retired ones that older apps and fly.toml files still name. */
export const FLY_REGIONS: Readonly<Record<string, RegionInfo>> = {
  ams: { city: 'Amsterdam, Netherlands', lat: 52.37, lon: 4.9, areas: ['eu'] },
  arn: { city: 'Stockholm, Sweden', lat: 59.65, lon: 17.92, areas: ['eu'] },
  bom: { city: 'Mumbai, India', lat: 19.09, lon: 72.87, areas: ['apac'] },
  cdg: { city: 'Paris, France', lat: 49.01, lon: 2.55, areas: ['eu'] },
  dfw: { city: 'Dallas, Texas (US)', lat: 32.9, lon: -97.04, areas: ['na', 'us'] },
  ewr: { city: 'Secaucus, NJ (US)', lat: 40.79, lon: -74.06, areas: ['na', 'us'] },
  fra: { city: 'Frankfurt, Germany', lat: 50.03, lon: 8.57, areas: ['eu'] },
  gru: { city: 'Sao Paulo, Brazil', lat: -23.43, lon: -46.47, areas: ['sa'] },
  iad: { city: 'Ashburn, Virginia (US)', lat: 39.04, lon: -77.49, areas: ['na', 'us'] },
  jnb: { city: 'Johannesburg, South Africa', lat: -26.14, lon: 28.25, areas: [] },
  lax: { city: 'Los Angeles, California (US)', lat: 33.94, lon: -118.41, areas: ['na', 'us'] },
  lhr: { city: 'London, United Kingdom', lat: 51.47, lon: -0.45, areas: ['eu'] },
  nrt: { city: 'Tokyo, Japan', lat: 35.76, lon: 140.39, areas: ['apac'] },
  ord: { city: 'Chicago, Illinois (US)', lat: 41.98, lon: -87.9, areas: ['na', 'us'] },
  sin: { city: 'Singapore, Singapore', lat: 1.36, lon: 103.99, areas: ['apac'] },
  sjc: { city: 'San Jose, California (US)', lat: 37.36, lon: -121.93, areas: ['na', 'us'] },
  syd: { city: 'Sydney, Australia', lat: -33.95, lon: 151.18, areas: ['apac'] },
  yyz: { city: 'Toronto, Canada', lat: 43.68, lon: -79.63, areas: ['na'] },
  // retired or merged regions
  atl: { city: 'Atlanta, Georgia (US)', lat: 33.64, lon: -84.43, areas: ['na', 'us'] },
  bog: { city: 'Bogotá, Colombia', lat: 4.7, lon: -74.14, areas: ['sa'] },
  bos: { city: 'Boston, Massachusetts (US)', lat: 42.36, lon: -71.01, areas: ['na', 'us'] },
  den: { city: 'Denver, Colorado (US)', lat: 39.86, lon: -104.67, areas: ['na', 'us'] },
  eze: { city: 'Ezeiza, Argentina', lat: -34.82, lon: -58.54, areas: ['sa'] },
  gdl: { city: 'Guadalajara, Mexico', lat: 20.52, lon: -103.31, areas: ['na'] },
  hkg: { city: 'Hong Kong, Hong Kong', lat: 22.31, lon: 113.91, areas: ['apac'] },
  mad: { city: 'Madrid, Spain', lat: 40.49, lon: -3.57, areas: ['eu'] },
  mia: { city: 'Miami, Florida (US)', lat: 25.79, lon: -80.29, areas: ['na', 'us'] },
  otp: { city: 'Bucharest, Romania', lat: 44.57, lon: 26.1, areas: ['eu'] },
  phx: { city: 'Phoenix, Arizona (US)', lat: 33.43, lon: -112.01, areas: ['na', 'us'] },
  qro: { city: 'Querétaro, Mexico', lat: 20.62, lon: -100.19, areas: ['na'] },
  scl: { city: 'Santiago, Chile', lat: -33.39, lon: -70.79, areas: ['sa'] },
  sea: { city: 'Seattle, Washington (US)', lat: 47.45, lon: -122.31, areas: ['na', 'us'] },
  waw: { city: 'Warsaw, Poland', lat: 52.17, lon: 20.97, areas: ['eu'] },
  yul: { city: 'Montreal, Canada', lat: 45.47, lon: -73.74, areas: ['na'] },
};

/** Region distances in ms, `table[a][b]`, looked up both ways (`--region-distances`, ZoneInput). */
export type DistanceTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

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
export function regionDistance(table: DistanceTable | undefined, from: string, to: string): number {
  if (from === to) return 0;
  const d = table?.[from]?.[to] ?? table?.[to]?.[from];
  if (d !== undefined) return d;
  return estimatedRttMs(from, to) ?? Number.POSITIVE_INFINITY;
}
