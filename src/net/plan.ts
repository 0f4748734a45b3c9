/**
 * Host networking for 6PN as data (STYLE.md habit 1): names, labels, `ip -batch` lines and the
 * nftables ruleset, computed from addresses only. Nothing here runs a process; apply.ts does.
 *
 * Layout on a host (ARCHITECTURE.md "Networking (6PN)", reference §1d):
 *
 * - one bridge per 6PN network, `hgr-n<network hex>`, holding the host's `<host /64>::1/64`
 *   (the machines' gateway) and the network's resolver `<network /48>::3/128`. The resolver sits
 *   on the bridge of its own network so that the isolation rules (a packet arriving on bridge X
 *   may only be addressed to network X) keep other networks' machines away from it;
 * - one veth pair per machine: the host side `hgr-m<10 chars>` is a port of the bridge, the peer
 *   is created directly inside the machine's netns as `eth0` (no temporary name on the host,
 *   so two setups never race for one), with the machine's address (the `::2` of its /112) and a
 *   default route via the bridge's `::1`. The address is configured with the host's /64 as its
 *   on-link prefix, not /112: machines of one host then reach each other directly over the
 *   bridge, like Docker's bridge network. With /112, every same-host packet was routed through
 *   the host, which answers with ICMPv6 redirects (IPv6 has no switch to turn them off), and
 *   the redirected paths made same-host connections fail intermittently;
 * - every address gets `nodad`: duplicate address detection would hold the first packets for
 *   seconds, and Hangar allocates the addresses so they cannot be duplicates.
 *
 * Labels (STYLE.md habit 10): link names start with `hgr-` (15 chars is the Linux limit), netns
 * names with `hangar-`, and every link carries an alias `hangar:…` that says what it is for, so
 * cleanup can prove ownership and the agent can rebuild its view from the kernel after a restart.
 */
import { createHash } from 'node:crypto';
import {
  bridgeAddress,
  cidrContains,
  formatIPv6,
  networkNumberOf,
  networkPrefix,
  parseCidr6,
  parseIPv6,
  resolverAddress,
} from '../core/net/sixpn.js';
import { NetError } from './errors.js';

/** One `ip` command (argv after `ip`) and a human name for the step, used in errors. */
export interface IpCommand {
  readonly args: readonly string[];
  readonly step: string;
}

/** Commands for one `ip -batch -` run, in the host namespace or inside `netns`. */
export interface IpBatch {
  readonly netns?: string;
  readonly commands: readonly IpCommand[];
}

/** A network on this host: its number and this host's `/64` in it. */
export interface NetworkSpec {
  readonly network: number;
  readonly hostPrefix: string;
}

/** One machine's networking: its network, its host's /64 and its address (`::2` of its /112). */
export interface MachineNetSpec extends NetworkSpec {
  readonly machineId: string;
  readonly address: string;
  /** MTU of the veth pair; default the kernel's (1500). Lower it when 6PN crosses WireGuard. */
  readonly mtu?: number;
}

export const LINK_PREFIX = 'hgr-';
export const NETNS_PREFIX = 'hangar-';
export const ALIAS_PREFIX = 'hangar:';
/** The nftables table Hangar owns (family `inet`). */
export const DEFAULT_TABLE = 'hangar';
/** Directory of named network namespaces (`ip netns`). */
export const NETNS_DIR = '/run/netns';
const IFNAMSIZ = 15;

// ---------------------------------------------------------------------------------------------
// Names and labels

function invalid(message: string): NetError {
  return new NetError('HANGAR_ERR_NET_INVALID', message);
}

/** The bridge of a network: `hgr-n<hex>` (network 1 → `hgr-n1`, at most 13 chars). */
export function bridgeName(network: number): string {
  networkPrefix(network); // range check, throws SixpnError
  return `${LINK_PREFIX}n${network.toString(16)}`;
}

/**
 * The host side of a machine's veth: `hgr-m` + 10 chars. Fly-shaped ids (lowercase hex) give
 * their first 10 digits, readable next to `fly machine list`; other ids are hashed so any id
 * maps to a valid, fixed-length name. The full id is in the link's alias.
 */
