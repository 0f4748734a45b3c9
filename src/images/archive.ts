/**
 * Import of image archives: an OCI image layout in a tar (`index.json`, `oci-layout`,
 * `blobs/sha256/…`; what `docker save` writes since Docker 25, `skopeo copy oci-archive:`,
 * buildah/podman) and the older `docker save` format (`manifest.json` naming a config JSON and
 * `<id>/layer.tar` files; Hangar writes an OCI manifest for those). Gzip-compressed archives are
 * read as well. Members are streamed into the blob store, checked against their digests.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { ImageError } from '../core/images/errors.js';
import { type ImageReference, parseReference } from '../core/images/reference.js';
import type { BlobStore } from './blobs.js';
import { type Descriptor, type ImageConfig, type ImageManifest, MEDIA, type Platform, parseImageConfig, parseManifestDocument, selectPlatform } from './manifest.js';
import { tarEntries } from './tar-entries.js';
import { entryComponents } from './unpack.js';

/** One image found in an archive, its blobs already in the store. */
export interface ArchiveImage {
  /** Names the archive gives the image (none for an unnamed OCI layout entry). */
  names: ImageReference[];
  /** Digest of the platform manifest. */
  digest: string;
  /** Digest of the index the manifest was chosen from, when there was one. */
  repoDigest?: string;
  manifest: ImageManifest;
  config: ImageConfig;
}

const SMALL_LIMIT = 1 << 20;
const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;

function archiveError(archive: string, why: string, cause?: unknown): ImageError {
  return new ImageError('HANGAR_ERR_IMAGE_ARCHIVE', `cannot import ${archive}: ${why}`, { ref: archive, cause });
}

/** Reads `archive` into `blobs` and returns the images it holds, for `platform` where it offers several. */
export async function importArchive(blobs: BlobStore, archive: string, platform: Platform): Promise<ArchiveImage[]> {
  try {
    if (!(await stat(archive)).isFile()) throw archiveError(archive, 'it is not a file');
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw archiveError(archive, 'the file does not exist or cannot be read', err);
  }
  const members = await readMembers(blobs, archive);
  if (members.small.has('index.json')) return readOciLayout(blobs, archive, members, platform);
  if (members.small.has('manifest.json')) return readDockerSave(blobs, archive, members);
  throw archiveError(archive, 'it is neither an OCI image layout (no index.json) nor a `docker save` archive (no manifest.json)');
}

interface Members {
  /** Archive path → digest of the member, stored as a blob. */
  stored: Map<string, string>;
  /** Small members kept in memory (JSON documents, tiny layers). */
  small: Map<string, Buffer>;
  /** Symlink members (docker save links repeated layers) → their target path. */
  links: Map<string, string>;
}

async function readMembers(blobs: BlobStore, archive: string): Promise<Members> {
  const m: Members = { stored: new Map(), small: new Map(), links: new Map() };
  try {
    for await (const entry of tarEntries(createReadStream(archive))) {
      const parts = entryComponents(entry.path);
      if (!parts) throw archiveError(archive, `member "${entry.path}" has a path with ".."`);
      const rel = parts.join('/');
      if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
        const target = entry.type === 'Link' ? (entry.linkpath ?? '') : posix.join(posix.dirname(rel), entry.linkpath ?? '');
        m.links.set(rel, posix.normalize(target).replace(/^\/+/, ''));
        continue;
      }
      if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') continue;
      const blob = BLOB_PATH.exec(rel);
      if (blob) {
        m.stored.set(rel, (await blobs.put(entry, { digest: `sha256:${blob[1]}`, size: entry.size, ref: `${archive}:${rel}` })).digest);
      } else if (entry.size <= SMALL_LIMIT) {
        const chunks: Buffer[] = [];
        for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
        m.small.set(rel, Buffer.concat(chunks));
      } else {
        m.stored.set(rel, (await blobs.put(entry, { size: entry.size, ref: `${archive}:${rel}` })).digest);
      }
    }
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw archiveError(archive, `it is not a readable tar archive (${(err as Error).message})`, err);
  }
  return m;
}

/** The digest of a member, storing small ones on demand; follows symlinks (a few hops). */
async function memberDigest(blobs: BlobStore, archive: string, m: Members, path: string): Promise<string> {
  let rel = posix.normalize(path).replace(/^\/+/, '');
  for (let hops = 0; m.links.has(rel) && hops < 8; hops += 1) rel = m.links.get(rel) as string;
  const stored = m.stored.get(rel);
  if (stored) return stored;
  const small = m.small.get(rel);
  if (!small) throw archiveError(archive, `it names "${path}", which it does not contain`);
  const blob = BLOB_PATH.exec(rel);
  const info = await blobs.put(small, blob ? { digest: `sha256:${blob[1]}`, ref: `${archive}:${rel}` } : { ref: `${archive}:${rel}` });
  m.stored.set(rel, info.digest);
  return info.digest;
}

