/**
 * The machine's root filesystem: an overlay of the image's read-only unpacked rootfs (lower)
 * and a per-machine-version upper dir under the bundle. Starting from `stopped` throws the upper
 * dir away unless `rootfs.persist` says `restart` or `always` (Fly resets the root filesystem on
 * every start by default; reference §1a `rootfs`).
 *
 * `files[]` are written into the upper dir before the overlay is mounted, which overlayfs
 * allows while unmounted. Paths are resolved through both layers like the kernel would, so a
 * symlinked directory in the image (`/lib -> usr/lib`) is followed, not shadowed by a new dir.
 */
import { chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { MachineFile } from '../../core/fly/machine-config.js';
import { DriverError } from '../types.js';

export interface Layers {
  readonly upper: string;
  readonly lower: string;
}

/** Where a bundle keeps the overlay's upper and work dirs and its mount point. Pure. */
export function layerPaths(bundle: string): { upper: string; work: string; rootfs: string } {
  return { upper: join(bundle, 'upper'), work: join(bundle, 'work'), rootfs: join(bundle, 'rootfs') };
}

/** Makes upper/work/rootfs under the bundle; empties upper and work unless the root persists. */
export function prepareLayers(bundle: string, keep: boolean): { upper: string; work: string; rootfs: string } {
  const { upper, work, rootfs } = layerPaths(bundle);
  if (!keep) {
    rmSync(upper, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
  for (const d of [upper, work, rootfs]) mkdirSync(d, { recursive: true });
  return { upper, work, rootfs };
}

/** Whether the root filesystem is kept across a start from `stopped`. */
export function keepsRootfs(persist: string | undefined): boolean {
  return persist === 'restart' || persist === 'always';
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** What the merged view shows at `rel` (upper wins; a 0/0 char device in upper is a whiteout). */
function lookup(layers: Layers, rel: string): { stat: Stats; layer: string } | undefined {
  const up = lstatOrUndefined(join(layers.upper, rel));
  if (up) return up.isCharacterDevice() && up.rdev === 0 ? undefined : { stat: up, layer: layers.upper };
  const low = lstatOrUndefined(join(layers.lower, rel));
  return low ? { stat: low, layer: layers.lower } : undefined;
}

const MAX_SYMLINKS = 40;

/**
 * The path `guestPath` names inside the merged root, following symlinks of either layer and
 * never leaving the root (`..` at the top stays at the top, as in a chroot).
 */
export function resolveGuestPath(layers: Layers, guestPath: string): string {
  const queue = guestPath.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let hops = 0;
  while (queue.length > 0) {
    const comp = queue.shift() as string;
    if (comp === '..') {
      resolved.pop();
      continue;
    }
    const rel = [...resolved, comp].join('/');
    const found = lookup(layers, rel);
    if (found?.stat.isSymbolicLink()) {
      if (++hops > MAX_SYMLINKS) throw new DriverError('HANGAR_ERR_DRIVER_START', `too many symlinks resolving ${guestPath} in the image`);
      const target = readlinkSync(join(found.layer, rel));
      if (target.startsWith('/')) resolved.length = 0;
      queue.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
      continue;
    }
    resolved.push(comp);
  }
  return `/${resolved.join('/')}`;
}

/** mkdir -p in the upper dir, copying mode and owner of directories the image already has. */
function ensureUpperDirs(layers: Layers, relDir: string): void {
  const parts = relDir.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    const up = lstatOrUndefined(join(layers.upper, rel));
    if (up) {
      if (!up.isDirectory()) throw new DriverError('HANGAR_ERR_DRIVER_START', `/${rel} is not a directory in the machine's root`);
      continue;
    }
    const low = lstatOrUndefined(join(layers.lower, rel));
    if (low && !low.isDirectory()) throw new DriverError('HANGAR_ERR_DRIVER_START', `/${rel} is not a directory in the image`);
    mkdirSync(join(layers.upper, rel), { mode: low ? low.mode & 0o7777 : 0o755 });
    if (low) chownSync(join(layers.upper, rel), low.uid, low.gid);
  }
}

/** Writes one file into the machine's root (through the upper dir). */
export function writeGuestFile(layers: Layers, guestPath: string, content: Buffer, mode: number): void {
  const target = resolveGuestPath(layers, guestPath);
  if (target === '/') throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot write a file at ${guestPath}`);
  const rel = target.slice(1);
  const existing = lookup(layers, rel);
  if (existing?.stat.isDirectory()) throw new DriverError('HANGAR_ERR_DRIVER_START', `files: ${guestPath} is a directory in the image`);
  ensureUpperDirs(layers, rel.split('/').slice(0, -1).join('/'));
  const file = join(layers.upper, rel);
  rmSync(file, { force: true }); // a whiteout or an older copy
  writeFileSync(file, content, { mode });
}

/** Writes the machine config's `files[]` (base64 `raw_value`, `mode`) into the root. */
export function writeMachineFiles(layers: Layers, files: readonly MachineFile[]): void {
  files.forEach((f, i) => {
    if (!f.guest_path || !f.guest_path.startsWith('/')) throw new DriverError('HANGAR_ERR_DRIVER_START', `files[${i}].guest_path must be an absolute path`);
    if (f.raw_value === undefined) {
      // secret_name / image_config are resolved by the agent into raw_value before the driver runs.
      throw new DriverError('HANGAR_ERR_DRIVER_START', `files[${i}] (${f.guest_path}) has no raw_value: the agent must resolve secret_name into raw_value`);
    }
    writeGuestFile(layers, f.guest_path, Buffer.from(f.raw_value, 'base64'), (f.mode ?? 0o644) & 0o7777);
  });
}

function readMerged(layers: Layers, guestPath: string): string {
  const target = resolveGuestPath(layers, guestPath).slice(1);
  const found = lookup(layers, target);
  if (!found) return '';
  try {
    return readFileSync(join(found.layer, target), 'utf8');
  } catch {
    return '';
  }
}

/** Looks up `name` in a passwd/group text: field 3 (id) and, for passwd, field 4 (primary gid). Pure. */
export function lookupIdFile(text: string, name: string): { id: number; gid: number } | undefined {
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return { id: Number(f[2]), gid: Number(f[3] ?? f[2]) };
  }
  return undefined;
}

/** `user[:group]` (names or numbers, as in an image config) → uid/gid, using the image's /etc/passwd and /etc/group. */
export function resolveUser(layers: Layers, spec: string): { uid: number; gid: number } {
  const [user = 'root', group] = spec.split(':');
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    gid = lookupByUid(readMerged(layers, '/etc/passwd'), uid) ?? uid;
  } else {
    const found = lookupIdFile(readMerged(layers, '/etc/passwd'), user) ?? (user === 'root' ? { id: 0, gid: 0 } : undefined);
    if (!found) throw new DriverError('HANGAR_ERR_DRIVER_START', `user "${user}" is not in the image's /etc/passwd`);
    uid = found.id;
    gid = found.gid;
  }
  if (group !== undefined && group !== '') {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const g = lookupIdFile(readMerged(layers, '/etc/group'), group);
      if (!g) throw new DriverError('HANGAR_ERR_DRIVER_START', `group "${group}" is not in the image's /etc/group`);
      gid = g.id;
    }
  }
  return { uid, gid };
}

function lookupByUid(passwd: string, uid: number): number | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[2] === String(uid) && f[3] !== undefined && /^\d+$/.test(f[3])) return Number(f[3]);
  }
  return undefined;
}
