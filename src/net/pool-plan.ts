/**
 * The netns pool's plans as data (pure; pool.ts applies them). A pool member is a machine's
 * networking minus everything that depends on the machine: a netns with `lo` up and a veth pair
 * whose host end is already a port of the network's bridge, made off the start path. What a
 * start still does is {@link planPoolTake}: the machine's MAC, label, address and route inside the
 * netns, and the host's neighbour entry for it (plan.ts `planMachine` explains each line).
 */
import { bridgeAddress } from '../core/net/sixpn.js';
import { NetError } from './errors.js';
import { bridgeName, machineMac, planMachine, poolAlias, poolNetnsName, poolVethName, vethAlias, type IpBatch, type MachineNetSpec, type NetworkSpec } from './plan.js';

/** One prepared netns: who made it (`owner`), its random `id`, and the network it is plugged into. */
export interface PoolMemberName {
  readonly owner: string;
  readonly id: string;
  readonly network: NetworkSpec;
}

/**
 * Making a member: `host` creates the netns and the veth (peer `eth0` inside), labels the host end
 * and plugs it into the bridge; `inside` brings `lo` up and labels `eth0` (an alias cannot be set
 * when the link is created), which is what lets cleanup prove the netns is Hangar's.
 */
export function planPoolMember(m: PoolMemberName): { host: IpBatch; inside: IpBatch } {
  const netns = poolNetnsName(m.owner, m.id);
  const veth = poolVethName(m.id);
  const br = bridgeName(m.network.network);
  const alias = poolAlias(m.owner, m.id, m.network.network);
  const step = (what: string): string => `pool member ${netns}: ${what}`;
  return {
    host: {
      commands: [
        { args: ['netns', 'add', netns], step: step('create netns') },
        { args: ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns], step: step(`create veth ${veth} with eth0 inside`) },
        { args: ['link', 'set', veth, 'alias', alias], step: step(`label ${veth}`) },
        { args: ['link', 'set', veth, 'addrgenmode', 'none'], step: step(`no link-local on ${veth}`) },
        { args: ['link', 'set', veth, 'master', br], step: step(`plug ${veth} into ${br}`) },
        { args: ['link', 'set', veth, 'up'], step: step(`${veth} up`) },
      ],
    },
    inside: {
      netns,
      commands: [
        { args: ['link', 'set', 'lo', 'up'], step: step('lo up') },
        { args: ['link', 'set', 'eth0', 'alias', alias], step: step('label eth0') },
      ],
    },
  };
}

/**
 * What a start does with a member: `inside` gives `eth0` the machine's MAC (while it is still
 * down), label, address (`nodad`) and default route; `host` points the host's neighbour entry for
 * the address at that MAC, after `inside` (see pool.ts `claim`).
 * @throws NetError `HANGAR_ERR_NET_INVALID` for a malformed spec or a member of another network.
 */
export function planPoolTake(spec: MachineNetSpec, m: PoolMemberName): { host: IpBatch; inside: IpBatch } {
  const netns = poolNetnsName(m.owner, m.id);
  const { eth0, neigh } = memberEth0(spec, m.network);
  const step = (what: string): string => `machine ${spec.machineId} (netns ${netns}): ${what}`;
  return {
    host: neigh,
    inside: {
      netns,
      commands: [
        { args: ['link', 'set', 'eth0', 'address', eth0.mac], step: step(`eth0 MAC ${eth0.mac}`) },
        { args: ['link', 'set', 'eth0', 'alias', eth0.alias], step: step('label eth0') },
        { args: ['addr', 'add', `${eth0.address}/64`, 'dev', 'eth0', 'nodad'], step: step(`add address ${eth0.address}/64`) },
        { args: ['link', 'set', 'eth0', 'up'], step: step('eth0 up') },
        { args: ['route', 'add', 'default', 'via', eth0.gateway, 'dev', 'eth0'], step: step(`default route via ${eth0.gateway}`) },
      ],
    },
  };
}

/** What a machine's `eth0` gets in a member: MAC (while down), label, address (a /64, `nodad`), up, default route. */
export interface MemberEth0 {
  readonly mac: string;
  readonly alias: string;
  /** Canonical text. */
  readonly address: string;
  readonly gateway: string;
}

/**
 * The machine's `eth0` in a member of `network`, and the host's neighbour entry for it (run after
 * eth0 is up), for whoever applies them: `ip` (planPoolTake) or a warm container's init.
 * @throws NetError `HANGAR_ERR_NET_INVALID` for a malformed spec or a member of another network.
 */
export function memberEth0(spec: MachineNetSpec, network: NetworkSpec): { eth0: MemberEth0; neigh: IpBatch } {
  if (spec.network !== network.network || spec.hostPrefix !== network.hostPrefix) {
    throw new NetError('HANGAR_ERR_NET_INVALID', `machine ${spec.machineId}: pool member of network ${network.network} (${network.hostPrefix}) cannot serve network ${spec.network} (${spec.hostPrefix})`);
  }
  if (spec.mtu !== undefined) throw new NetError('HANGAR_ERR_NET_INVALID', `machine ${spec.machineId}: pool members have the default MTU, ${spec.mtu} was asked for`);
  // planMachine validates the spec and gives the address in its canonical form.
  const full = planMachine(spec, 'hangar-x');
  const address = full.neigh.commands[0]?.args[2] ?? spec.address;
  return {
    eth0: { mac: machineMac(spec.machineId), alias: vethAlias(spec.machineId, spec.network), address, gateway: bridgeAddress(spec.hostPrefix) },
    neigh: full.neigh,
  };
}

/** Removes unused members: each veth (its `eth0` goes with it), then each netns, in one batch. */
export function planPoolRemoval(members: readonly PoolMemberName[]): IpBatch {
  return {
    commands: [
      ...members.map((m) => ({ args: ['link', 'del', poolVethName(m.id)], step: `pool member ${poolNetnsName(m.owner, m.id)}: delete veth` })),
      ...members.map((m) => ({ args: ['netns', 'del', poolNetnsName(m.owner, m.id)], step: `pool member ${poolNetnsName(m.owner, m.id)}: delete netns` })),
    ],
  };
}