async function readBlob(blobs: BlobStore, archive: string, m: Members, digest: string): Promise<Buffer> {
  const hex = digest.slice('sha256:'.length);
  if (!m.stored.has(`blobs/sha256/${hex}`) && !m.small.has(`blobs/sha256/${hex}`)) throw archiveError(archive, `it lacks blob ${digest}`);
  await memberDigest(blobs, archive, m, `blobs/sha256/${hex}`);
  return blobs.read(digest, archive);
}

function parseJson<T>(archive: string, name: string, bytes: Buffer): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (err) {
    throw archiveError(archive, `${name} is not valid JSON`, err);
  }
}

/** Names an OCI layout gives a manifest: containerd's full name, or a full ref.name. */
function layoutNames(desc: Descriptor): ImageReference[] {
  const a = desc.annotations ?? {};
  const candidates = [a['io.containerd.image.name'], a['org.opencontainers.image.ref.name']];
  for (const c of candidates) {
    // A bare tag ("latest") names no repository: such entries stay unnamed unless the user names them.
    if (c === undefined || !/[/:@]/.test(c)) continue;
    try {
      return [parseReference(c)];
    } catch {
      // not a reference; try the next annotation
    }
  }
  return [];
}

async function readOciLayout(blobs: BlobStore, archive: string, m: Members, platform: Platform): Promise<ArchiveImage[]> {
  const doc = parseManifestDocument(m.small.get('index.json') as Buffer, MEDIA.ociIndex, `${archive}:index.json`);
  if (doc.kind !== 'index') throw archiveError(archive, 'index.json is not an image index');
  const images: ArchiveImage[] = [];
  for (const top of doc.index.manifests) {
    let desc = top;
    let repoDigest: string | undefined;
    let bytes = await readBlob(blobs, archive, m, desc.digest);
    let parsed = parseManifestDocument(bytes, desc.mediaType, archive);
    if (parsed.kind === 'index') {
      repoDigest = desc.digest;
      desc = selectPlatform(parsed.index, platform, archive);
      bytes = await readBlob(blobs, archive, m, desc.digest);
      parsed = parseManifestDocument(bytes, desc.mediaType, archive);
    }
    if (parsed.kind !== 'manifest') throw archiveError(archive, `${desc.digest} is a nested index, which Hangar does not follow`);
    const manifest = parsed.manifest;
    const config = parseImageConfig(await readBlob(blobs, archive, m, manifest.config.digest), archive);
    for (const layer of manifest.layers) await readBlob(blobs, archive, m, layer.digest);
    images.push({ names: layoutNames(top), digest: desc.digest, ...(repoDigest ? { repoDigest } : {}), manifest, config });
  }
  return images;
}

interface DockerSaveEntry {
  Config?: unknown;
  RepoTags?: unknown;
  Layers?: unknown;
}

async function readDockerSave(blobs: BlobStore, archive: string, m: Members): Promise<ArchiveImage[]> {
  const entries = parseJson<DockerSaveEntry[]>(archive, 'manifest.json', m.small.get('manifest.json') as Buffer);
  if (!Array.isArray(entries)) throw archiveError(archive, 'manifest.json is not a list of images');
  const images: ArchiveImage[] = [];
  for (const [i, e] of entries.entries()) {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string')) {
      throw archiveError(archive, `manifest.json entry ${i} lacks Config or Layers`);
    }
    const configDigest = await memberDigest(blobs, archive, m, e.Config);
    const configBytes = await blobs.read(configDigest, archive);
    const config = parseImageConfig(configBytes, archive);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== e.Layers.length) throw archiveError(archive, `image ${i} lists ${e.Layers.length} layers but its config has ${diffIds.length} diff_ids`);
    const layers: Descriptor[] = [];
    for (const [j, path] of (e.Layers as string[]).entries()) {
      const digest = await memberDigest(blobs, archive, m, path);
      const gzip = await isGzip(blobs.path(digest));
      // An uncompressed layer's digest is its diff_id: a mismatch means a corrupted archive.
      if (!gzip && digest !== diffIds[j]) {
        throw new ImageError('HANGAR_ERR_IMAGE_DIGEST', `cannot import ${archive}: layer ${path} hashes to ${digest}, its config says ${diffIds[j] ?? '?'}`, { ref: archive });
      }
      layers.push({ mediaType: gzip ? MEDIA.ociLayerGzip : MEDIA.ociLayer, digest, size: await blobs.size(digest) });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await blobs.put(bytes, { digest, ref: archive });
    const names: ImageReference[] = [];
    for (const tag of Array.isArray(e.RepoTags) ? e.RepoTags : []) {
      if (typeof tag !== 'string') continue;
      try {
        names.push(parseReference(tag));
      } catch {
        // docker writes "<none>:<none>" for untagged images
      }
    }
    images.push({ names, digest, manifest, config });
  }
  return images;
}

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}
