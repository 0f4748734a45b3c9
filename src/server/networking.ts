/**
 * 6PN for the embedded host (ARCHITECTURE.md "Networking (6PN)"): one {@link HostNetwork} owns
 * the bridges, veths and nftables table; the crun driver calls `networkSetup` once a machine's
 * netns exists and `networkTeardown` before it deletes it. Everything a machine needs is in its
 * address (`fdaa:<network>:<host>:…::2`, allocated by the control plane, control/networks.ts),
 * so the hooks derive the network number and host /64 from it.
 *
 * At start-up, what an earlier run of this server left behind is removed (`ownedAndUnused`: only
 * Hangar-labelled links, netns and tables that this server's store or data dir prove are its own
 * — never another server's on the same host — and never those of machines whose tasks still run),
 * and the networks of running machines get their bridge and `::3` DNS listener back.
 *
 * The HostNetwork keeps prepared netns per network (src/net/pool.ts), labelled with a hash of
 * this server's data dir (`poolOwner`) and marked in the driver's netns marker dir, so start-up
 * cleanup proves them this server's like any machine netns; `close()` removes the unused ones.
 */
import type { Logger } from 'pino';
import type { TaskHandleRecord } from '../agent/handles.js';
import { KINDS } from '../core/model.js';
import type { MachineRecord } from '../core/machine/types.js';
import { describeAddress, hostPrefix } from '../core/net/sixpn.js';
import type { CrunDriverOptions, CrunTaskSpec } from '../drivers/crun/index.js';
import { DriverError, type TaskHandle } from '../drivers/types.js';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { cleanup, keepLive, type OwnedThing } from '../net/cleanup.js';
import { checkTableName } from '../net/ruleset.js';
import { HostNetwork, type MachineNetSpec } from '../net/machine.js';
import { networkIdOf, networkNumbers } from '../control/networks.js';
import type { StateStore } from '../store/types.js';

export interface NetworkingOptions {
  readonly store: StateStore;
  readonly hostId: string;
  /** The data dir: the crun driver's netns markers (`<dataDir>/crun/netns/<name>`) prove which netns are ours. */
  readonly dataDir: string;
  readonly logger: Logger;
  /** Called once a network's bridge exists (the DNS listener on its `::3` goes there). */
  readonly onNetwork: (name: string, number: number) => Promise<void>;
}

export interface Networking {
  readonly hostNetwork: HostNetwork;
  /** The crun driver's hooks. */
  readonly hooks: Required<Pick<CrunDriverOptions, 'networkSetup' | 'networkTeardown' | 'networkCreatesNetns' | 'networkNetns' | 'networkWarm'>>;
  /** Cleans up leftovers and restores the networks of running machines; call before the agent starts. */
  restore(): Promise<void>;
  /** Removes the unused prepared netns; call after the driver closed. Machines keep their networking. */
  close(): Promise<void>;
}

/** The owner label of this data dir's pool members: 8 hex of a hash of its absolute path. Pure. */
export function poolOwner(dataDir: string): string {
  return createHash('sha256').update(`hangar-pool:${resolve(dataDir)}`).digest('hex').slice(0, 8);
}

/** Network number and host /64 of a machine address; undefined when it is not a 6PN address. */
export function addressNetwork(address: string): { network: number; hostPrefix: string } | undefined {
  const parts = describeAddress(address);
  if (parts === undefined || parts.network === 0 || parts.host === 0) return undefined;
  return { network: parts.network, hostPrefix: hostPrefix(parts.network, parts.host) };
}

/** Creates the host's 6PN owner and the hooks the crun driver needs. */
/**
 * The nftables table of this server: `hangar-<host id>`, so two servers on one host (each with
 * its own data dir and host id) never render over or delete each other's table.
 */
export function tableFor(hostId: string): string {
  return checkTableName(`hangar-${hostId.replace(/[^A-Za-z0-9_-]/g, '_')}`);
}

/**
 * What start-up cleanup may remove: things provably this server's (the networks its store
 * numbered, the netns its driver marked, its own table) that no running machine uses. Another
 * server's bridges, veths and netns are Hangar's too, but not ours: left alone.
 */
export function ownedAndUnused(ours: { networks: ReadonlySet<number>; netnsMarked: (name: string) => boolean; table: string; poolOwner: string }, live: Parameters<typeof keepLive>[0]): (t: OwnedThing) => boolean {
  const unused = keepLive({ ...live, table: ours.table });
  return (t) => {
    switch (t.kind) {
      case 'veth':
      case 'bridge':
        return ours.networks.has(t.network) && unused(t);
      case 'pool-veth':
        return t.owner === ours.poolOwner && ours.networks.has(t.network) && unused(t);
      case 'netns':
        return ours.netnsMarked(t.name) && unused(t);
      case 'table':
        return t.name === ours.table && unused(t);
    }
  };
}