export function vethName(machineId: string): string {
  checkMachineId(machineId);
  const tail = /^[0-9a-f]{10,}$/.test(machineId)
    ? machineId.slice(0, 10)
    : createHash('sha256').update(machineId).digest('hex').slice(0, 10);
  const name = `${LINK_PREFIX}m${tail}`;
  if (name.length > IFNAMSIZ) throw invalid(`interface name ${name} is longer than ${IFNAMSIZ} chars`);
  return name;
}

/**
 * The MAC of a machine's `eth0`: locally administered and unicast (`02:…`), derived from the
 * machine id. Knowing it before the machine sends anything lets the host's neighbour table be
 * filled when the veth is made, so the first packet to the machine never waits on (or loses) a
 * neighbour solicitation.
 */
export function machineMac(machineId: string): string {
  checkMachineId(machineId);
  const h = createHash('sha256').update(`hangar-mac:${machineId}`).digest();
  return ['02', ...[0, 1, 2, 3, 4].map((i) => (h[i] ?? 0).toString(16).padStart(2, '0'))].join(':');
}

function checkMachineId(machineId: string): void {
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(machineId)) throw invalid(`invalid machine id ${JSON.stringify(machineId)}`);
}

/**
 * The MAC of a network's bridge: fixed, locally administered, derived from the network and the
 * host /64. A bridge with no MAC of its own takes the lowest MAC of its ports and changes it
 * whenever ports come and go; machines keep the old MAC for the gateway `::1` in their
 * neighbour cache, and once the port that owned it is gone every packet routed through the host
 * (the `::3` resolver, egress) is dropped until the cache entry fails, seconds later. Traffic
 * between machines goes directly over the bridge and never noticed.
 */
export function bridgeMac(spec: NetworkSpec): string {
  const h = createHash('sha256').update(`hangar-bridge-mac:${spec.network}:${spec.hostPrefix}`).digest();
  return ['02', ...[0, 1, 2, 3, 4].map((i) => (h[i] ?? 0).toString(16).padStart(2, '0'))].join(':');
}

/** Alias of a network's bridge: `hangar:net:<n>:<host /64>`. */
export function bridgeAlias(spec: NetworkSpec): string {
  return `${ALIAS_PREFIX}net:${spec.network}:${spec.hostPrefix}`;
}

/** Alias of a machine's veth (both ends): `hangar:machine:<id>:net:<n>`. */
export function vethAlias(machineId: string, network: number): string {
  return `${ALIAS_PREFIX}machine:${machineId}:net:${network}`;
}

/**
 * A prepared netns of the pool (pool.ts): `hangar-pool-<owner>-<id>`, where `<owner>` (8 hex)
 * labels the server whose data dir made it and `<id>` (10 hex) is random, so a name is never
 * reused while a machine of an earlier run may still hold it.
 */
export function poolNetnsName(owner: string, id: string): string {
  checkPoolParts(owner, id);
  return `${NETNS_PREFIX}pool-${owner}-${id}`;
}

/** The host side of a pool member's veth: `hgr-p<id>` (15 chars). */
export function poolVethName(id: string): string {
  checkPoolParts('00000000', id);
  return `${LINK_PREFIX}p${id}`;
}

/** Alias of a pool member's veth (both ends until taken; the host end for good): `hangar:pool:<owner>:<id>:net:<n>`. */
export function poolAlias(owner: string, id: string, network: number): string {
  checkPoolParts(owner, id);
  return `${ALIAS_PREFIX}pool:${owner}:${id}:net:${network}`;
}

/** Owner and id of a pool netns name; undefined for any other name. */
export function parsePoolNetns(name: string): { owner: string; id: string } | undefined {
  const m = /^hangar-pool-([0-9a-f]{8})-([0-9a-f]{10})$/.exec(name);
  return m ? { owner: m[1] ?? '', id: m[2] ?? '' } : undefined;
}

function checkPoolParts(owner: string, id: string): void {
  if (!/^[0-9a-f]{8}$/.test(owner) || !/^[0-9a-f]{10}$/.test(id)) throw invalid(`invalid pool member ${JSON.stringify(owner)}/${JSON.stringify(id)}`);
}

