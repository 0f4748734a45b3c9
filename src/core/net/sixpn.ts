/**
 * 6PN addressing (ARCHITECTURE.md "Networking (6PN)", reference §1d), pure.
 *
 * Layout of an address, in 16-bit groups:
 *
 *     fdaa : NNNN : NNNN : HHHH : MMMM : MMMM : MMMM : IIII
 *     └fd00::/8 ULA┘└ network ┘ └host┘ └──── machine ───┘ └iface┘
 *
 * - network `/48`: `fdaa:<net hi16>:<net lo16>::/48`, the 32-bit network number assigned by the
 *   control plane (Fly's addresses carry a 32-bit network part too, reference §1d);
 * - host `/64`: one per host inside the network;
 * - machine `/112`: one per machine inside its host's /64; the machine's address is `::2` of its
 *   /112, which makes addresses look like Fly's (`fdaa:0:1:a7b:8c31:5ae1:4c9d:2`). The machine
 *   part is allocated, never derived from the machine id (reference §1d).
 *
 * Reserved: network 0 (it would hold `fdaa::3`, the address Fly gives every machine as its
 * resolver, which Hangar may want to mirror), host 0 of every network (it holds the network's
 * service addresses such as the resolver `<network>::3`), and machine 0 of every host (it holds
 * the host bridge address `<host>::1`).
 *
 * Addresses are handled as 128-bit bigints; formatting follows RFC 5952 (lowercase, no leading
 * zeros, the longest run of two or more zero groups compressed). `node:net` is not used here:
 * the core is pure (STYLE.md), edges may double-check with `isIPv6`.
 */

/** An IPv6 prefix: the base address (host bits zero) and the prefix length. */
export interface Cidr6 {
  readonly base: bigint;
  readonly bits: number;
}

import { HangarError } from '../errors.js';

export type SixpnErrorCode = 'HANGAR_ERR_6PN_INVALID' | 'HANGAR_ERR_6PN_EXHAUSTED';

/** A bad address or prefix, or an exhausted address space. */
export class SixpnError extends HangarError {
  declare readonly code: SixpnErrorCode;
  constructor(code: SixpnErrorCode, message: string) {
    super(code, message);
    this.name = 'SixpnError';
  }
}

const MAX128 = (1n << 128n) - 1n;
/** `fdaa::/16`, the ULA block every 6PN network lives in. */
export const SIXPN_BASE: Cidr6 = { base: 0xfdaan << 112n, bits: 16 };
export const NETWORK_BITS = 48;
export const HOST_BITS = 64;
export const MACHINE_BITS = 112;
/** Highest network number (32 bits). */
export const MAX_NETWORK = 0xffff_ffff;
/** Hosts per network: a 16-bit index, 0 reserved. */
export const MAX_HOST = 0xffff;
/** Machines per host: a 48-bit index, 0 reserved. */
export const MAX_MACHINE = (1n << 48n) - 1n;

/** Offset of the resolver inside the network /48 (`::3`, as Fly's `fdaa::3`). */
const RESOLVER_OFFSET = 3n;
/** Offset of the bridge inside the host /64. */
const BRIDGE_OFFSET = 1n;
/** Offset of a machine's address inside its /112. */
const MACHINE_OFFSET = 2n;

// ---------------------------------------------------------------------------------------------
// Text <-> bigint

function invalid(text: string, why: string): SixpnError {
  return new SixpnError('HANGAR_ERR_6PN_INVALID', `invalid IPv6 address ${JSON.stringify(text)}: ${why}`);
}

function parseGroups(part: string, text: string, allowV4: boolean): number[] {
  if (part === '') return [];
  const pieces = part.split(':');
  const groups: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i] ?? '';
    if (allowV4 && i === pieces.length - 1 && p.includes('.')) {
      const octets = p.split('.');
      if (octets.length !== 4 || !octets.every((o) => /^(0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255)) {
        throw invalid(text, 'bad embedded IPv4 part');
      }
      const [a, b, c, d] = octets.map(Number) as [number, number, number, number];
      groups.push((a << 8) | b, (c << 8) | d);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(p)) throw invalid(text, `bad group ${JSON.stringify(p)}`);
    groups.push(parseInt(p, 16));
  }
  return groups;
}