export function startNetworking(opts: NetworkingOptions): Networking {
  const table = tableFor(opts.hostId);
  const markers = join(opts.dataDir, 'crun', 'netns');
  const owner = poolOwner(opts.dataDir);
  const hostNetwork = new HostNetwork({ table, pool: { owner, markerDir: markers } });
  const machineNet = (spec: CrunTaskSpec): MachineNetSpec | undefined => {
    const address = spec.network?.privateIp;
    const net = address === undefined ? undefined : addressNetwork(address);
    return address === undefined || net === undefined ? undefined : { machineId: spec.machineId, network: net.network, hostPrefix: net.hostPrefix, address };
  };
  const announce = async (number: number): Promise<void> => {
    const name = await networkIdOf(opts, number);
    if (name !== undefined) await opts.onNetwork(name, number);
  };
  // A malformed address takes no prepared or warm netns: the start goes cold, and networkSetup reports it.
  const netIfValid = (spec: CrunTaskSpec): MachineNetSpec | undefined => {
    try {
      return machineNet(spec);
    } catch {
      return undefined;
    }
  };
  const netOrFail = (spec: CrunTaskSpec): MachineNetSpec => {
    const net = machineNet(spec);
    if (net === undefined) throw new DriverError('HANGAR_ERR_DRIVER_START', `machine ${spec.machineId} has no 6PN address (private_ip ${JSON.stringify(spec.network?.privateIp ?? '')}); was it created on a 6PN host?`);
    return net;
  };
  const hooks: Omit<Networking['hooks'], 'networkCreatesNetns'> = {
    networkNetns(spec: CrunTaskSpec): string | undefined {
      const net = netIfValid(spec);
      return net === undefined ? undefined : hostNetwork.takeNetns(net);
    },
    networkWarm: {
      key(spec: CrunTaskSpec): string | undefined {
        const net = netIfValid(spec);
        return net === undefined ? undefined : `${net.network}|${net.hostPrefix}`;
      },
      member(spec: CrunTaskSpec) {
        const net = netIfValid(spec);
        return net === undefined ? undefined : hostNetwork.warmMember(net);
      },
      async take(spec: CrunTaskSpec) {
        const net = netOrFail(spec);
        const taken = hostNetwork.warmTake(net);
        await announce(net.network);
        return taken;
      },
    },
    async networkSetup(netnsPath: string, spec: CrunTaskSpec): Promise<void> {
      const net = netOrFail(spec);
      await hostNetwork.networkSetup(netnsPath, net, { createNetns: true });
      await announce(net.network);
    },
    async networkTeardown(netnsPath: string, handle: TaskHandle): Promise<void> {
      await hostNetwork.networkTeardown(netnsPath, { machineId: handle.machine_id });
    },
  };
  return {
    hostNetwork,
    hooks: { ...hooks, networkCreatesNetns: true },
    close: () => hostNetwork.close(),
    async restore() {
      const handles = (await opts.store.list<TaskHandleRecord>(KINDS.taskHandle, { scope: opts.hostId })).filter((h) => h.value.handle !== null);
      const machineIds = new Set(handles.map((h) => h.value.machine_id));
      const netns = new Set<string>();
      for (const h of handles) {
        const ns = (h.value.handle as { netns?: unknown } | null)?.netns;
        netns.add(typeof ns === 'string' ? ns : `hangar-${h.value.machine_id}`);
      }
      const live = new Map<number, string>();
      for (const id of machineIds) {
        const rec = (await opts.store.get<MachineRecord>(KINDS.machine, id))?.value;
        const net = rec?.private_ip ? addressNetwork(rec.private_ip) : undefined;
        if (net) live.set(net.network, net.hostPrefix);
      }
      const ours = { networks: await networkNumbers(opts), netnsMarked: (name: string) => existsSync(join(markers, name)), table, poolOwner: owner };
      const removed = await cleanup(hostNetwork.runner, ownedAndUnused(ours, { machineIds, netns, networks: new Set(live.keys()) }));
      if (removed.length > 0) opts.logger.info({ removed: removed.map((t) => `${t.kind} ${t.name}`) }, 'removed networking left behind by an earlier run');
      for (const [network, prefix] of live) {
        await hostNetwork.ensureNetwork({ network, hostPrefix: prefix });
        await announce(network);
      }
    },
  };
}
