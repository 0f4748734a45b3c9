/**
 * The owner of 6PN host networking (STYLE.md habit 2): every change to bridges, veths and the
 * nftables table goes through one {@link HostNetwork}, serialized. The crun driver gets its
 * `networkSetup` / `networkTeardown` hooks from here; the agent calls `ensureNetwork` before it
 * starts a network's DNS listener on `<network>::3` (the address lives on the bridge).
 *
 * Per machine the work is two `ip -batch` processes (host side, then inside the netns); the
 * first machine of a network (per owner) also ensures the bridge, forwarding and the nftables
 * rules, and a machine whose old veth is still there has it deleted first. With a pool
 * (pool.ts), a machine that was given a prepared netns (`takeNetns`) only has its per-machine
 * lines run by processes already waiting, and falls back to the full path if that fails.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { bridgeAddress, resolverAddress } from '../core/net/sixpn.js';
import { NetRunner, Serial } from './apply.js';
import { ensureBridge, ensureIpv6Forwarding, IPV6_FORWARDING, removeBridge } from './bridge.js';
import { NetError } from './errors.js';
import { Isolation } from './isolation.js';
import { NetnsPool } from './pool.js';
import { memberEth0, planPoolMember, type MemberEth0 } from './pool-plan.js';
import {
  bridgeName,
  DEFAULT_TABLE,
  netnsNameFromPath,
  ownedLink,
  parsePoolNetns,
  planMachine,
  poolNetnsName,
  poolVethName,
  renderBatch,
  planMachineTeardown,
  planNeighbourRemoval,
  vethName,
  type MachineNetSpec,
  type NetworkSpec,
} from './plan.js';

export type { MachineNetSpec, NetworkSpec } from './plan.js';

function readyKey(spec: NetworkSpec): string {
  return `${spec.network}|${spec.hostPrefix}`;
}

/** What a machine got: the values for `private_ip`, `/etc/resolv.conf` and debugging. */
export interface MachineNetwork {
  readonly address: string;
  readonly gateway: string;
  readonly resolver: string;
  readonly hostInterface: string;
  readonly bridge: string;
}

/** Signature of the hook the crun driver calls once the machine's netns exists. */
export type NetworkSetup = (netnsPath: string, spec: MachineNetSpec, opts?: NetworkSetupOptions) => Promise<MachineNetwork>;

export interface NetworkSetupOptions {
  /** Create the netns (in the host batch) when it does not exist, instead of failing with NETNS_MISSING. */
  readonly createNetns?: boolean;
}
/** Signature of the hook the crun driver calls when the machine stops (before the netns goes). */
export type NetworkTeardown = (netnsPath: string | undefined, spec: Pick<MachineNetSpec, 'machineId'>) => Promise<void>;

export interface HostNetworkOptions {
  readonly runner?: NetRunner;
  /** nftables table (family inet); default `hangar`. Tests use `hangar-test-<pid>`. */
  readonly table?: string;
  /** Path of the IPv6 forwarding sysctl; tests of the failure path point it elsewhere. */
  readonly forwardingSysctl?: string;
  /** Prepared netns per network (pool.ts); without it every machine gets the full path. */
  readonly pool?: {
    /** 8 hex labelling this server's members (plan.ts `poolNetnsName`). */
    readonly owner: string;
    /**
     * Members kept ready per network; default 3. The pool refills 200 ms after a take, so it
     * serves a burst of starts at up to `size` per 200 ms: at 2, creates back to back every
     * ~110 ms (a 2-core host's pace) found it empty about one time in four. 0: no pool.
     */
    readonly size?: number;
    /** Delay before refilling after a take (ms); default 200, so the refill does not compete with the start. */
    readonly refillDelayMs?: number;
    /** Where each member's marker file goes (the crun driver's netns markers, which start-up cleanup trusts). */
    readonly markerDir?: string;
  };
}