/** What a Hangar link is, read back from its name, kind and alias; undefined when not ours. */
export type OwnedLink =
  | { readonly kind: 'bridge'; readonly name: string; readonly network: number; readonly hostPrefix: string }
  | { readonly kind: 'veth'; readonly name: string; readonly machineId: string; readonly network: number }
  /** The host end of a pool member's veth; `netns` holds its other end (and, once taken, a machine). */
  | { readonly kind: 'pool-veth'; readonly name: string; readonly owner: string; readonly netns: string; readonly network: number };

/** A link as `ip -j -d link show` reports it (the fields plan functions need). */
export interface ObservedLink {
  readonly name: string;
  /** `linkinfo.info_kind`: `bridge`, `veth`, … (undefined for plain devices). */
  readonly kind: string | undefined;
  readonly alias: string | undefined;
  /** The bridge a port belongs to. */
  readonly master?: string | undefined;
}

/**
 * Proves a link is Hangar's: the `hgr-` name, the expected kind, an alias in Hangar's format
 * and a name that matches what the alias describes. A link failing any check is not touched.
 */
export function ownedLink(link: ObservedLink): OwnedLink | undefined {
  if (!link.name.startsWith(LINK_PREFIX) || link.alias === undefined) return undefined;
  const bridge = /^hangar:net:(\d{1,10}):(fdaa:[0-9a-f:]+\/64)$/.exec(link.alias);
  if (bridge && link.kind === 'bridge') {
    const network = Number(bridge[1]);
    const hostPrefix = bridge[2] ?? '';
    try {
      if (bridgeName(network) !== link.name || networkNumberOf(hostPrefix) !== network) return undefined;
    } catch {
      return undefined;
    }
    return { kind: 'bridge', name: link.name, network, hostPrefix };
  }
  const veth = /^hangar:machine:([0-9A-Za-z_-]{1,64}):net:(\d{1,10})$/.exec(link.alias);
  if (veth && link.kind === 'veth') {
    const machineId = veth[1] ?? '';
    if (vethName(machineId) !== link.name) return undefined;
    return { kind: 'veth', name: link.name, machineId, network: Number(veth[2]) };
  }
  const pool = /^hangar:pool:([0-9a-f]{8}):([0-9a-f]{10}):net:(\d{1,10})$/.exec(link.alias);
  if (pool && link.kind === 'veth') {
    const owner = pool[1] ?? '';
    const id = pool[2] ?? '';
    if (poolVethName(id) !== link.name) return undefined;
    return { kind: 'pool-veth', name: link.name, owner, netns: poolNetnsName(owner, id), network: Number(pool[3]) };
  }
  return undefined;
}

/**
 * The netns name of a path under /run/netns; it must carry the `hangar-` label, since setup
 * creates `eth0` inside it and teardown/cleanup may delete it.
 */
export function netnsNameFromPath(netnsPath: string): string {
  const slash = netnsPath.lastIndexOf('/');
  const dir = slash < 0 ? '' : netnsPath.slice(0, slash);
  const name = netnsPath.slice(slash + 1);
  if (dir !== NETNS_DIR) throw invalid(`netns path ${netnsPath} is not under ${NETNS_DIR} (ip -n needs a named netns)`);
  if (!name.startsWith(NETNS_PREFIX) || !/^[0-9A-Za-z_.-]{1,200}$/.test(name)) {
    throw invalid(`netns ${JSON.stringify(name)} does not carry the ${NETNS_PREFIX} label`);
  }
  return name;
}

// ---------------------------------------------------------------------------------------------
// Checks

function checkNetwork(spec: NetworkSpec): { net48: string; host64: string; gateway: string; resolver: string } {
  const net48 = networkPrefix(spec.network);
  const host = parseCidr6(spec.hostPrefix);
  if (host.bits !== 64 || !cidrContains(parseCidr6(net48), host.base)) {
    throw invalid(`host prefix ${spec.hostPrefix} is not a /64 of network ${net48}`);
  }
  if (((host.base >> 64n) & 0xffffn) === 0n) throw invalid(`host prefix ${spec.hostPrefix} is host 0, reserved for network services`);
  return { net48, host64: spec.hostPrefix, gateway: bridgeAddress(spec.hostPrefix), resolver: resolverAddress(spec.network) };
}

