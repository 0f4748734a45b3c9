/**
 * The host's resolvers, from `/etc/resolv.conf` (read at the edge; the parser is pure). Queries
 * for names outside `.internal` are forwarded to them (src/dns/forward.ts).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Upstream } from './forward.js';

/** Default path of the host's resolver configuration. */
export const RESOLV_CONF = '/etc/resolv.conf';

/**
 * The `nameserver` entries of a resolv.conf, in order, each on port 53. Comments (`#`, `;`),
 * other options and entries that are not IP addresses are ignored; a scoped link-local address
 * (`fe80::1%eth0`) keeps its zone.
 */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, address] = line.split(/\s+/);
    if (keyword !== 'nameserver' || !address) continue;
    if (isIP(address.split('%')[0] ?? '') === 0) continue;
    out.push({ host: address, port: 53 });
  }
  return out;
}

/**
 * The host's resolvers minus `exclude` (the resolver's own listen addresses, so a host whose
 * resolv.conf points at us does not forward to itself in a loop). A missing file gives none:
 * glibc would fall back to 127.0.0.1, which on a Hangar host may well be this resolver.
 */
export async function readHostResolvers(path = RESOLV_CONF, exclude: readonly Upstream[] = []): Promise<Upstream[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return parseResolvConf(text).filter((u) => !exclude.some((e) => e.port === u.port && e.host.toLowerCase() === u.host.toLowerCase()));
}
