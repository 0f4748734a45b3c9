/**
 * Removes what Hangar's networking left behind (a crashed agent, `hangar server --reset`, tests),
 * and nothing else (STYLE.md habit 10, CapRover's rule: prove ownership before deleting).
 *
 * Proof per kind:
 * - link: an `hgr-` name, the expected kind (bridge/veth), a `hangar:` alias in Hangar's format
 *   and a name that matches what the alias says (plan.ts `ownedLink`); pool veths (pool.ts) also
 *   name the netns they serve and the owner label of the server that made them;
 * - netns: a `hangar-` name, and inside only `lo` and, optionally, an `eth0` veth carrying a
 *   Hangar machine or pool alias (a netns that holds anything else was not set up by Hangar alone);
 * - nftables table: family inet and a `hangar` name (`hangar` or `hangar-…`).
 * Of the things proven Hangar's, a `select` callback picks what to remove, so a running agent
 * keeps its live machines and networks, and a test removes only its own.
 */
import type { NetRunner } from './apply.js';
import { DEFAULT_TABLE, NETNS_PREFIX, ownedLink, type IpBatch, type IpCommand, type ObservedLink, type OwnedLink } from './plan.js';
import { checkTableName, renderTableRemoval } from './ruleset.js';

/** Something Hangar proved it created. */
export type OwnedThing = OwnedLink | { readonly kind: 'netns'; readonly name: string } | { readonly kind: 'table'; readonly name: string };

/** What the host holds, as cleanup needs it. `links` undefined: the netns could not be read. */
export interface CleanupObserved {
  readonly links: readonly ObservedLink[];
  readonly netns: ReadonlyArray<{ readonly name: string; readonly links: readonly ObservedLink[] | undefined }>;
  readonly tables: readonly string[];
}

/** What cleanup will remove, in order: veths, netns, bridges (one ip batch), then tables. */
export interface CleanupPlan {
  readonly batch: IpBatch;
  readonly tables: readonly string[];
  readonly removed: readonly OwnedThing[];
}

function isTableName(name: string): boolean {
  try {
    checkTableName(name);
    return true;
  } catch {
    return false;
  }
}

/** Whether a netns is Hangar's, judged by its name and the links inside it. */
export function ownedNetns(name: string, links: readonly ObservedLink[] | undefined): boolean {
  if (!name.startsWith(NETNS_PREFIX) || links === undefined) return false;
  return links.every((l) => l.name === 'lo' || (l.name === 'eth0' && l.kind === 'veth' && /^hangar:(machine|pool):/.test(l.alias ?? '')));
}

/** Pure: from the observed host and a selection, the removal plan. */
export function planCleanup(observed: CleanupObserved, select: (thing: OwnedThing) => boolean): CleanupPlan {
  const owned: OwnedThing[] = [];
  for (const l of observed.links) {
    const o = ownedLink(l);
    if (o) owned.push(o);
  }
  for (const ns of observed.netns) if (ownedNetns(ns.name, ns.links)) owned.push({ kind: 'netns', name: ns.name });
  for (const t of observed.tables) if (isTableName(t)) owned.push({ kind: 'table', name: t });

  const removed = owned.filter(select);
  const order = { veth: 0, 'pool-veth': 0, netns: 1, bridge: 2, table: 3 } as const;
  removed.sort((a, b) => order[a.kind] - order[b.kind] || a.name.localeCompare(b.name));
  const commands: IpCommand[] = removed.flatMap((t): IpCommand[] => {
    if (t.kind === 'veth' || t.kind === 'pool-veth' || t.kind === 'bridge') return [{ args: ['link', 'del', t.name], step: `cleanup: delete ${t.kind} ${t.name}` }];
    if (t.kind === 'netns') return [{ args: ['netns', 'del', t.name], step: `cleanup: delete netns ${t.name}` }];
    return [];
  });
  return { batch: { commands }, tables: removed.flatMap((t) => (t.kind === 'table' ? [t.name] : [])), removed };
}

/** Reads the host state cleanup plans from. */
export async function observeForCleanup(runner: NetRunner): Promise<CleanupObserved> {
  const links = await runner.links();
  const netns = [];
  for (const name of await runner.netnsNames()) {
    if (!name.startsWith(NETNS_PREFIX)) continue;
    let inside: ObservedLink[] | undefined;
    try {
      inside = await runner.links(name);
    } catch {
      inside = undefined; // unreadable: cannot prove ownership, leave it
    }
    netns.push({ name, links: inside });
  }
  return { links, netns, tables: await runner.inetTables() };
}

/**
 * Removes the selected Hangar-owned links, netns and tables. Call it through the owner's queue
 * or when no HostNetwork is running.
 * @returns what was removed.
 * @throws NetError `HANGAR_ERR_NET_COMMAND` naming the step that failed.
 */
export async function cleanup(runner: NetRunner, select: (thing: OwnedThing) => boolean): Promise<OwnedThing[]> {
  const plan = planCleanup(await observeForCleanup(runner), select);
  await runner.ipBatch(plan.batch);
  for (const t of plan.tables) await runner.nft(renderTableRemoval(t), `cleanup: delete nftables table inet ${t}`);
  return [...plan.removed];
}

/**
 * A selection for a running agent: everything Hangar owns except live machines' veths and
 * netns and live networks' bridges; its own table goes only when no network is live.
 */
export function keepLive(live: {
  machineIds: ReadonlySet<string>;
  netns: ReadonlySet<string>;
  networks: ReadonlySet<number>;
  /** The agent's own table (default `hangar`); other hangar-labelled tables are left alone. */
  table?: string;
}): (t: OwnedThing) => boolean {
  return (t) => {
    switch (t.kind) {
      case 'veth':
        return !live.machineIds.has(t.machineId);
      case 'pool-veth':
        return !live.netns.has(t.netns);
      case 'netns':
        return !live.netns.has(t.name);
      case 'bridge':
        return !live.networks.has(t.network);
      case 'table':
        return t.name === (live.table ?? DEFAULT_TABLE) && live.networks.size === 0;
    }
  };
}
