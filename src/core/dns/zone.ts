/**
 * The `.internal` DNS zone, built purely from apps and machines (ARCHITECTURE.md "Networking
 * (6PN)", reference §1d). The resolver edge (`src/dns/`) rebuilds it from a store watch and
 * answers from `Zone.lookup`; nothing here does I/O.
 *
 * Every network gets its own view: a query arriving on network X's resolver sees only network
 * X's apps (Fly isolates custom networks, reference §1d). Names (all lowercase, case-insensitive):
 *
 * | name                                   | records                                          |
 * |----------------------------------------|--------------------------------------------------|
 * | `<app>.internal`, `global.<app>.internal` | AAAA/A of the app's started machines          |
 * | `<region>.<app>.internal`              | AAAA/A of its started machines in that region     |
 * | `<id>.vm.<app>.internal`               | AAAA/A of that machine                            |
 * | `<group>.process.<app>.internal`       | AAAA/A of the group's machines (`fly_process_group`) |
 * | `top<N>.nearest.of.<app>.internal`     | AAAA/A of the N machines nearest this resolver's region |
 * | `<value>.<key>.kv._metadata.<app>.internal` | AAAA/A of machines whose metadata key = value |
 * | `vms.<app>.internal` TXT               | `<id> <region>` of started machines, comma-separated |
 * | `all.vms.<app>.internal` TXT           | the same for every machine that is not destroyed  |
 * | `regions.<app>.internal` TXT           | regions of started machines, comma-separated      |
 * | `all.regions.<app>.internal` TXT       | regions of every machine that is not destroyed    |
 * | `_apps.internal` TXT                   | app names of the network, comma-separated         |
 * | `_instances.internal` TXT              | `instance=<id>,app=<app>,ip=<ip>,region=<r>` entries joined by `;` |
 * | `all._instances.internal` TXT          | the same for every machine that is not destroyed  |
 *
 * Only started machines with a private address are listed, and `dns.skip_registration` hides a
 * machine from every name (reference §1d). A machine with an IPv4 address (the process driver's
 * `127.x.y.z`, model.ts `AddressMode`) gets A records instead of AAAA under the same names, so
 * `.internal` works in development too.
 *
 * Answers follow RFC 2308: a name that exists but has no record of the asked type is NOERROR
 * with no answer (NODATA), a name that does not exist is NXDOMAIN; both carry the zone's SOA in
 * the authority section so resolvers cache the negative answer for the SOA minimum. Names that
 * exist only because a longer name exists under them (`vm.<app>.internal`) are NODATA, not
 * NXDOMAIN (RFC 8020: an NXDOMAIN would deny the whole subtree).
 */
import { regionDistance, type DistanceTable } from '../fly/regions.js';

/**
 * TTL of every `.internal` answer and of negative answers. Short because the zone changes with
 * machine lifecycles: autostop/autostart start and stop machines all the time and addresses move
 * on migration (reference §1d: "not static"), so a cached answer must not outlive a stopped
 * machine by much; 5 s still absorbs the bursts of identical queries a client pool makes.
 */
export const INTERNAL_TTL = 5;

/** The zone apex. */
export const ZONE_APEX = 'internal';

export type RecordType = 'A' | 'AAAA' | 'TXT' | 'SOA';

export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** One resource record, shaped like `dns-packet`'s answers so the edge can encode it as is. */
export type ZoneRecord =
  | { name: string; type: 'A' | 'AAAA'; class: 'IN'; ttl: number; data: string }
  | { name: string; type: 'TXT'; class: 'IN'; ttl: number; data: string[] }
  | { name: string; type: 'SOA'; class: 'IN'; ttl: number; data: SoaData };

export interface ZoneApp {
  name: string;
  network: string;
  org: string;
}

export interface ZoneMachine {
  id: string;
  app: string;
  region: string;
  /** Fly machine state; only `started` machines get address records. */
  state: string;
  /** `fdaa:…` (6PN) or `127.x.y.z` (process driver); empty when none is assigned yet. */
  private_ip: string;
  /** `config.metadata.fly_process_group`. */
  process_group?: string;
  /** `config.dns.skip_registration`. */
  skip_registration?: boolean;
  /** `config.metadata`, for `<value>.<key>.kv._metadata.<app>.internal`. */
  metadata?: Record<string, string>;
}

export interface ZoneInput {
  /** Networks to answer for even when they hold no app (a resolver listens on each). */
  networks?: readonly string[];
  apps: readonly ZoneApp[];
  machines: readonly ZoneMachine[];
  /** Region of the resolver building this zone: `topN.nearest.of` counts from here. */
  localRegion?: string;
  /**
   * Distance between regions (e.g. RTT in ms), `distances[a][b]`; looked up both ways. A
   * missing pair counts as 0 within one region, else as the estimate from Fly's region cities
   * (core/fly/regions.ts), else as unknown (after every known pair).
   */
  distances?: DistanceTable;
  /** SOA serial; the edge passes its rebuild counter. */
  serial?: number;
}