function checkMachine(spec: MachineNetSpec): { address: string; gateway: string } {
  const { gateway } = checkNetwork(spec);
  checkMachineId(spec.machineId);
  const addr = parseIPv6(spec.address);
  if (!cidrContains(parseCidr6(spec.hostPrefix), addr)) throw invalid(`machine address ${spec.address} is not inside ${spec.hostPrefix}`);
  if ((addr & 0xffffn) !== 2n || ((addr >> 16n) & 0xffff_ffff_ffffn) === 0n) {
    throw invalid(`machine address ${spec.address} is not the ::2 of a machine /112`);
  }
  if (spec.mtu !== undefined && (!Number.isInteger(spec.mtu) || spec.mtu < 1280 || spec.mtu > 65535)) {
    throw invalid(`mtu ${spec.mtu} is out of range (1280..65535, IPv6 needs 1280)`);
  }
  return { address: formatIPv6(addr), gateway };
}

// ---------------------------------------------------------------------------------------------
// Plans

/**
 * Ensures a network's bridge. `exists` is what the caller observed (an owned bridge of that
 * name); every other line is idempotent (`addr replace`, `link set`), so running the plan
 * twice, or over a half-made bridge, converges.
 */
export function planBridge(spec: NetworkSpec, exists: boolean): IpBatch {
  const { host64, gateway, resolver } = checkNetwork(spec);
  const br = bridgeName(spec.network);
  const hostLen = host64.split('/')[1] ?? '64';
  const commands: IpCommand[] = [];
  // No multicast snooping: there is no MLD querier on these bridges, and a snooping bridge that
  // missed a machine's MLD report (sent while its port was still coming up) may stop passing
  // the neighbour solicitations for it.
  const mac = bridgeMac(spec);
  if (!exists) commands.push({ args: ['link', 'add', br, 'address', mac, 'type', 'bridge', 'mcast_snooping', '0'], step: `bridge ${br}: create` });
  commands.push(
    { args: ['link', 'set', br, 'alias', bridgeAlias(spec)], step: `bridge ${br}: label` },
    // Also for a bridge made before its MAC was fixed (see bridgeMac); a no-op when it already is.
    { args: ['link', 'set', br, 'address', mac], step: `bridge ${br}: fixed MAC ${mac}` },
    { args: ['addr', 'replace', `${gateway}/${hostLen}`, 'dev', br, 'nodad'], step: `bridge ${br}: add gateway ${gateway}/${hostLen}` },
    { args: ['addr', 'replace', `${resolver}/128`, 'dev', br, 'nodad'], step: `bridge ${br}: add resolver ${resolver}/128` },
    { args: ['link', 'set', br, 'up'], step: `bridge ${br}: up` },
  );
  return { commands };
}

/** Removes a network's bridge (its addresses and routes go with it). */
export function planBridgeRemoval(network: number): IpBatch {
  const br = bridgeName(network);
  return { commands: [{ args: ['link', 'del', br], step: `bridge ${br}: delete` }] };
}

/**
 * A machine's networking in three batches, run in order: `host` (first creating the netns when `createNetns`) creates the veth with its peer already inside
 * the netns and plugs it into the bridge; `inside` (run with `ip -n <netns>`) configures `lo`,
 * `eth0`, the address (on-link prefix: the host /64, see the file comment) and the default route;
 * `neigh` sets the host's neighbour entry.
 */
