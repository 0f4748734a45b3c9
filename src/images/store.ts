/**
 * The ImageStore: images pulled from registries or imported from archives, kept as
 * content-addressed blobs under `<data-dir>/images/`, unpacked once per image into a rootfs that
 * machines share read-only (drivers mount it read-only; nothing writes into it after unpacking).
 *
 * Layout: `blobs/sha256/<hex>`, `index.json` (records by name), `rootfs/<hex>/` (hex of the
 * manifest digest), `tmp/` (in-progress downloads and unpacks, cleared on open and by GC).
 * Concurrency within a process: pulls of one reference and unpacks of one image run once and
 * are shared; GC excludes both. Several processes on one data dir are not coordinated.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../core/images/errors.js';
import { type ImageReference, formatReference, isDigest, parseReference } from '../core/images/reference.js';
import type { ImageRef } from '../core/machine/types.js';
import { type ArchiveImage, importArchive } from './archive.js';
import { BlobStore } from './blobs.js';
import { type GcPlan, planGc } from './gc.js';
import { type ImageRecord, readIndex, writeIndex } from './index-file.js';
import { Mutex, RwLock, Singleflight } from './locks.js';
import { type ImageConfig, type ImageManifest, type Platform, formatPlatform, hostPlatform, parseImageConfig, parseManifestDocument, selectPlatform } from './manifest.js';
import { RegistryClient, type RegistryOptions } from './registry.js';
import { unpackLayers } from './unpack.js';

export type { ImageRecord } from './index-file.js';

export interface ImageStoreOptions extends RegistryOptions {
  /** Hangar's data dir; images live in `<dataDir>/images`. */
  dataDir: string;
  /** Platform chosen from manifest lists; default linux/<host arch>. */
  platform?: Platform;
  /** Told about work as it is done (for logs and progress lines). */
  onEvent?: (event: ImageStoreEvent) => void;
}

export type ImageStoreEvent =
  | { type: 'download'; ref: string; digest: string; size: number }
  | { type: 'unpack'; ref: string; digest: string };

export interface ImportOptions {
  /** Name for the image (the archive's names are kept too); only for single-image archives. */
  ref?: string;
}

export interface GcOptions {
  pinned?: Iterable<string>;
  /** Drop index records no machine pins. Default false: only unreferenced content goes. */
  pruneUnpinned?: boolean;
}

export interface GcReport {
  removedImages: string[];
  removedBlobs: number;
  removedRootfs: number;
  freedBytes: number;
}

const LAYER_CONCURRENCY = 3;

export class ImageStore {
  readonly imagesDir: string;
  readonly blobs: BlobStore;
  readonly platform: Platform;
  private readonly indexPath: string;
  private readonly rootfsDir: string;
  private readonly indexLock = new Mutex();
  private readonly gcLock = new RwLock();
  private readonly pulls = new Singleflight<ImageRecord>();
  private readonly downloads = new Singleflight<void>();
  private readonly unpacks = new Singleflight<string>();
  /**
   * The parsed index and the identity (inode, size, mtime) of the file it was read from. Every
   * machine start resolves its image (the agent for `image_ref`, the crun driver for the rootfs
   * and config); re-reading and re-validating the index each time cost milliseconds on the start
   * path. A write by this store drops it; a write by another process (the index is replaced by a
   * rename) changes the identity, so a re-pointed ref is never served stale.
   */
  private indexCache: { readonly sig: string; readonly records: readonly ImageRecord[] } | undefined;
  /** Parsed configs by config digest: blobs are content-addressed, so only GC makes an entry stale. */
  private readonly configs = new Map<string, ImageConfig>();
  /** Unpacked rootfs dirs by manifest digest (checked with a stat on use); GC clears it. */
  private readonly unpacked = new Map<string, string>();

  private constructor(private readonly opts: ImageStoreOptions) {
    this.imagesDir = join(opts.dataDir, 'images');
    this.blobs = new BlobStore(this.imagesDir);
    this.indexPath = join(this.imagesDir, 'index.json');
    this.rootfsDir = join(this.imagesDir, 'rootfs');
    this.platform = opts.platform ?? hostPlatform();
  }

  /** Opens (creating if needed) the store under `opts.dataDir` and clears leftovers of crashed work. */
  static async open(opts: ImageStoreOptions): Promise<ImageStore> {
    const store = new ImageStore(opts);
    await store.blobs.init();
    await mkdir(store.rootfsDir, { recursive: true });
    await store.clearTemp();
    return store;
  }