export type Rcode = 'NOERROR' | 'NXDOMAIN';

/** What the zone answers for one question. */
export type LookupResult =
  | { kind: 'answer'; rcode: Rcode; answers: ZoneRecord[]; authority: ZoneRecord[] }
  /** Not under `.internal`: the edge forwards it to the host's resolvers. */
  | { kind: 'forward' };

/** Records of one owner name, by type. */
type Node = Map<RecordType, ZoneRecord[]>;

interface NetworkView {
  /** Owner name → records; an empty map marks an empty non-terminal. */
  names: Map<string, Node>;
  /** App name → its address records sorted nearest first (for `topN.nearest.of`). */
  nearest: Map<string, ZoneRecord[]>;
}

/** A built zone. Immutable; build a new one when the inputs change. */
export interface Zone {
  readonly serial: number;
  /** Networks this zone has a view of. */
  readonly networks: readonly string[];
  /** Answers `qname`/`qtype` (`'ANY'` or any other type name) as seen from `network`. */
  lookup(network: string, qname: string, qtype: string): LookupResult;
}

const TXT_CHUNK = 255;

/** Splits a TXT value into <=255-byte character-strings of one record (RFC 1035 §3.3.14); clients join them. */
function txtChunks(value: string): string[] {
  if (value.length === 0) return [''];
  const chunks: string[] = [];
  // Values are ASCII (ids, app names, regions, addresses), so characters are bytes.
  for (let i = 0; i < value.length; i += TXT_CHUNK) chunks.push(value.slice(i, i + TXT_CHUNK));
  return chunks;
}

function soaRecord(serial: number): ZoneRecord {
  return {
    name: ZONE_APEX,
    type: 'SOA',
    class: 'IN',
    ttl: INTERNAL_TTL,
    data: { mname: `ns.${ZONE_APEX}`, rname: `hostmaster.${ZONE_APEX}`, serial: serial >>> 0, refresh: 60, retry: 10, expire: 600, minimum: INTERNAL_TTL },
  };
}

function addressRecord(name: string, ip: string): ZoneRecord {
  return { name, type: ip.includes(':') ? 'AAAA' : 'A', class: 'IN', ttl: INTERNAL_TTL, data: ip };
}

/** A label usable in a name: lowercase, non-empty, no dots. */
function label(value: string): string | undefined {
  const l = value.toLowerCase();
  return l.length > 0 && l.length <= 63 && !l.includes('.') ? l : undefined;
}

const TERMINAL = new Set(['destroyed', 'destroying', 'replaced', 'migrated']);

function byId(a: ZoneMachine, b: ZoneMachine): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

class ViewBuilder {
  readonly names = new Map<string, Node>();

  add(name: string, record: ZoneRecord): void {
    let node = this.names.get(name);
    if (!node) {
      node = new Map();
      this.names.set(name, node);
    }
    const list = node.get(record.type);
    if (list) list.push(record);
    else node.set(record.type, [record]);
  }

  addTxt(name: string, value: string): void {
    this.add(name, { name, type: 'TXT', class: 'IN', ttl: INTERNAL_TTL, data: txtChunks(value) });
  }

  /** Marks every ancestor of every name up to the apex as existing (empty non-terminals). */
  closeAncestors(): void {
    for (const name of [...this.names.keys()]) {
      let rest = name;
      for (let dot = rest.indexOf('.'); dot >= 0; dot = rest.indexOf('.')) {
        rest = rest.slice(dot + 1);
        if (!this.names.has(rest)) this.names.set(rest, new Map());
      }
    }
  }
}

