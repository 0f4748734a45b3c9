/**
 * A network's bridge on this host, ensured idempotently: observe, prove ownership, plan, apply
 * (plan.ts `planBridge`). Callers go through the owner's queue (machine.ts `HostNetwork`).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { NetRunner } from './apply.js';
import { NetError } from './errors.js';
import { bridgeName, ownedLink, planBridge, planBridgeRemoval, type NetworkSpec } from './plan.js';

/** The sysctl that lets the host route between its bridges, other hosts and the internet. */
export const IPV6_FORWARDING = '/proc/sys/net/ipv6/conf/all/forwarding';

/**
 * Turns on IPv6 forwarding (machines are routed through the host, not bridged to each other).
 * Note for operators: with forwarding on, Linux stops accepting router advertisements on
 * interfaces whose `accept_ra` is 1; a host that gets its own IPv6 default route by SLAAC needs
 * `accept_ra=2` on that interface (Hangar does not change interfaces it did not create).
 */
export async function ensureIpv6Forwarding(path: string = IPV6_FORWARDING): Promise<void> {
  try {
    if ((await readFile(path, 'utf8')).trim() === '1') return;
    await writeFile(path, '1\n');
  } catch (err) {
    throw new NetError('HANGAR_ERR_NET_COMMAND', `enable IPv6 forwarding: cannot write ${path}: ${(err as Error).message}`, {
      step: 'enable IPv6 forwarding',
      cause: err,
    });
  }
}

/**
 * Ensures the bridge of `spec.network` exists, is labelled, holds `<host /64>::1/64` and the
 * resolver `<network>::3/128` (both `nodad`) and is up. Safe to call any number of times.
 * @throws NetError `HANGAR_ERR_NET_NOT_OWNED` when a link of that name is not Hangar's bridge of
 *   this network, `HANGAR_ERR_NET_INVALID` when it serves another host prefix,
 *   `HANGAR_ERR_NET_COMMAND` when `ip` fails.
 */
export async function ensureBridge(runner: NetRunner, spec: NetworkSpec): Promise<void> {
  const name = bridgeName(spec.network);
  const found = await runner.link(name);
  let exists = false;
  if (found) {
    const owned = ownedLink(found);
    if (owned?.kind !== 'bridge' || owned.network !== spec.network) {
      throw new NetError('HANGAR_ERR_NET_NOT_OWNED', `bridge ${name}: a link of that name exists and Hangar cannot prove it made it (kind ${found.kind ?? 'none'}, alias ${JSON.stringify(found.alias ?? '')}); not touching it`, { step: `bridge ${name}: check` });
    }
    if (owned.hostPrefix !== spec.hostPrefix) {
      throw new NetError('HANGAR_ERR_NET_INVALID', `bridge ${name}: serves host prefix ${owned.hostPrefix}, asked for ${spec.hostPrefix}; remove the network first`, { step: `bridge ${name}: check` });
    }
    exists = true;
  }
  await runner.ipBatch(planBridge(spec, exists));
}

/**
 * Removes a network's bridge when it is Hangar's and no machine is plugged into it.
 * @returns false when there was nothing to remove, or machines still use it.
 * @throws NetError `HANGAR_ERR_NET_NOT_OWNED` for a link of that name Hangar did not make.
 */
export async function removeBridge(runner: NetRunner, network: number): Promise<boolean> {
  const name = bridgeName(network);
  const links = await runner.links();
  const found = links.find((l) => l.name === name);
  if (!found) return false;
  const owned = ownedLink(found);
  if (owned?.kind !== 'bridge' || owned.network !== network) {
    throw new NetError('HANGAR_ERR_NET_NOT_OWNED', `bridge ${name}: Hangar cannot prove it made this link; not deleting it`, { step: `bridge ${name}: check` });
  }
  if (links.some((l) => l.master === name)) return false;
  await runner.ipBatch(planBridgeRemoval(network));
  return true;
}

/** Networks whose Hangar bridge exists on this host (ownership proven from name, kind, alias). */
export async function ownedNetworks(runner: NetRunner): Promise<Array<{ network: number; hostPrefix: string }>> {
  return (await runner.links()).flatMap((l) => {
    const o = ownedLink(l);
    return o?.kind === 'bridge' ? [{ network: o.network, hostPrefix: o.hostPrefix }] : [];
  });
}