  async list(): Promise<ImageRecord[]> {
    // A synchronous stat: one system call on a local file, where the promise form would hand it
    // to the thread pool and yield the event loop, and every machine start asks (the start path
    // would wait for whatever else the agent does meanwhile).
    const st = statSync(this.indexPath, { bigint: true, throwIfNoEntry: false });
    const sig = st === undefined ? 'none' : `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    if (this.indexCache?.sig !== sig) this.indexCache = { sig, records: await readIndex(this.indexPath) };
    return [...this.indexCache.records];
  }

  /** Writes the index and drops the cached copy (list() reads it back on next use). */
  private async saveIndex(records: ImageRecord[]): Promise<void> {
    this.indexCache = undefined;
    try {
      await writeIndex(this.indexPath, records);
    } finally {
      this.indexCache = undefined;
    }
  }

  /** Finds an image by reference (`busybox`, `…:tag`, `…@sha256:…`) or by its digest. */
  async find(refOrDigest: string): Promise<ImageRecord | undefined> {
    const records = await this.list();
    if (isDigest(refOrDigest)) return records.find((r) => r.digest === refOrDigest || r.repoDigest === refOrDigest);
    const ref = parseReference(refOrDigest);
    const canonical = formatReference(ref);
    return (
      records.find((r) => r.ref === canonical) ??
      (ref.digest ? records.find((r) => r.digest === ref.digest || r.repoDigest === ref.digest) : undefined)
    );
  }

  /**
   * Pulls `ref` from its registry: manifest (a list resolves to this host's platform), config and
   * layers, each digest-checked before it is stored. Concurrent pulls of one ref share the work.
   */
  pull(ref: string): Promise<ImageRecord> {
    const parsed = parseReference(ref);
    const key = formatReference(parsed);
    return this.pulls.run(key, () => this.gcLock.shared(() => this.doPull(parsed)));
  }

  /** The image for `ref`: the local one if present, else pulled. */
  async ensure(ref: string): Promise<ImageRecord> {
    return (await this.find(ref)) ?? this.pull(ref);
  }

  /** Imports every image of an OCI-layout or `docker save` tar; returns their records. */
  async import(archive: string, opts: ImportOptions = {}): Promise<ImageRecord[]> {
    const name = opts.ref === undefined ? undefined : parseReference(opts.ref);
    return this.gcLock.shared(async () => {
      const images = await importArchive(this.blobs, archive, this.platform);
      if (name && images.length !== 1) {
        throw new ImageError('HANGAR_ERR_IMAGE_ARCHIVE', `cannot name the images of ${archive} ${formatReference(name)}: it holds ${images.length} images, not one`, { ref: archive });
      }
      const records: ImageRecord[] = [];
      for (const img of images) {
        const names = name ? [name, ...img.names] : img.names;
        records.push(...(await this.record(img, names, 'import')));
      }
      return records;
    });
  }

  /** Digest-checked path of the unpacked rootfs of an image, unpacking it the first time. */
  rootfs(record: Pick<ImageRecord, 'digest' | 'ref'>): Promise<string> {
    const dir = join(this.rootfsDir, record.digest.slice('sha256:'.length));
    // Unpacked trees are only ever removed by GC (which clears the map); the stat catches a GC
    // run by another process on the same data dir.
    const known = this.unpacked.get(record.digest);
    if (known !== undefined && existsSync(known)) return Promise.resolve(known);
    return this.unpacks
      .run(record.digest, () => this.gcLock.shared(() => this.unpack(record.digest, record.ref ?? record.digest, dir)))
      .then((d) => {
        this.unpacked.set(record.digest, d);
        return d;
      });
  }

  /** Whether an image has been unpacked already. */
  async isUnpacked(digest: string): Promise<boolean> {
    return (await statOrUndefined(join(this.rootfsDir, digest.slice('sha256:'.length))))?.isDirectory() ?? false;
  }

  async manifest(digest: string): Promise<ImageManifest> {
    const doc = parseManifestDocument(await this.blobs.read(digest), undefined, digest);
    if (doc.kind !== 'manifest') throw new ImageError('HANGAR_ERR_IMAGE_STORE', `${digest} is a manifest list, not an image manifest`, { ref: digest });
    return doc.manifest;
  }

  async config(record: Pick<ImageRecord, 'configDigest' | 'ref' | 'digest'>): Promise<ImageConfig> {
    const known = this.configs.get(record.configDigest);
    if (known !== undefined) return known;
    const cfg = parseImageConfig(await this.blobs.read(record.configDigest, record.ref ?? record.digest), record.ref ?? record.digest);
    this.configs.set(record.configDigest, cfg);
    return cfg;
  }

  /** The machine object's `image_ref` for an image. */
  async imageRef(record: ImageRecord): Promise<ImageRef> {
    const labels = (await this.config(record)).config?.Labels ?? {};
    return { registry: record.registry ?? '', repository: record.repository ?? '', tag: record.tag ?? '', digest: record.repoDigest ?? record.digest, labels };
  }

  /** Drops the record named `ref` from the index (content goes at the next GC). */
  async remove(ref: string): Promise<boolean> {
    const canonical = isDigest(ref) ? undefined : formatReference(parseReference(ref));
    return this.indexLock.run(async () => {
      const records = await this.list();
      const left = records.filter((r) => (canonical ? r.ref !== canonical : r.digest !== ref));
      if (left.length === records.length) return false;
      await this.saveIndex(left);
      return true;
    });
  }

  /** Removes content no listed or pinned image references (and, with pruneUnpinned, unpinned images). */
  async gc(opts: GcOptions = {}): Promise<GcReport> {
    return this.gcLock.exclusive(() =>
      this.indexLock.run(async () => {
        this.configs.clear();
        this.unpacked.clear();
        const records = await this.list();
        const pinned = new Set(opts.pinned ?? []);
        const manifestBlobs = new Map<string, string[]>();
        for (const d of new Set([...records.map((r) => r.digest), ...pinned])) {
          try {
            const m = await this.manifest(d);
            manifestBlobs.set(d, [m.config.digest, ...m.layers.map((l) => l.digest)]);
          } catch {
            // a pinned digest we do not hold, or a manifest list: nothing below it to keep
          }
        }
        const rootfs = (await readdir(this.rootfsDir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
        const plan: GcPlan = planGc({ records, pinned, pruneUnpinned: opts.pruneUnpinned ?? false, manifestBlobs, blobs: await this.blobs.list(), rootfs });
        if (plan.drop.length > 0) await this.saveIndex(plan.keep);
        let freedBytes = 0;
        for (const d of plan.deleteBlobs) {
          freedBytes += await this.blobs.size(d).catch(() => 0);
          await this.blobs.remove(d);
        }
        for (const d of plan.deleteRootfs) await this.removeTree(join(this.rootfsDir, d.slice('sha256:'.length)));
        await this.clearTemp();
        return { removedImages: plan.drop.map((r) => r.ref ?? r.digest), removedBlobs: plan.deleteBlobs.length, removedRootfs: plan.deleteRootfs.length, freedBytes };
      }),
    );
  }

  private async doPull(ref: ImageReference): Promise<ImageRecord> {
    const display = formatReference(ref);
    const client = new RegistryClient(ref, this.opts);
    const top = await client.manifest(ref.digest ?? (ref.tag as string));
    const topDigest = sha256(top.bytes);
    if (ref.digest && topDigest !== ref.digest) {
      throw new ImageError('HANGAR_ERR_IMAGE_DIGEST', `the manifest served for ${display} hashes to ${topDigest}, not the digest asked for`, { ref: display });
    }
    if (top.headerDigest && top.headerDigest !== topDigest) {
      throw new ImageError('HANGAR_ERR_IMAGE_DIGEST', `the manifest served for ${display} hashes to ${topDigest}, but the registry says ${top.headerDigest}`, { ref: display });
    }
    let doc = parseManifestDocument(top.bytes, top.contentType, display);
    let digest = topDigest;
    let bytes = top.bytes;
    let repoDigest: string | undefined;
    if (doc.kind === 'index') {
      const chosen = selectPlatform(doc.index, this.platform, display);
      await this.blobs.put(top.bytes, { digest: topDigest, ref: display });
      repoDigest = topDigest;
      digest = chosen.digest;
      const sub = await client.manifest(chosen.digest);
      bytes = sub.bytes;
      if (sha256(bytes) !== chosen.digest) {
        throw new ImageError('HANGAR_ERR_IMAGE_DIGEST', `the ${formatPlatform(this.platform)} manifest of ${display} does not match its digest ${chosen.digest}`, { ref: display });
      }
      doc = parseManifestDocument(bytes, sub.contentType, display);
      if (doc.kind !== 'manifest') throw new ImageError('HANGAR_ERR_IMAGE_PULL', `${display}: a manifest list points to another list, which Hangar does not follow`, { ref: display });
    }
    if (doc.kind !== 'manifest') throw new ImageError('HANGAR_ERR_IMAGE_PULL', `${display} has no image manifest`, { ref: display });
    const manifest = doc.manifest;
    const fetchBlob = (d: { digest: string; size: number }): Promise<void> =>
      this.downloads.run(d.digest, async () => {
        if (await this.blobs.has(d.digest)) return;
        this.opts.onEvent?.({ type: 'download', ref: display, digest: d.digest, size: d.size });
        await this.blobs.put(await client.blob(d.digest), { digest: d.digest, size: d.size, ref: display });
      });
    await fetchBlob(manifest.config);
    const queue = [...manifest.layers];
    await Promise.all(
      Array.from({ length: Math.min(LAYER_CONCURRENCY, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await fetchBlob(next);
      }),
    );
    // The manifest goes in last: its presence means everything it names is here.
    await this.blobs.put(bytes, { digest, ref: display });
    const config = parseImageConfig(await this.blobs.read(manifest.config.digest, display), display);
    const [record] = await this.record({ names: [ref], digest, ...(repoDigest ? { repoDigest } : {}), manifest, config }, [ref], 'pull');
    return record as ImageRecord;
  }

  /** Writes one index record per name (replacing older records of the same name). */
  private async record(img: ArchiveImage, names: ImageReference[], source: ImageRecord['source']): Promise<ImageRecord[]> {
    const base = {
      digest: img.digest,
      ...(img.repoDigest ? { repoDigest: img.repoDigest } : {}),
      configDigest: img.manifest.config.digest,
      layers: img.manifest.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
      size: img.manifest.config.size + img.manifest.layers.reduce((n, l) => n + l.size, 0),
      platform: img.config.os && img.config.architecture ? formatPlatform({ os: img.config.os, architecture: img.config.architecture }) : formatPlatform(this.platform),
      source,
      storedAt: new Date().toISOString(),
    };
    const fresh: ImageRecord[] = names.map((n) => ({
      ref: formatReference(n),
      registry: n.registry,
      repository: n.repository,
      ...(n.tag !== undefined ? { tag: n.tag } : {}),
      ...base,
    }));
    return this.indexLock.run(async () => {
      const records = await this.list();
      const refs = new Set(fresh.map((r) => r.ref));
      let next = records.filter((r) => !refs.has(r.ref) && !(r.ref === null && r.digest === img.digest));
      if (fresh.length === 0) {
        const named = next.find((r) => r.digest === img.digest);
        if (named) return [named];
        fresh.push({ ref: null, ...base });
      }
      next = [...next, ...fresh];
      await this.saveIndex(next);
      return fresh;
    });
  }

  private async unpack(digest: string, display: string, dir: string): Promise<string> {
    if ((await statOrUndefined(dir))?.isDirectory()) return dir;
    const manifest = await this.manifest(digest);
    this.opts.onEvent?.({ type: 'unpack', ref: display, digest });
    const tmp = join(this.blobs.tmpDir, `rootfs-${digest.slice(7, 19)}-${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(tmp, { mode: 0o755 });
    try {
      const layers = manifest.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, path: this.blobs.path(l.digest) }));
      for (const l of layers) {
        if (!(await this.blobs.has(l.digest))) throw new ImageError('HANGAR_ERR_IMAGE_STORE', `layer ${l.digest} of ${display} is missing from the store`, { ref: display });
      }
      await unpackLayers(tmp, layers, display);
      await rename(tmp, dir);
      return dir;
    } catch (err) {
      await this.removeTree(tmp);
      throw err;
    }
  }

  /**
   * Removes temp files of crashed work: ours (callers hold the GC lock exclusively or run before
   * any work) and those of processes that no longer exist; a live process's are left alone.
   */
  private async clearTemp(): Promise<void> {
    for (const name of await readdir(this.blobs.tmpDir).catch(() => [] as string[])) {
      const m = /^(?:blob|rootfs-[a-f0-9]+)-(\d+)-[a-f0-9]+$/.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (pid === process.pid || !processAlive(pid)) await this.removeTree(join(this.blobs.tmpDir, name));
    }
  }

  /** rm -rf for trees the store made; unpacked trees may hold read-only directories. */
  private async removeTree(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }
}

/** `FLY_IMAGE_REF` for a machine running `record`: the name it was stored under, else its digest. */
export function flyImageRef(record: Pick<ImageRecord, 'ref' | 'digest'>): string {
  return record.ref ?? record.digest;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function statOrUndefined(path: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}