/** Serialized owner of this host's 6PN links and nftables table. */
export class HostNetwork {
  readonly runner: NetRunner;
  readonly isolation: Isolation;
  private readonly serial = new Serial();
  private readonly forwardingSysctl: string;
  /** Networks (`readyKey`) this owner ensured (bridge, forwarding, rules) and has not removed since. */
  private readonly ready = new Set<string>();
  private readonly pool: NetnsPool | undefined;
  /** The label of this server's pool members (and warm containers' netns), when it has a pool. */
  private readonly owner: string | undefined;
  /** Address and network of each machine this owner set up, for its teardown. */
  private readonly addresses = new Map<string, { address: string; network: number }>();

  constructor(options: HostNetworkOptions = {}) {
    this.runner = options.runner ?? new NetRunner();
    this.isolation = new Isolation(this.runner, options.table ?? DEFAULT_TABLE);
    this.forwardingSysctl = options.forwardingSysctl ?? IPV6_FORWARDING;
    const pool = options.pool;
    this.owner = pool?.owner;
    if (pool && (pool.size ?? 3) > 0) {
      this.pool = new NetnsPool({
        runner: this.runner,
        serial: this.serial,
        owner: pool.owner,
        size: pool.size ?? 3,
        refillDelayMs: pool.refillDelayMs ?? 200,
        ...(pool.markerDir === undefined ? {} : { markerDir: pool.markerDir }),
        ensureNetwork: (spec) => (this.ready.has(readyKey(spec)) ? Promise.resolve() : this.ensureNetworkNow(spec)),
      });
    }
  }

  /**
   * A prepared netns (pool.ts) for a machine about to start, by name, now the machine's: the
   * caller puts it in the container config and passes its path to `networkSetup`. Undefined when
   * there is no pool, none is ready (the first start of a network only schedules the filling), or
   * the machine needs something members do not have (an MTU).
   */
  takeNetns(spec: MachineNetSpec): string | undefined {
    if (!this.pool || spec.mtu !== undefined) return undefined;
    try {
      bridgeName(spec.network); // a malformed spec takes nothing; networkSetup reports it
    } catch {
      return undefined;
    }
    return this.pool.take({ network: spec.network, hostPrefix: spec.hostPrefix });
  }

  /**
   * A new netns for a warm container (src/drivers/crun/warm.ts) of `spec`'s network, which the
   * container's own monitor makes: a pool member's name and plan (pool-plan.ts), as the texts of
   * its two `ip -batch` runs (host, then inside the netns), so start-up cleanup and teardown know
   * it as a pool member. Undefined without a pool owner, or for a malformed spec. The caller
   * writes the netns marker before the netns is made.
   */
  warmMember(spec: NetworkSpec): { netns: string; host: string; inside: string } | undefined {
    if (this.owner === undefined) return undefined;
    try {
      const name = { owner: this.owner, id: randomBytes(5).toString('hex'), network: { network: spec.network, hostPrefix: spec.hostPrefix } };
      const plan = planPoolMember(name);
      return { netns: poolNetnsName(name.owner, name.id), host: renderBatch(plan.host), inside: renderBatch(plan.inside) };
    } catch {
      return undefined;
    }
  }

  /**
   * A warm container's netns becomes a machine's: what its init gives `eth0` (pool-plan.ts
   * `memberEth0`), and `neighbour`, the host's entry for it, to run once eth0 is up (best
   * effort: without it the host finds the machine by neighbour discovery).
   * @throws NetError `HANGAR_ERR_NET_INVALID`
   */
  warmTake(spec: MachineNetSpec): { eth0: MemberEth0; neighbour: () => Promise<void> } {
    const { eth0, neigh } = memberEth0(spec, spec);
    this.addresses.set(spec.machineId, { address: eth0.address, network: spec.network });
    return { eth0, neighbour: () => this.runner.ipBatch(neigh) };
  }

  /** Members ready for a network now (tests, diagnostics). */
  poolReady(spec: NetworkSpec): number {
    return this.pool?.readyCount(spec) ?? 0;
  }

