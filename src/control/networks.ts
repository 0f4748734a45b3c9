/**
 * 6PN networks in the store (ARCHITECTURE.md "Networking (6PN)", reference §1d): each network
 * name gets a 32-bit network number (its `/48` under `fdaa::/16`), and each (host, network) pair
 * a host `/64`. An org's default network and every app created with its own `network` name
 * (Fly's custom networks) are networks; apps sharing a network see each other, others do not.
 *
 * Store kinds (the lead adds them to core/model.ts KINDS):
 * - `network`        `<org>:<name>`     / org slug   ({@link NetworkRecord})
 * - `network_number` the number, decimal / `6pn`     (reservation: two networks never share a number)
 * - `host_prefix`    `<network>:<host>` / host id    ({@link HostPrefixRecord}); plus
 *                    `<network>:=<prefix>` / `network-<network>` (reservation of the /64 itself)
 *
 * Reservations go in one batch with compare-and-set (`expectedVersion: 0`), so concurrent
 * creators never hand out one number or prefix twice; a loser retries with fresh data.
 */
import { KINDS, networkId } from '../core/model.js';
import { randomInt } from 'node:crypto';
import { allocateHostPrefix, allocateNetworkNumber, MAX_SITE } from '../core/net/sixpn.js';
import { isStoreConflict } from '../store/types.js';
import type { ControlContext } from './context.js';
import { iso } from './context.js';

export const NETWORK_KIND = KINDS.network;
export const NETWORK_NUMBER_KIND = KINDS.networkNumber;
export const HOST_PREFIX_KIND = KINDS.hostPrefix;
export const SITE_KIND = KINDS.site;

export interface NetworkRecord {
  name: string;
  org: string;
  /** 1..2^32-1; the network's /48 is `sixpn.networkPrefix(number)`. */
  number: number;
  created_at: string;
}

export interface HostPrefixRecord {
  host: string;
  network: number;
  /** The host's `/64` in the network, e.g. `fdaa:0:1:1::/64`. */
  prefix: string;
}

const ATTEMPTS = 20;

/**
 * Org `org`'s network called `name`, created with the lowest free number when new. Names are
 * per org (every org has a `default`), numbers are global.
 */
export async function ensureNetwork(ctx: ControlContext, org: string, name: string): Promise<NetworkRecord> {
  const id = networkId(org, name);
  for (let attempt = 0; ; attempt++) {
    const found = await ctx.store.get<NetworkRecord>(NETWORK_KIND, id);
    if (found !== undefined) return found.value;
    const used = (await ctx.store.list<NetworkRecord>(NETWORK_KIND)).map((e) => e.value.number);
    const site = await ensureSite(ctx);
    const rec: NetworkRecord = { name, org, number: allocateNetworkNumber(used, site), created_at: iso(ctx.now()) };
    try {
      await ctx.store.apply([
        { op: 'put', kind: NETWORK_KIND, id, value: rec, expectedVersion: 0, scope: org },
        { op: 'put', kind: NETWORK_NUMBER_KIND, id: String(rec.number), value: { name, org }, expectedVersion: 0, scope: '6pn' },
      ]);
      return rec;
    } catch (err) {
      if (!isStoreConflict(err) || attempt >= ATTEMPTS) throw err;
    }
  }
}

/**
 * This installation's 6PN site (1..65535, `sixpn.allocateNetworkNumber`): picked at random the
 * first time and kept in the store, so every network number this store hands out is in its
 * block and another installation on the same host (almost surely another site) never collides.
 */
export async function ensureSite(ctx: Pick<ControlContext, 'store'>): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const found = await ctx.store.get<{ site: number }>(SITE_KIND, '6pn');
    if (found !== undefined) return found.value.site;
    try {
      await ctx.store.apply([{ op: 'put', kind: SITE_KIND, id: '6pn', value: { site: randomInt(1, MAX_SITE + 1) }, expectedVersion: 0 }]);
    } catch (err) {
      if (!isStoreConflict(err) || attempt >= ATTEMPTS) throw err;
    }
  }
}

/** The numbers of every network this store knows (the networks this installation owns). */
export async function networkNumbers(ctx: Pick<ControlContext, 'store'>): Promise<Set<number>> {
  return new Set((await ctx.store.list<NetworkRecord>(NETWORK_KIND)).map((e) => e.value.number));
}

/** The host's `/64` in network `number`, allocated (lowest free host index) the first time. */
export async function ensureHostPrefix(ctx: ControlContext, host: string, network: number): Promise<string> {
  const id = `${network}:${host}`;
  for (let attempt = 0; ; attempt++) {
    const found = await ctx.store.get<HostPrefixRecord>(HOST_PREFIX_KIND, id);
    if (found !== undefined) return found.value.prefix;
    const used = (await ctx.store.list<HostPrefixRecord>(HOST_PREFIX_KIND, { scope: `network-${network}` })).map((e) => e.value.prefix);
    const prefix = allocateHostPrefix(network, used);
    const value: HostPrefixRecord = { host, network, prefix };
    try {
      await ctx.store.apply([
        { op: 'put', kind: HOST_PREFIX_KIND, id, value, expectedVersion: 0, scope: host },
        // the prefix itself is reserved too: two hosts racing for index N cannot both win it
        { op: 'put', kind: HOST_PREFIX_KIND, id: `${network}:=${prefix}`, value, expectedVersion: 0, scope: `network-${network}` },
      ]);
      return prefix;
    } catch (err) {
      if (!isStoreConflict(err) || attempt >= ATTEMPTS) throw err;
    }
  }
}

/** The networks with a `/64` on `host` (for the agent's start-up: bridges and DNS listeners). */
export async function hostNetworks(ctx: Pick<ControlContext, 'store'>, host: string): Promise<Array<HostPrefixRecord & { name: string }>> {
  const prefixes = await ctx.store.list<HostPrefixRecord>(HOST_PREFIX_KIND, { scope: host });
  const out: Array<HostPrefixRecord & { name: string }> = [];
  for (const p of prefixes) {
    const n = await ctx.store.get<{ name: string }>(NETWORK_NUMBER_KIND, String(p.value.network));
    if (n !== undefined) out.push({ ...p.value, name: n.value.name });
  }
  return out;
}

/** A network's id (`networkId`) from its number: the DNS listener of `<network>::3` serves that network's view. */
export async function networkIdOf(ctx: Pick<ControlContext, 'store'>, number: number): Promise<string | undefined> {
  const rec = (await ctx.store.get<{ name: string; org: string }>(NETWORK_NUMBER_KIND, String(number)))?.value;
  return rec === undefined ? undefined : networkId(rec.org, rec.name);
}