function buildView(input: ZoneInput, apps: ZoneApp[], machines: ZoneMachine[], serial: number): NetworkView {
  const b = new ViewBuilder();
  b.names.set(ZONE_APEX, new Map([['SOA', [soaRecord(serial)]]]));
  const appNames = apps.map((a) => a.name.toLowerCase()).sort();
  if (appNames.length > 0) b.addTxt(`_apps.${ZONE_APEX}`, appNames.join(','));

  const byApp = new Map<string, ZoneMachine[]>();
  for (const m of machines) {
    const list = byApp.get(m.app.toLowerCase());
    if (list) list.push(m);
    else byApp.set(m.app.toLowerCase(), [m]);
  }
  const instances: string[] = [];
  const allInstances: string[] = [];
  const nearest = new Map<string, ZoneRecord[]>();
  const local = input.localRegion;

  for (const app of appNames) {
    const base = `${app}.${ZONE_APEX}`;
    // The app's own name exists even with nothing started: NODATA tells a client the app is there.
    if (!b.names.has(base)) b.names.set(base, new Map());
    const listed = (byApp.get(app) ?? []).filter((m) => !m.skip_registration && !TERMINAL.has(m.state)).sort(byId);
    const started = listed.filter((m) => m.state === 'started' && m.private_ip !== '');

    const allRegions = [...new Set(listed.map((m) => m.region.toLowerCase()))].sort();
    if (listed.length > 0) {
      b.addTxt(`all.vms.${base}`, listed.map((m) => `${m.id} ${m.region}`).join(','));
      b.addTxt(`all.regions.${base}`, allRegions.join(','));
    }
    for (const m of listed) if (m.private_ip !== '') allInstances.push(`instance=${m.id},app=${app},ip=${m.private_ip},region=${m.region}`);
    if (started.length === 0) continue;

    b.addTxt(`vms.${base}`, started.map((m) => `${m.id} ${m.region}`).join(','));
    b.addTxt(`regions.${base}`, [...new Set(started.map((m) => m.region.toLowerCase()))].sort().join(','));
    for (const m of started) {
      instances.push(`instance=${m.id},app=${app},ip=${m.private_ip},region=${m.region}`);
      const owners = [base, `global.${base}`];
      const region = label(m.region);
      if (region) owners.push(`${region}.${base}`);
      const id = label(m.id);
      if (id) owners.push(`${id}.vm.${base}`);
      const group = m.process_group === undefined ? undefined : label(m.process_group);
      if (group) owners.push(`${group}.process.${base}`);
      for (const [key, value] of Object.entries(m.metadata ?? {})) {
        const k = label(key);
        const v = label(value);
        if (k && v) owners.push(`${v}.${k}.kv._metadata.${base}`);
      }
      for (const owner of owners) b.add(owner, addressRecord(owner, m.private_ip));
    }
    const sorted = local === undefined ? started : [...started].sort((x, y) => regionDistance(input.distances, local, x.region) - regionDistance(input.distances, local, y.region) || byId(x, y));
    nearest.set(app, sorted.map((m) => addressRecord('', m.private_ip)));
    // `nearest.of.<app>.internal` and `of.<app>.internal` exist as soon as a `topN` can answer.
    b.names.set(`nearest.of.${base}`, new Map());
  }
  if (instances.length > 0) b.addTxt(`_instances.${ZONE_APEX}`, instances.join(';'));
  if (allInstances.length > 0) b.addTxt(`all._instances.${ZONE_APEX}`, allInstances.join(';'));
  b.closeAncestors();
  return { names: b.names, nearest };
}

const NEAREST = /^top([1-9][0-9]{0,8})\.nearest\.of\.([^.]+)\.internal$/;

/** Lowercases and drops one trailing dot: `Web.Internal.` → `web.internal`. */
export function normalizeName(qname: string): string {
  const n = qname.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** Whether a (normalized) name is the apex or under it. */
export function isInternalName(name: string): boolean {
  return name === ZONE_APEX || name.endsWith(`.${ZONE_APEX}`);
}

/**
 * Builds the zone: one view per network named by `input.networks` or by an app.
 * Machines of apps that are not in `input.apps` are left out.
 */
export function buildZone(input: ZoneInput): Zone {
  const serial = input.serial ?? 1;
  const appsByNetwork = new Map<string, ZoneApp[]>();
  for (const n of input.networks ?? []) appsByNetwork.set(n, []);
  const networkOfApp = new Map<string, string>();
  for (const app of input.apps) {
    const list = appsByNetwork.get(app.network);
    if (list) list.push(app);
    else appsByNetwork.set(app.network, [app]);
    networkOfApp.set(app.name.toLowerCase(), app.network);
  }
  const machinesByNetwork = new Map<string, ZoneMachine[]>();
  for (const m of input.machines) {
    const network = networkOfApp.get(m.app.toLowerCase());
    if (network === undefined) continue;
    const list = machinesByNetwork.get(network);
    if (list) list.push(m);
    else machinesByNetwork.set(network, [m]);
  }
  const views = new Map<string, NetworkView>();
  for (const [network, apps] of appsByNetwork) views.set(network, buildView(input, apps, machinesByNetwork.get(network) ?? [], serial));
  const soa = [soaRecord(serial)];

  return {
    serial,
    networks: [...views.keys()].sort(),
    lookup(network, qname, qtype) {
      const name = normalizeName(qname);
      if (!isInternalName(name)) return { kind: 'forward' };
      const view = views.get(network);
      if (!view) return { kind: 'answer', rcode: 'NXDOMAIN', answers: [], authority: soa };
      const type = qtype.toUpperCase();
      const top = NEAREST.exec(name);
      if (top) {
        const list = view.nearest.get(top[2] ?? '');
        if (!list) return { kind: 'answer', rcode: 'NXDOMAIN', answers: [], authority: soa };
        const answers = list
          .slice(0, Number(top[1]))
          .filter((r) => type === 'ANY' || r.type === type)
          .map((r) => ({ ...r, name }) as ZoneRecord);
        return { kind: 'answer', rcode: 'NOERROR', answers, authority: answers.length > 0 ? [] : soa };
      }
      const node = view.names.get(name);
      if (!node) return { kind: 'answer', rcode: 'NXDOMAIN', answers: [], authority: soa };
      const answers = type === 'ANY' ? [...node.values()].flat() : (node.get(type as RecordType) ?? []);
      return { kind: 'answer', rcode: 'NOERROR', answers, authority: answers.length > 0 ? [] : soa };
    },
  };
}