  /** Stops the pool and removes its unused members. The links of machines stay. Idempotent. */
  close(): Promise<void> {
    return this.serial.run(() => this.pool?.close() ?? Promise.resolve());
  }

  /**
   * Ensures a network's bridge (gateway `::1`, resolver `::3`), IPv6 forwarding and the
   * isolation rules. Idempotent.
   */
  ensureNetwork(spec: NetworkSpec): Promise<void> {
    return this.serial.run(() => this.ensureNetworkNow(spec));
  }

  /**
   * Removes a network's bridge and its rules when no machine is plugged into it.
   * @returns false when the bridge was absent or still in use.
   */
  removeNetwork(network: number): Promise<boolean> {
    return this.serial.run(async () => {
      for (const k of this.ready) if (k.startsWith(`${network}|`)) this.ready.delete(k);
      await this.pool?.dropNetwork(network); // their veths are ports of the bridge
      const removed = await removeBridge(this.runner, network);
      await this.isolation.sync();
      return removed;
    });
  }

  /**
   * Plugs a machine's netns into its network: the crun driver's `networkSetup` hook. A veth
   * left over from an earlier run of the same machine is replaced. On failure, what this call
   * created is removed again (except a netns it created: that belongs to the caller, the driver).
   * @throws NetError `HANGAR_ERR_NET_NETNS_MISSING` (unless `opts.createNetns`), `HANGAR_ERR_NET_NOT_OWNED`,
   *   `HANGAR_ERR_NET_INVALID`, `HANGAR_ERR_NET_COMMAND` (naming the failed step)
   */
  readonly networkSetup: NetworkSetup = async (netnsPath, spec, opts = {}) => {
    const member = this.pool?.claim(basename(netnsPath));
    if (member) {
      // Not through the queue: the member is this machine's alone, the neighbour entry is its
      // address's, and waiting behind a refill's batch would put that batch on the start path.
      try {
        await member.configure(spec);
        return this.machineNetwork(spec, poolVethName(parsePoolNetns(member.netns)?.id ?? ''));
      } catch {
        // The full path below replaces the member's veth with one of the machine's own.
        await this.serial.run(() => this.deletePoolVeth(member.netns)).catch(() => undefined);
      }
    }
    return this.fullSetup(netnsPath, spec, opts);
  };

  private fullSetup(netnsPath: string, spec: MachineNetSpec, opts: NetworkSetupOptions): Promise<MachineNetwork> {
    return this.serial.run(async () => {
      const netns = netnsNameFromPath(netnsPath);
      planMachine(spec, netns); // validates the spec before anything is touched
      // Synchronous checks (a stat of /run/netns or sysfs takes microseconds): each async hop
      // here would delay the `ip` process behind the driver's file work.
      const exists = existsSync(netnsPath);
      const plan = planMachine(spec, netns, { createNetns: !exists });
      if (!exists && !opts.createNetns) {
        throw new NetError('HANGAR_ERR_NET_NETNS_MISSING', `machine ${spec.machineId}: netns ${netnsPath} does not exist`, {
          step: `machine ${spec.machineId}: find netns ${netns}`,
        });
      }
      // Fast path: a network ensured earlier by this owner is not checked again, and the veth is
      // only looked for when sysfs shows one (a restart of a machine whose netns lives on). If
      // the host batch still fails (the bridge was removed behind our back, a veth appeared),
      // converge the careful way and try once more.
      if (!this.ready.has(readyKey(spec))) await this.ensureNetworkNow(spec);
      if (existsSync(`/sys/class/net/${vethName(spec.machineId)}`)) await this.deleteVeth(spec.machineId);
      try {
        await this.runner.ipBatch(plan.host);
      } catch {
        this.ready.delete(readyKey(spec));
        await this.ensureNetworkNow(spec);
        await this.deleteVeth(spec.machineId);
        const created = await stat(netnsPath).then(() => true, () => false);
        await this.runner.ipBatch(planMachine(spec, netns, { createNetns: !created }).host);
      }
      try {
        await this.runner.ipBatch(plan.inside);
        await this.runner.ipBatch(plan.neigh);
      } catch (err) {
        await this.deleteVeth(spec.machineId).catch(() => undefined);
        throw err;
      }
      return this.machineNetwork(spec, vethName(spec.machineId));
    });
  }

