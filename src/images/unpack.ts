/**
 * Applies image layers, in order, to an empty directory: the image's root filesystem.
 *
 * OCI layer semantics (image-spec `layer.md`): `.wh.<name>` deletes `<name>` from lower layers,
 * `.wh..wh..opq` hides everything lower layers put in its directory; entries of the same layer
 * survive both. Safety: we do not chroot, so every entry is checked instead. Paths with `..` are
 * refused, and so is any entry whose parent directory on disk is a symlink (a layer could first
 * plant `etc -> /etc` and then write `etc/passwd` through it). Files are created with O_EXCL
 * after removing what was there, so a planted symlink is replaced, never followed. Hard-link
 * targets get the same checks. Symlink targets themselves are free-form: they are resolved by the
 * machine inside its own root, never by us.
 */
import { constants as fsc, createReadStream } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import type { ReadEntry } from 'tar';
import { ImageError } from '../core/images/errors.js';
import { tarEntries } from './tar-entries.js';

export interface LayerFile {
  digest: string;
  mediaType: string;
  /** The blob on disk. */
  path: string;
}

interface DirMeta {
  mode: number;
  uid: number | undefined;
  gid: number | undefined;
  mtime: Date | undefined;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const isRoot = process.getuid?.() === 0;

/** Applies `layers` to `root` (an existing, empty directory). `ref` names the image in errors. */
export async function unpackLayers(root: string, layers: readonly LayerFile[], ref: string): Promise<void> {
  const dirs = new Map<string, DirMeta>();
  for (const layer of layers) {
    await checkCompression(layer, ref);
    const applier = new LayerApplier(root, layer, ref, dirs);
    try {
      for await (const entry of tarEntries(createReadStream(layer.path))) await applier.apply(entry);
    } catch (err) {
      if (err instanceof ImageError) throw err;
      throw new ImageError('HANGAR_ERR_IMAGE_UNPACK', `cannot unpack layer ${layer.digest} of ${ref}: ${(err as Error).message}`, { ref, cause: err });
    }
  }
  // Directory modes and times last, deepest first: writing into a directory changes its mtime,
  // and a read-only mode would have blocked the writes of later entries.
  const ordered = [...dirs.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
  for (const [rel, meta] of ordered) {
    const abs = rel === '' ? root : join(root, rel);
    if (isRoot && meta.uid !== undefined && meta.gid !== undefined) await lchown(abs, meta.uid, meta.gid);
    await chmod(abs, meta.mode);
    if (meta.mtime) await utimes(abs, meta.mtime, meta.mtime);
  }
}

function depth(rel: string): number {
  return rel === '' ? 0 : rel.split('/').length;
}

async function checkCompression(layer: LayerFile, ref: string): Promise<void> {
  const fh = await open(layer.path, 'r');
  let head: Buffer;
  try {
    head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  const zstd = head.equals(ZSTD_MAGIC) || layer.mediaType.endsWith('+zstd');
  if (zstd && typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress !== 'function') {
    throw new ImageError(
      'HANGAR_ERR_IMAGE_UNPACK',
      `layer ${layer.digest} of ${ref} is zstd-compressed, which this Node.js (${process.version}) cannot decompress: run Hangar on Node.js 22.15 or later, or rebuild the image with gzip layers`,
      { ref },
    );
  }
}

/** Splits an entry path into safe components; refuses `..` anywhere. Leading `/` and `./` are dropped. */
export function entryComponents(path: string): string[] | undefined {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return parts.includes('..') ? undefined : parts;
}

class LayerApplier {
  /** Paths this layer put on disk: whiteouts and opaque markers spare them. */
  private readonly created = new Set<string>();
  /** Ancestors of `created` paths, so an opaque directory keeps the trees this layer writes into. */
  private readonly touched = new Set<string>();
  /** Parent directories already proven to be real directories inside the root. */
  private readonly safeDirs = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly layer: LayerFile,
    private readonly ref: string,
    private readonly dirs: Map<string, DirMeta>,
  ) {}

  private refuse(path: string, why: string): ImageError {
    return new ImageError('HANGAR_ERR_IMAGE_UNPACK', `layer ${this.layer.digest} of ${this.ref} has an unsafe entry "${path}": ${why}`, { ref: this.ref });
  }

  async apply(entry: ReadEntry): Promise<void> {
    const parts = entryComponents(entry.path);
    if (!parts) throw this.refuse(entry.path, 'its path contains ".."');
    const rel = parts.join('/');
    if (rel === '') {
      if (entry.type === 'Directory') this.dirs.set('', dirMeta(entry));
      return;
    }
    const base = parts[parts.length - 1] as string;
    const parent = parts.slice(0, -1).join('/');
    await this.ensureParents(parts.slice(0, -1), entry.path);

    if (base === OPAQUE) return this.opaque(parent);
    if (base.startsWith(WHITEOUT)) {
      const name = base.slice(WHITEOUT.length);
      if (name === '' || name === '.' || name === '..') throw this.refuse(entry.path, 'it whites out no file, or a parent directory');
      return this.whiteout(parent === '' ? name : `${parent}/${name}`);
    }

    const abs = join(this.root, rel);
    switch (entry.type) {
      case 'Directory': {
        const st = await lstatOrUndefined(abs);
        if (!st?.isDirectory()) {
          if (st) await this.remove(rel);
          await mkdir(abs, { mode: 0o755 });
        }
        this.dirs.set(rel, dirMeta(entry));
        break;
      }
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        await this.remove(rel);
        await this.writeFile(abs, entry);
        break;
      case 'SymbolicLink':
        await this.remove(rel);
        await symlink(entry.linkpath ?? '', abs);
        if (isRoot && entry.uid !== undefined && entry.gid !== undefined) await lchown(abs, entry.uid, entry.gid);
        if (entry.mtime) await lutimes(abs, entry.mtime, entry.mtime);
        break;
      case 'Link': {
        const target = entryComponents(entry.linkpath ?? '');
        if (!target || target.length === 0) throw this.refuse(entry.path, `its hard-link target "${entry.linkpath ?? ''}" leaves the image root`);
        await this.ensureParents(target.slice(0, -1), entry.path, false);
        const targetAbs = join(this.root, ...target);
        const st = await lstatOrUndefined(targetAbs);
        if (!st || st.isDirectory()) throw this.refuse(entry.path, `its hard-link target "${entry.linkpath ?? ''}" is missing or a directory`);
        await this.remove(rel);
        await link(targetAbs, abs);
        break;
      }
      default:
        // Devices and FIFOs are skipped: the runtime gives machines their own /dev, and Node
        // has no mknod. Other types are tar metadata already folded in by the parser.
        return;
    }
    this.markCreated(rel);
  }

  /** Proves every parent is a real directory inside the root, creating missing ones (0755, like Docker). */
  private async ensureParents(parents: string[], entryPath: string, create = true): Promise<void> {
    let rel = '';
    for (const part of parents) {
      rel = rel === '' ? part : `${rel}/${part}`;
      if (this.safeDirs.has(rel)) continue;
      const abs = join(this.root, rel);
      const st = await lstatOrUndefined(abs);
      if (st?.isSymbolicLink()) throw this.refuse(entryPath, `its parent "${rel}" is a symlink, which unpacking never follows`);
      if (st && !st.isDirectory()) throw this.refuse(entryPath, `its parent "${rel}" is not a directory`);
      if (!st) {
        if (!create) throw this.refuse(entryPath, `"${rel}" does not exist`);
        await mkdir(abs, { mode: 0o755 });
      }
      this.safeDirs.add(rel);
    }
  }

  private async writeFile(abs: string, entry: ReadEntry): Promise<void> {
    // O_EXCL|O_NOFOLLOW: never write through whatever might sit at the path.
    const fh = await open(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of entry as AsyncIterable<Buffer>) await fh.write(chunk);
      if (isRoot && entry.uid !== undefined && entry.gid !== undefined) await fh.chown(entry.uid, entry.gid);
      // After chown, which clears set-id bits.
      await fh.chmod((entry.mode ?? 0o644) & 0o7777);
      if (entry.mtime) await fh.utimes(entry.mtime, entry.mtime);
    } finally {
      await fh.close();
    }
  }

  private markCreated(rel: string): void {
    this.created.add(rel);
    let i = rel.lastIndexOf('/');
    while (i > 0) {
      this.touched.add(rel.slice(0, i));
      i = rel.lastIndexOf('/', i - 1);
    }
  }

  /** Removes whatever is at `rel` (a whole tree for a directory). */
  private async remove(rel: string): Promise<void> {
    const abs = join(this.root, rel);
    if (!(await lstatOrUndefined(abs))) return;
    await rm(abs, { recursive: true, force: true });
    this.dirs.delete(rel);
    for (const d of [...this.dirs.keys()]) if (d.startsWith(`${rel}/`)) this.dirs.delete(d);
    this.safeDirs.clear();
  }

  private async whiteout(rel: string): Promise<void> {
    if (this.created.has(rel) || this.touched.has(rel)) return;
    await this.remove(rel);
  }

  /** Hides what lower layers put under `dir`, keeping what this layer wrote there. */
  private async opaque(dir: string): Promise<void> {
    const abs = dir === '' ? this.root : join(this.root, dir);
    const st = await lstatOrUndefined(abs);
    if (!st?.isDirectory()) return;
    for (const name of await readdir(abs)) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      if (this.touched.has(rel)) await this.opaque(rel);
      else if (this.created.has(rel)) {
        const child = await lstat(join(this.root, rel));
        if (child.isDirectory()) await this.opaque(rel);
      } else await this.remove(rel);
    }
  }
}

function dirMeta(entry: ReadEntry): DirMeta {
  return { mode: (entry.mode ?? 0o755) & 0o7777, uid: entry.uid, gid: entry.gid, mtime: entry.mtime };
}

async function lstatOrUndefined(path: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