/** Parses an IPv6 address (full, `::`-compressed or with an embedded IPv4 tail) into a bigint. */
export function parseIPv6(text: string): bigint {
  if (text.length === 0 || text.length > 45) throw invalid(text, 'wrong length');
  const halves = text.split('::');
  if (halves.length > 2) throw invalid(text, 'more than one "::"');
  let groups: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0] ?? '', text, false);
    const tail = parseGroups(halves[1] ?? '', text, true);
    if (head.length + tail.length > 7) throw invalid(text, 'too many groups');
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    groups = parseGroups(text, text, true);
    if (groups.length !== 8) throw invalid(text, 'want 8 groups');
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/** Formats a 128-bit value as an RFC 5952 IPv6 address (`fdaa:0:1:a7b::2`). */
export function formatIPv6(value: bigint): string {
  if (value < 0n || value > MAX128) throw new SixpnError('HANGAR_ERR_6PN_INVALID', `not a 128-bit value: ${value}`);
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero groups (length >= 2); the first one wins a tie (RFC 5952 §4.2.3).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an address given in any valid form (`FDAA:0000::02` → `fdaa::2`). */
export function normalizeIPv6(text: string): string {
  return formatIPv6(parseIPv6(text));
}

function mask(bits: number): bigint {
  return bits === 0 ? 0n : (MAX128 >> BigInt(128 - bits)) << BigInt(128 - bits);
}

/** Parses `fdaa:0:1::/48`; the address must have no bits set beyond the prefix. */
export function parseCidr6(text: string): Cidr6 {
  const slash = text.indexOf('/');
  if (slash < 0) throw invalid(text, 'missing "/<bits>"');
  const bitsText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText) || Number(bitsText) > 128) throw invalid(text, 'bad prefix length');
  const bits = Number(bitsText);
  const base = parseIPv6(text.slice(0, slash));
  if ((base & ~mask(bits) & MAX128) !== 0n) throw invalid(text, 'host bits set beyond the prefix');
  return { base, bits };
}

export function formatCidr6(c: Cidr6): string {
  return `${formatIPv6(c.base)}/${c.bits}`;
}

/** Whether `addr` lies inside `c`. */
export function cidrContains(c: Cidr6, addr: bigint): boolean {
  return (addr & mask(c.bits)) === c.base;
}

// ---------------------------------------------------------------------------------------------
// The 6PN layout

function checkNetwork(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_NETWORK) {
    throw new SixpnError('HANGAR_ERR_6PN_INVALID', `network number ${n} is out of range (1..${MAX_NETWORK})`);
  }
}

function prefixOf(text: string, bits: number, what: string): Cidr6 {
  const c = parseCidr6(text);
  if (c.bits !== bits || !cidrContains(SIXPN_BASE, c.base)) {
    throw new SixpnError('HANGAR_ERR_6PN_INVALID', `${text} is not a 6PN ${what} prefix (want fdaa:…/${bits})`);
  }
  return c;
}

/** The network's `/48`: `fdaa:<hi16>:<lo16>::/48` (network 1 → `fdaa:0:1::/48`). */
export function networkPrefix(networkNumber: number): string {
  checkNetwork(networkNumber);
  return formatCidr6({ base: SIXPN_BASE.base | (BigInt(networkNumber) << 80n), bits: NETWORK_BITS });
}

/** The network's resolver address `<network>::3`, written into machines' `/etc/resolv.conf`. */
export function resolverAddress(networkNumber: number): string {
  checkNetwork(networkNumber);
  return formatIPv6(SIXPN_BASE.base | (BigInt(networkNumber) << 80n) | RESOLVER_OFFSET);
}

/** The network number of an address or prefix inside `fdaa::/16`. */
export function networkNumberOf(address: string): number {
  const addr = parseIPv6(address.split('/')[0] ?? '');
  if (!cidrContains(SIXPN_BASE, addr)) throw new SixpnError('HANGAR_ERR_6PN_INVALID', `${address} is not inside fdaa::/16`);
  return Number((addr >> 80n) & 0xffff_ffffn);
}

/** Host `index` (1..65535) of a network: `fdaa:<net>:<index>::/64`. */
export function hostPrefix(networkNumber: number, index: number): string {
  checkNetwork(networkNumber);
  if (!Number.isInteger(index) || index < 1 || index > MAX_HOST) {
    throw new SixpnError('HANGAR_ERR_6PN_INVALID', `host index ${index} is out of range (1..${MAX_HOST})`);
  }
  return formatCidr6({ base: SIXPN_BASE.base | (BigInt(networkNumber) << 80n) | (BigInt(index) << 64n), bits: HOST_BITS });
}

/** The host bridge address `<host /64>::1` (the machines' gateway). */
export function bridgeAddress(hostPrefixText: string): string {
  return formatIPv6(prefixOf(hostPrefixText, HOST_BITS, 'host').base | BRIDGE_OFFSET);
}

/** Machine `index` (1..2^48-1) of a host: its `/112`. */
export function machinePrefix(hostPrefixText: string, index: bigint): string {
  const host = prefixOf(hostPrefixText, HOST_BITS, 'host');
  checkMachine(index);
  return formatCidr6({ base: host.base | (index << 16n), bits: MACHINE_BITS });
}

/** The address of machine `index` of a host: `::2` of its /112. */
export function machineAddress(hostPrefixText: string, index: bigint): string {
  const host = prefixOf(hostPrefixText, HOST_BITS, 'host');
  checkMachine(index);
  return formatIPv6(host.base | (index << 16n) | MACHINE_OFFSET);
}

