/**
 * Builds test images without Docker: raw tar layers (so whiteouts, opaque dirs and malicious
 * entries are exactly what the test says), OCI image layouts and `docker save` archives, from
 * the host's busybox-static (/usr/bin/busybox) and node binary with its libraries (`ldd`).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  mode?: number;
  body?: Buffer | string;
  linkname?: string;
  uid?: number;
  gid?: number;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  let name = e.path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  const type = e.type ?? 'file';
  h.write(name, 0, 100);
  h.write(octal(e.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100);
  h.write(octal(e.uid ?? 0, 8), 108);
  h.write(octal(e.gid ?? 0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(1_700_000_000, 12), 136);
  h.write('        ', 148);
  h.write({ file: '0', hardlink: '1', symlink: '2', dir: '5' }[type], 156);
  h.write(e.linkname ?? '', 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7), 148);
  return h;
}

/** A ustar archive of `entries`, in order, exactly as given (no path cleaning). */
export function tarBuffer(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.type === undefined || e.type === 'file' ? Buffer.from(e.body ?? '') : Buffer.alloc(0);
    parts.push(header(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export interface BuiltImage {
  /** Layer blobs as stored/pushed (gzip or plain tar). */
  layers: { blob: Buffer; mediaType: string; diffId: string }[];
  config: Buffer;
  manifest: Buffer;
  digest: string;
}

export interface ImageSpec {
  layers: { entries: TarEntry[]; gzip?: boolean }[];
  config?: Record<string, unknown>;
  architecture?: string;
}

/** An OCI image (manifest + config + layers) in memory. */
export function buildImage(spec: ImageSpec): BuiltImage {
  const layers = spec.layers.map((l) => {
    const tar = tarBuffer(l.entries);
    return l.gzip
      ? { blob: gzipSync(tar), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', diffId: sha256(tar) }
      : { blob: tar, mediaType: 'application/vnd.oci.image.layer.v1.tar', diffId: sha256(tar) };
  });
  const config = Buffer.from(
    JSON.stringify({
      architecture: spec.architecture ?? 'amd64',
      os: 'linux',
      config: spec.config ?? {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha256(l.blob), size: l.blob.length })),
    }),
  );
  return { layers, config, manifest, digest: sha256(manifest) };
}

/** An OCI index over `images` (each with its architecture). */
export function buildIndex(images: { image: BuiltImage; architecture: string }[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map(({ image, architecture }) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: image.digest,
        size: image.manifest.length,
        platform: { architecture, os: 'linux' },
      })),
    }),
  );
}

function blobEntries(blobs: Buffer[]): TarEntry[] {
  const seen = new Set<string>();
  const out: TarEntry[] = [{ path: 'blobs/', type: 'dir' }, { path: 'blobs/sha256/', type: 'dir' }];
  for (const b of blobs) {
    const hex = sha256(b).slice(7);
    if (seen.has(hex)) continue;
    seen.add(hex);
    out.push({ path: `blobs/sha256/${hex}`, body: b });
  }
  return out;
}

/** An OCI image-layout tar holding `image` named `name` (full reference), optionally under an index. */
export function ociLayoutTar(image: BuiltImage, opts: { name?: string; extra?: { image: BuiltImage; architecture: string }[] } = {}): Buffer {
  const annotations = opts.name ? { 'io.containerd.image.name': opts.name, 'org.opencontainers.image.ref.name': opts.name.split(':').pop() } : undefined;
  const blobs = [image.manifest, image.config, ...image.layers.map((l) => l.blob)];
  let top: Record<string, unknown> = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.digest, size: image.manifest.length };
  if (opts.extra) {
    for (const e of opts.extra) blobs.push(e.image.manifest, e.image.config, ...e.image.layers.map((l) => l.blob));
    const index = buildIndex([{ image, architecture: 'amd64' }, ...opts.extra]);
    blobs.push(index);
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(index), size: index.length };
  }
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...top, ...(annotations ? { annotations } : {}) }] };
  return tarBuffer([
    { path: 'oci-layout', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { path: 'index.json', body: JSON.stringify(index) },
    ...blobEntries(blobs),
  ]);
}