  private machineNetwork(spec: MachineNetSpec, hostInterface: string): MachineNetwork {
    this.addresses.set(spec.machineId, { address: spec.address, network: spec.network });
    return {
      address: spec.address,
      gateway: bridgeAddress(spec.hostPrefix),
      resolver: resolverAddress(spec.network),
      hostInterface,
      bridge: bridgeName(spec.network),
    };
  }

  /**
   * Unplugs a machine: deletes its veth pair (the `eth0` inside the netns goes with it). The
   * netns itself belongs to the driver. A machine that has no veth is a no-op. A machine in a
   * pool member's netns has that member's veth (or, after a fallback, its own).
   * @throws NetError `HANGAR_ERR_NET_NOT_OWNED` when the veth name is taken by a foreign link.
   */
  readonly networkTeardown: NetworkTeardown = (netnsPath, spec) =>
    this.serial.run(async () => {
      const netns = netnsPath === undefined ? undefined : basename(netnsPath);
      if (netns === undefined || parsePoolNetns(netns) === undefined) await this.deleteVeth(spec.machineId);
      else {
        await this.deletePoolVeth(netns);
        if (existsSync(`/sys/class/net/${vethName(spec.machineId)}`)) await this.deleteVeth(spec.machineId);
      }
      // Known when this owner set the machine up (not after an agent restart): see planNeighbourRemoval.
      const known = this.addresses.get(spec.machineId);
      this.addresses.delete(spec.machineId);
      if (known) await this.runner.ipBatch(planNeighbourRemoval(known.address, known.network)).catch(() => undefined); // already gone
    });

  /** Deletes the host end of a pool member's veth, when it exists and its alias proves it serves `netns`. */
  private async deletePoolVeth(netns: string): Promise<void> {
    const parsed = parsePoolNetns(netns);
    if (!parsed) return;
    const name = poolVethName(parsed.id);
    if (!existsSync(`/sys/class/net/${name}`)) return;
    const found = await this.runner.link(name);
    if (!found) return;
    const owned = ownedLink(found);
    if (owned?.kind !== 'pool-veth' || owned.netns !== poolNetnsName(parsed.owner, parsed.id)) {
      throw new NetError('HANGAR_ERR_NET_NOT_OWNED', `netns ${netns}: link ${name} exists and Hangar cannot prove it is this pool member's (alias ${JSON.stringify(found.alias ?? '')}); not touching it`, {
        step: `netns ${netns}: check ${name}`,
      });
    }
    await this.runner.ipBatch({ commands: [{ args: ['link', 'del', name], step: `netns ${netns}: delete veth ${name}` }] });
  }

  private async ensureNetworkNow(spec: NetworkSpec): Promise<void> {
    this.ready.delete(readyKey(spec));
    await ensureIpv6Forwarding(this.forwardingSysctl);
    await ensureBridge(this.runner, spec);
    await this.isolation.sync([spec.network]);
    this.ready.add(readyKey(spec));
  }

  private async deleteVeth(machineId: string): Promise<void> {
    const name = vethName(machineId);
    const found = await this.runner.link(name);
    if (!found) return;
    const owned = ownedLink(found);
    if (owned?.kind !== 'veth' || owned.machineId !== machineId) {
      throw new NetError('HANGAR_ERR_NET_NOT_OWNED', `machine ${machineId}: link ${name} exists and Hangar cannot prove it belongs to this machine (alias ${JSON.stringify(found.alias ?? '')}); not touching it`, {
        step: `machine ${machineId}: check ${name}`,
      });
    }
    await this.runner.ipBatch(planMachineTeardown(machineId));
  }
}