function checkMachine(index: bigint): void {
  if (index < 1n || index > MAX_MACHINE) {
    throw new SixpnError('HANGAR_ERR_6PN_INVALID', `machine index ${index} is out of range (1..${MAX_MACHINE})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Allocation

/**
 * Values of `used` that parse, as bigints (entries that are not addresses cannot collide). An
 * array, not a Set: V8 hashes BigInt keys poorly (65k of them took seconds to insert).
 */
function usedList(used: Iterable<string>): bigint[] {
  const out: bigint[] = [];
  for (const u of used) {
    try {
      out.push(parseIPv6(u.split('/')[0] ?? ''));
    } catch {
      // not an address: it cannot be equal to a candidate
    }
  }
  return out;
}

/** Highest site number: the upper 16 bits of a network number. */
export const MAX_SITE = 0xffff;

/** The site part (upper 16 bits) of a network number. */
export function siteOfNetwork(networkNumber: number): number {
  return Math.floor(networkNumber / 0x10000);
}

/**
 * The lowest free network number not in `used`. With a `site` (1..65535), numbers are taken from
 * that site's block, `site << 16 | 1 .. 0xffff`, so the networks of two installations that share
 * a host (two `hangar server`s with their own data dirs) never share a /48, a bridge name or a
 * `::3` resolver; their addresses read `fdaa:<site>:<n>:…`. Site 0 is the whole 1..2^32-1 range.
 * @throws SixpnError `HANGAR_ERR_6PN_EXHAUSTED` when the range is used up.
 */
export function allocateNetworkNumber(used: Iterable<number>, site = 0): number {
  if (!Number.isInteger(site) || site < 0 || site > MAX_SITE) throw new SixpnError('HANGAR_ERR_6PN_INVALID', `invalid 6PN site ${site} (0..${MAX_SITE})`);
  const taken = new Set(used);
  const first = site === 0 ? 1 : site * 0x10000 + 1;
  const last = site === 0 ? MAX_NETWORK : site * 0x10000 + 0xffff;
  // At most taken.size candidates are taken, so the loop ends within taken.size + 1 steps.
  for (let n = first; n <= last; n++) if (!taken.has(n)) return n;
  throw new SixpnError('HANGAR_ERR_6PN_EXHAUSTED', `every 6PN network number (${first}..${last}) is in use`);
}

/**
 * The lowest free host `/64` of a network; `used` holds host prefixes (or any address inside
 * them) already handed out.
 * @throws SixpnError `HANGAR_ERR_6PN_EXHAUSTED` when all 65535 hosts are taken.
 */
export function allocateHostPrefix(networkNumber: number, used: Iterable<string>): string {
  checkNetwork(networkNumber);
  const net: Cidr6 = { base: SIXPN_BASE.base | (BigInt(networkNumber) << 80n), bits: NETWORK_BITS };
  const taken = new Set<number>();
  for (const a of usedList(used)) if (cidrContains(net, a)) taken.add(Number((a >> 64n) & 0xffffn));
  for (let i = 1; i <= MAX_HOST; i++) if (!taken.has(i)) return hostPrefix(networkNumber, i);
  throw new SixpnError('HANGAR_ERR_6PN_EXHAUSTED', `network ${networkPrefix(networkNumber)} has no free host /64 (${MAX_HOST} in use)`);
}

/**
 * The next free machine address of a host: one past the highest machine in use, wrapping to the
 * lowest free index at the top. Counting upwards (instead of reusing the lowest hole) keeps a
 * just-destroyed machine's address out of circulation while resolvers may still cache it
 * (`.internal` TTL, see core/dns/zone.ts). `used` holds machine addresses (or /112 prefixes).
 * `limit` caps the index space (default 2^48-1; tests pass a small one).
 * @throws SixpnError `HANGAR_ERR_6PN_EXHAUSTED` when every index up to `limit` is taken.
 */
export function allocateMachineAddress(hostPrefixText: string, used: Iterable<string>, limit: bigint = MAX_MACHINE): string {
  const host = prefixOf(hostPrefixText, HOST_BITS, 'host');
  const max = limit < MAX_MACHINE ? limit : MAX_MACHINE;
  // Indices are < 2^48, so they are exact as numbers (cheap Set keys, unlike bigints).
  const taken = new Set<number>();
  let highest = 0n;
  for (const a of usedList(used)) {
    if (!cidrContains(host, a)) continue;
    const index = (a >> 16n) & MAX_MACHINE;
    taken.add(Number(index));
    if (index > highest && index <= max) highest = index;
  }
  if (highest < max) return machineAddress(hostPrefixText, highest + 1n);
  for (let i = 1n; i <= max; i++) if (!taken.has(Number(i))) return machineAddress(hostPrefixText, i);
  throw new SixpnError('HANGAR_ERR_6PN_EXHAUSTED', `host ${hostPrefixText} has no free machine address (${max} in use)`);
}

/** The parts of a 6PN machine address, or undefined when it is not one. */
export function describeAddress(address: string): { network: number; host: number; machine: bigint; iface: number } | undefined {
  let a: bigint;
  try {
    a = parseIPv6(address);
  } catch {
    return undefined;
  }
  if (!cidrContains(SIXPN_BASE, a)) return undefined;
  return {
    network: Number((a >> 80n) & 0xffff_ffffn),
    host: Number((a >> 64n) & 0xffffn),
    machine: (a >> 16n) & MAX_MACHINE,
    iface: Number(a & 0xffffn),
  };
}