/** A legacy `docker save` tar (layers must be uncompressed, as docker writes them). */
export function dockerSaveTar(image: BuiltImage, repoTags: string[]): Buffer {
  const configName = `${sha256(image.config).slice(7)}.json`;
  const entries: TarEntry[] = [{ path: configName, body: image.config }];
  const layerPaths: string[] = [];
  image.layers.forEach((l, i) => {
    const dir = createHash('sha256').update(`layer-${i}-${l.diffId}`).digest('hex');
    entries.push({ path: `${dir}/`, type: 'dir' }, { path: `${dir}/VERSION`, body: '1.0' }, { path: `${dir}/layer.tar`, body: l.blob });
    layerPaths.push(`${dir}/layer.tar`);
  });
  entries.push({ path: 'manifest.json', body: JSON.stringify([{ Config: configName, RepoTags: repoTags, Layers: layerPaths }]) });
  entries.push({ path: 'repositories', body: '{}' });
  return tarBuffer(entries);
}

export const BUSYBOX = '/usr/bin/busybox';

/**
 * A two-layer busybox image. Layer 1: the binary, symlinks (relative and absolute), a hard link,
 * files later deleted. Layer 2 (gzip): a whiteout of a file and of a directory, an opaque `data/`
 * that keeps only what layer 2 puts there, an overwritten file.
 */
export function busyboxImage(opts: { gzipBase?: boolean; config?: Record<string, unknown> } = {}): BuiltImage {
  const bin = readFileSync(BUSYBOX);
  const base: TarEntry[] = [
    { path: 'bin/', type: 'dir' },
    { path: 'bin/busybox', body: bin, mode: 0o755 },
    { path: 'bin/sh', type: 'symlink', linkname: 'busybox', mode: 0o777 },
    { path: 'bin/echo', type: 'symlink', linkname: '/bin/busybox', mode: 0o777 },
    { path: 'bin/busybox-hardlink', type: 'hardlink', linkname: 'bin/busybox', mode: 0o755 },
    { path: 'etc/', type: 'dir' },
    { path: 'etc/motd', body: 'base\n' },
    { path: 'etc/secret', body: 'only root\n', mode: 0o600 },
    { path: 'tmp/', type: 'dir', mode: 0o1777 },
    { path: 'remove-me.txt', body: 'gone in layer 2\n' },
    { path: 'olddir/', type: 'dir' },
    { path: 'olddir/file', body: 'gone with its dir\n' },
    { path: 'data/', type: 'dir' },
    { path: 'data/lower-file', body: 'hidden by the opaque dir\n' },
    { path: 'data/lower-dir/', type: 'dir' },
    { path: 'data/lower-dir/deep', body: 'hidden too\n' },
    { path: 'usr/local/bin/', type: 'dir' },
    { path: 'usr/local/bin/tool', body: '#!/bin/sh\necho tool\n', mode: 0o4755 },
  ];
  const top: TarEntry[] = [
    { path: 'data/', type: 'dir', mode: 0o750 },
    { path: 'data/upper-before', body: 'written before the marker\n' },
    { path: 'data/.wh..wh..opq', body: '' },
    { path: 'data/upper-after', body: 'written after the marker\n' },
    { path: '.wh.remove-me.txt', body: '' },
    { path: '.wh.olddir', body: '' },
    { path: 'etc/motd', body: 'layer 2\n' },
  ];
  return buildImage({
    layers: [{ entries: base, gzip: opts.gzipBase ?? false }, { entries: top, gzip: true }],
    config: opts.config ?? { Entrypoint: ['/bin/busybox'], Cmd: ['echo', 'ok'], Env: ['PATH=/bin', 'GREETING=hello'], WorkingDir: '/data', ExposedPorts: { '8080/tcp': {} }, Labels: { 'org.hangar.test': 'busybox' } },
  });
}

/** The host's node binary and every library `ldd` lists, at their real paths, in one layer. */
export function nodeImage(): BuiltImage {
  const node = realpathSync(process.execPath);
  const out = execFileSync('ldd', [node], { encoding: 'utf8' });
  const libs = [...out.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1] as string);
  const entries: TarEntry[] = [{ path: 'usr/local/bin/node', body: readFileSync(node), mode: 0o755 }];
  for (const lib of libs) {
    const real = realpathSync(lib);
    const rel = lib.replace(/^\/+/, '');
    if (real === lib) entries.push({ path: rel, body: readFileSync(lib), mode: statSync(lib).mode & 0o7777 });
    else {
      entries.push({ path: real.replace(/^\/+/, ''), body: readFileSync(real), mode: statSync(real).mode & 0o7777 });
      entries.push({ path: rel, type: 'symlink', linkname: real });
    }
  }
  return buildImage({ layers: [{ entries, gzip: false }], config: { Entrypoint: ['/usr/local/bin/node'], Cmd: ['-e', 'console.log(1)'] } });
}