export function planMachine(spec: MachineNetSpec, netns: string, opts: { createNetns?: boolean } = {}): { host: IpBatch; inside: IpBatch; neigh: IpBatch } {
  const { address, gateway } = checkMachine(spec);
  const veth = vethName(spec.machineId);
  const br = bridgeName(spec.network);
  const alias = vethAlias(spec.machineId, spec.network);
  const mac = machineMac(spec.machineId);
  const mtu = spec.mtu === undefined ? [] : ['mtu', String(spec.mtu)];
  const host: IpCommand[] = [
    // In the same process as the veth when the netns is new: one `ip` process fewer per start.
    ...(opts.createNetns ? [{ args: ['netns', 'add', netns], step: `machine ${spec.machineId}: create netns ${netns}` }] : []),
    {
      args: ['link', 'add', veth, ...mtu, 'type', 'veth', 'peer', 'name', 'eth0', ...mtu, 'address', mac, 'netns', netns],
      step: `machine ${spec.machineId}: create veth ${veth} with eth0 in netns ${netns}`,
    },
    { args: ['link', 'set', veth, 'alias', alias], step: `machine ${spec.machineId}: label ${veth}` },
    // No addresses on a bridge port: skip the link-local and its DAD traffic.
    { args: ['link', 'set', veth, 'addrgenmode', 'none'], step: `machine ${spec.machineId}: no link-local on ${veth}` },
    { args: ['link', 'set', veth, 'master', br], step: `machine ${spec.machineId}: plug ${veth} into ${br}` },
    { args: ['link', 'set', veth, 'up'], step: `machine ${spec.machineId}: ${veth} up` },
  ];
  const inside: IpCommand[] = [
    { args: ['link', 'set', 'lo', 'up'], step: `machine ${spec.machineId}: lo up` },
    { args: ['link', 'set', 'eth0', 'alias', alias], step: `machine ${spec.machineId}: label eth0` },
    { args: ['addr', 'add', `${address}/64`, 'dev', 'eth0', 'nodad'], step: `machine ${spec.machineId}: add address ${address}/64` },
    { args: ['link', 'set', 'eth0', 'up'], step: `machine ${spec.machineId}: eth0 up` },
    { args: ['route', 'add', 'default', 'via', gateway, 'dev', 'eth0'], step: `machine ${spec.machineId}: default route via ${gateway}` },
  ];
  // Tell the host where the address is now. Addresses come back (a new data dir numbers from the
  // start again; a machine restarts on a new veth), and a cached entry for an old veth's MAC, or
  // a first solicitation lost while the port comes up, cost a second or more per machine.
  // `reachable`, not `permanent`: the entry ages and is re-learned as usual. Run after `inside`:
  // setting the entry sends what the host queued for the address (a client connecting while the
  // machine starts), and packets that reach a port whose eth0 is still down are lost until TCP
  // retransmits, a second later.
  const neigh: IpCommand[] = [{ args: ['neigh', 'replace', address, 'lladdr', mac, 'dev', br, 'nud', 'reachable'], step: `machine ${spec.machineId}: neighbour ${address} is ${mac}` }];
  return { host: { commands: host }, inside: { netns, commands: inside }, neigh: { commands: neigh } };
}

/**
 * Forgets the host's neighbour entry of a machine that stopped: a stale entry would send the
 * first packets of the machine's next start to a port that is not up yet (see `planMachine`),
 * where an unresolved one holds them until the new entry is set.
 */
export function planNeighbourRemoval(address: string, network: number): IpBatch {
  const br = bridgeName(network);
  const a = formatIPv6(parseIPv6(address));
  return { commands: [{ args: ['neigh', 'del', a, 'dev', br], step: `forget neighbour ${a} on ${br}` }] };
}

/** Removes a machine's veth; deleting one end deletes the pair, `eth0` in the netns included. */
export function planMachineTeardown(machineId: string): IpBatch {
  const veth = vethName(machineId);
  return { commands: [{ args: ['link', 'del', veth], step: `machine ${machineId}: delete veth ${veth}` }] };
}

// ---------------------------------------------------------------------------------------------
// Rendering

const SAFE_TOKEN = /^[A-Za-z0-9:._/@-]+$/;

/**
 * The stdin text of `ip -batch -`: one command per line. Tokens are restricted to a safe
 * alphabet (no spaces, quotes, `#` or newlines), so a value can never split into more
 * arguments or start another command.
 */
export function renderBatch(batch: IpBatch): string {
  return batch.commands
    .map((c) => {
      for (const a of c.args) if (!SAFE_TOKEN.test(a)) throw invalid(`unsafe ip argument ${JSON.stringify(a)} in step "${c.step}"`);
      return c.args.join(' ');
    })
    .join('\n')
    .concat('\n');
}

/** The step of the batch line `ip -batch` reports as failed (`Command failed -:3`). */
export function failedStep(batch: IpBatch, stderr: string): IpCommand | undefined {
  const m = /Command failed -:(\d+)/.exec(stderr);
  if (!m) return undefined;
  return batch.commands[Number(m[1]) - 1];
}

/** Lists what a batch does, one step a line: the `--dry-run` view. */
export function describeBatch(batch: IpBatch): string[] {
  const where = batch.netns === undefined ? 'ip' : `ip -n ${batch.netns}`;
  return batch.commands.map((c) => `${where} ${c.args.join(' ')}    # ${c.step}`);
}
