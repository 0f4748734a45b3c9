/**
 * The machine's network namespace, `hangar-<machine id>`, made the way `ip netns add` makes it
 * (a bind mount under /run/netns), so `src/net/` and operators can use `ip -n` on it. The driver
 * creates it (with loopback up when no network hook will) and hands its path to the
 * runtime in config.json; the agent's `networkSetup` hook adds the 6PN veth.
 *
 * A machine's versions share its netns. A marker file under the driver's data dir names the
 * container that last started in it, so destroying an old version never removes the netns a
 * newer version now uses; and only names starting with `hangar-` are ever deleted.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError } from '../types.js';
import { run } from './runtime.js';

export const NETNS_DIR = '/run/netns';

export function netnsPath(name: string): string {
  return join(NETNS_DIR, name);
}

/**
 * Creates the netns (if missing), with loopback up unless `loopback` is false (the network hook
 * brings it up with eth0, and `netns exec` would cost another `ip` process), and records
 * `containerId` as its user. `create: false` only records the user: the network hook creates
 * the netns in its own `ip` batch (the marker is written first, so a failed start still removes it).
 */
export async function ensureNetns(name: string, containerId: string, markerDir: string, opts: { loopback?: boolean; create?: boolean } = {}): Promise<string> {
  const path = netnsPath(name);
  if (opts.create !== false && !existsSync(path)) {
    const lo = opts.loopback === false ? '' : `netns exec ${name} ip link set lo up\n`;
    const r = await run('ip', ['-batch', '-'], { input: `netns add ${name}\n${lo}` });
    if (r.code !== 0) throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot create network namespace ${name}: ${r.stderr.trim()}`);
  }
  markNetns(name, containerId, markerDir);
  return path;
}

/** Records `containerId` as the user of the netns `name` (file work only; see ensureNetns). */
export function markNetns(name: string, containerId: string, markerDir: string): void {
  mkdirSync(markerDir, { recursive: true });
  writeFileSync(join(markerDir, name), containerId);
}

/** true when `containerId` is the last container started in the netns (so it may remove it). */
export function netnsOwnedBy(name: string, containerId: string, markerDir: string): boolean {
  try {
    return readFileSync(join(markerDir, name), 'utf8') === containerId;
  } catch {
    return false;
  }
}

/** Deletes the netns when it is Hangar's and `containerId` is its last user; returns a problem or undefined. */
export async function removeNetns(name: string, containerId: string, markerDir: string): Promise<string | undefined> {
  if (!name.startsWith('hangar-') || !netnsOwnedBy(name, containerId, markerDir)) return undefined;
  if (existsSync(netnsPath(name))) {
    const r = await run('ip', ['netns', 'delete', name]);
    if (r.code !== 0 && existsSync(netnsPath(name))) return `cannot delete network namespace ${name}: ${r.stderr.trim()}`;
  }
  rmSync(join(markerDir, name), { force: true });
  return undefined;
}
