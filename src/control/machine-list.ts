/**
 * GET /v1/apps/{app}/machines, built from a per-version cache of each machine's serialized JSON.
 *
 * Listing 10,000 machines by reading, parsing, reshaping and re-serializing every record costs
 * ~100 ms; almost all of it is wasted, since few machines change between two listings. So the
 * list asks the store only for ids and versions, re-reads just the machines whose version moved,
 * and joins cached JSON strings. `host_status` depends on the host's heartbeat, not on the
 * machine's version, so it is appended per request.
 */
import { machineJson } from '../core/fly/api-output.js';
import { KINDS, type HostRecord } from '../core/model.js';
import type { Entity } from '../store/types.js';
import type { ControlContext } from './context.js';
import { hostStatus } from './placement.js';
import type { MachineRecord } from '../core/machine/types.js';

export interface ListMachinesFilter {
  includeDeleted: boolean;
  region?: string | undefined;
  metadata: Record<string, string>;
}

interface CachedMachine {
  version: number;
  state: string;
  region: string;
  host: string;
  metadata: Record<string, string> | undefined;
  /** The machine's JSON without `host_status` and without its closing brace. */
  head: string;
  /** `head` completed with the host status it was last listed with, as UTF-8 (encoded once, not per request). */
  full: Buffer;
  fullStatus: string;
}

const EMPTY = Buffer.alloc(0);
const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** Above this many changed machines one full listing beats one read per machine. */
const FULL_READ_THRESHOLD = 64;

function toCached(e: Entity<MachineRecord>): CachedMachine {
  const { host_status: _ignored, ...rest } = machineJson(e.value);
  const json = JSON.stringify(rest);
  return {
    version: e.version,
    state: e.value.state,
    region: e.value.region,
    host: e.value.host,
    metadata: e.value.config.metadata,
    head: json.slice(0, -1),
    full: EMPTY,
    fullStatus: '',
  };
}

export class MachineListCache {
  private readonly byApp = new Map<string, Map<string, CachedMachine>>();

  constructor(private readonly ctx: ControlContext) {}

  /** The app's machines as a JSON array (UTF-8 bytes), filtered as the query asks. */
  async listJson(app: string, filter: ListMachinesFilter): Promise<Buffer> {
    const { store } = this.ctx;
    const [versions, hosts] = await Promise.all([
      store.listVersions(KINDS.machine, { scope: app }),
      store.list<HostRecord>(KINDS.host),
    ]);
    const prev = this.byApp.get(app) ?? new Map<string, CachedMachine>();
    const changed = versions.filter((v) => prev.get(v.id)?.version !== v.version);
    const fresh = new Map<string, CachedMachine>();
    if (changed.length > FULL_READ_THRESHOLD) {
      for (const e of await store.list<MachineRecord>(KINDS.machine, { scope: app })) fresh.set(e.id, toCached(e));
    } else if (changed.length > 0) {
      const read = await Promise.all(changed.map((v) => store.get<MachineRecord>(KINDS.machine, v.id)));
      for (const e of read) if (e) fresh.set(e.id, toCached(e));
    }
    const next = new Map<string, CachedMachine>();
    for (const v of versions) {
      // a machine destroyed between the two reads is simply absent from `fresh` and `prev`
      const entry = fresh.get(v.id) ?? prev.get(v.id);
      if (entry) next.set(v.id, entry);
    }
    this.byApp.set(app, next);

    const now = this.ctx.now();
    const status = new Map(hosts.map((h) => [h.id, JSON.stringify(hostStatus(h.value, now))]));
    const unknown = JSON.stringify('unknown');
    const meta = Object.entries(filter.metadata);
    const parts: Buffer[] = [OPEN];
    for (const m of next.values()) {
      if (!filter.includeDeleted && m.state === 'destroyed') continue;
      if (filter.region !== undefined && m.region !== filter.region) continue;
      if (meta.some(([k, val]) => m.metadata?.[k] !== val)) continue;
      const hs = status.get(m.host) ?? unknown;
      if (m.fullStatus !== hs) {
        m.full = Buffer.from(`${m.head},"host_status":${hs}}`);
        m.fullStatus = hs;
      }
      if (parts.length > 1) parts.push(COMMA);
      parts.push(m.full);
    }
    parts.push(CLOSE);
    return Buffer.concat(parts);
  }
}
