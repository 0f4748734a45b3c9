/**
 * The nftables table Hangar owns, as text for `nft -f -` (pure).
 *
 * The table is always rendered whole from the list of networks on the host and replaced in one
 * transaction (`table …{}` / `delete table …` / `table … {…}` in one `nft -f` run is atomic:
 * either the new table is in place or the old one is untouched). Adding or removing a network is
 * a re-render, so there are no rule handles to track and a restarted agent converges by
 * rendering from the bridges it finds. No other table is ever named.
 *
 * Rules per network N with bridge B (ARCHITECTURE.md "Networks are isolated from each other by
 * nftables rules"):
 * - input: a packet arriving on B addressed to any 6PN address outside N's /48 is dropped.
 *   Host-local addresses are reachable from every interface (Linux's weak host model), so this
 *   is what keeps N's machines away from another network's resolver `::3` and gateway `::1`;
 * - forward: from B, a source outside N (spoofed) or a 6PN destination outside N is dropped;
 *   towards B, a 6PN source outside N is dropped (this also covers traffic arriving from other
 *   hosts later, over WireGuard); IPv4 from B is dropped, machines have no IPv4;
 * - postrouting: N's addresses going to a non-6PN destination are masqueraded, so machines reach
 *   the internet over IPv6 where the host has a route for it.
 */
import { networkPrefix } from '../core/net/sixpn.js';
import { NetError } from './errors.js';
import { bridgeName, DEFAULT_TABLE, LINK_PREFIX } from './plan.js';

const SIXPN = 'fdaa::/16';

/** nftables identifiers Hangar may own: `hangar` and labelled variants (`hangar-test-42`). */
export function checkTableName(table: string): string {
  if (!/^hangar(-[A-Za-z0-9_]+)*$/.test(table) || table.length > 64) {
    throw new NetError('HANGAR_ERR_NET_INVALID', `nftables table name ${JSON.stringify(table)} does not carry the hangar label`);
  }
  return table;
}

/** The rules of one network, as lines for each chain. */
export function networkRules(network: number): { input: string[]; forward: string[]; postrouting: string[] } {
  const br = bridgeName(network);
  const net = networkPrefix(network);
  const tag = `comment "hangar:net:${network}"`;
  return {
    input: [`iifname "${br}" ip6 daddr ${SIXPN} ip6 daddr != ${net} drop ${tag}`],
    forward: [
      `iifname "${br}" meta nfproto ipv4 drop ${tag}`,
      `iifname "${br}" ip6 saddr != ${net} drop ${tag}`,
      `iifname "${br}" ip6 daddr ${SIXPN} ip6 daddr != ${net} drop ${tag}`,
      `oifname "${br}" ip6 saddr ${SIXPN} ip6 saddr != ${net} drop ${tag}`,
    ],
    postrouting: [`ip6 saddr ${net} ip6 daddr != ${SIXPN} oifname != "${LINK_PREFIX}*" masquerade ${tag}`],
  };
}

/**
 * The whole `inet <table>` for `networks`, replacing whatever the table held, as one `nft -f`
 * script. Networks are sorted and deduplicated so equal inputs give equal text (no-op reloads
 * can be skipped by comparing it).
 */
export function renderRuleset(networks: Iterable<number>, table: string = DEFAULT_TABLE): string {
  checkTableName(table);
  const sorted = [...new Set(networks)].sort((a, b) => a - b);
  const input: string[] = [];
  const forward: string[] = [];
  const postrouting: string[] = [];
  for (const n of sorted) {
    const r = networkRules(n);
    input.push(...r.input);
    forward.push(...r.forward);
    postrouting.push(...r.postrouting);
  }
  const chain = (name: string, hook: string, lines: string[]): string[] => [
    `  chain ${name} {`,
    `    ${hook}`,
    ...lines.map((l) => `    ${l}`),
    '  }',
  ];
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  comment "owned by Hangar (6PN isolation and egress); rebuilt whole on every change"',
    ...chain('input', 'type filter hook input priority filter; policy accept;', input),
    ...chain('forward', 'type filter hook forward priority filter; policy accept;', forward),
    ...chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', postrouting),
    '}',
    '',
  ].join('\n');
}

/** Removes the table (the whole of Hangar's rules); a no-op when it does not exist. */
export function renderTableRemoval(table: string = DEFAULT_TABLE): string {
  checkTableName(table);
  return `table inet ${table} {}\ndelete table inet ${table}\n`;
}
