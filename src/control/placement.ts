/**
 * Placement: which host runs a new machine, and the machine's private address.
 *
 * Hosts are the `host` records agents register (scope = region). A host whose heartbeat is
 * fresh is preferred; among those, the one with the fewest address reservations (= machines).
 * Addresses depend on the host's `address_mode` (model.ts): `loopback` hands out a unique
 * 127.x.y.z from the host's `address_range`, reserved with a `private_ip` entity created in the
 * same batch as the machine (compare-and-set, so two creates never get the same address);
 * `6pn` gives the next free `::2` of a /112 in the host's /64 of the app's network
 * (networks.ts, core/net/sixpn.ts), reserved the same way.
 */
import { randomInt } from 'node:crypto';
import { KINDS, type HostRecord } from '../core/model.js';
import { allocateMachineAddress } from '../core/net/sixpn.js';
import type { BatchOp } from '../store/types.js';
import { ApiError, precondition } from './errors.js';
import type { ControlContext } from './context.js';
import { quote } from './names.js';
import { ensureHostPrefix, ensureNetwork } from './networks.js';

/**
 * Store kind of address reservations: id `<host>/<ip>`, scope host id. Not in model.ts's KINDS
 * yet (the lead adds it); the agent never needs it.
 */
export const IP_KIND = 'private_ip';

/** A heartbeat older than this makes a host `unknown` (and last choice for placement). */
export const HOST_STALE_MS = 60_000;

export function ipReservationId(host: string, ip: string): string {
  return `${host}/${ip}`;
}

export function hostStatus(host: HostRecord | undefined, nowMs: number): 'ok' | 'unknown' {
  return host !== undefined && nowMs - host.heartbeat_at <= HOST_STALE_MS ? 'ok' : 'unknown';
}

/** The host for a new machine or volume in `region` (any region when undefined). */
export async function pickHost(ctx: ControlContext, region: string | undefined): Promise<HostRecord> {
  const hosts = (await ctx.store.list<HostRecord>(KINDS.host, region === undefined ? {} : { scope: region })).map((e) => e.value);
  if (hosts.length === 0) {
    throw new ApiError('HANGAR_ERR_API_NO_CAPACITY', region === undefined ? 'no hosts are registered; start an agent first' : `no capacity available in region ${quote(region)}: no host is registered there`);
  }
  const now = ctx.now();
  // a region whose only hosts are silent still gets the machine: their agents may be restarting
  const candidates = hosts;
  const alive = candidates.filter((h) => hostStatus(h, now) === 'ok');
  const pool = alive.length > 0 ? alive : candidates;
  const loads = await Promise.all(pool.map((h) => ctx.store.count(IP_KIND, { scope: h.id })));
  let best = 0;
  for (let i = 1; i < pool.length; i++) if ((loads[i] as number) < (loads[best] as number)) best = i;
  return pool[best] as HostRecord;
}

/** Parses an IPv4 CIDR (`127.77.0.0/16`) into its base as an integer and its prefix length. */
export function parseCidr4(range: string): { base: number; prefix: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(range.trim());
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix < 8 || prefix > 30) return undefined;
  const raw = (((octets[0] as number) << 24) >>> 0) + ((octets[1] as number) << 16) + ((octets[2] as number) << 8) + (octets[3] as number);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (raw & mask) >>> 0, prefix };
}

function ipString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * A candidate address for a machine on `host` plus the op that reserves it. The caller puts the
 * op in its batch and retries with a new candidate when that op conflicts.
 */
export function candidateAddress(host: HostRecord, machineId: string): { ip: string; op: BatchOp } {
  if (host.address_mode === '6pn') throw precondition(`host ${quote(host.id)} gives 6PN addresses: use reserveAddress`);
  const cidr = parseCidr4(host.address_range);
  if (cidr === undefined || cidr.base >>> 24 !== 127) {
    throw precondition(`host ${quote(host.id)} has an invalid loopback address_range ${quote(host.address_range)} (want e.g. 127.77.0.0/16)`);
  }
  const size = 2 ** (32 - cidr.prefix);
  // skip the range's first two addresses (network, and .1 which the host itself may use) and the last
  const ip = ipString(cidr.base + randomInt(2, size - 1));
  return { ip, op: { op: 'put', kind: IP_KIND, id: ipReservationId(host.id, ip), value: { host: host.id, ip, machine_id: machineId }, expectedVersion: 0, scope: host.id } };
}

/**
 * The address of a new machine of `app` on `host` plus the op that reserves it: a loopback
 * candidate, or on a 6PN host the next free machine address in the host's /64 of the app's
 * network (network and /64 are created on first use). A conflict on the op means another create
 * took the address meanwhile: the caller calls again and gets the next one.
 */
export async function reserveAddress(ctx: ControlContext, host: HostRecord, app: { org: string; network: string }, machineId: string): Promise<{ ip: string; op: BatchOp }> {
  if (host.address_mode !== '6pn') return candidateAddress(host, machineId);
  const network = await ensureNetwork(ctx, app.org, app.network);
  const prefix = await ensureHostPrefix(ctx, host.id, network.number);
  const used = (await ctx.store.list<{ ip: string }>(IP_KIND, { scope: host.id })).map((e) => e.value.ip);
  const ip = allocateMachineAddress(prefix, used);
  return { ip, op: { op: 'put', kind: IP_KIND, id: ipReservationId(host.id, ip), value: { host: host.id, ip, machine_id: machineId }, expectedVersion: 0, scope: host.id } };
}
