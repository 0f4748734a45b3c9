import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { isImageError } from '../../src/core/images/errors.js';
import { ImageStore } from '../../src/images/store.js';
import { type BuiltImage, type TarEntry, buildImage, busyboxImage, dockerSaveTar, nodeImage, ociLayoutTar, sha256, tarBuffer } from '../helpers/images.js';

const execFileP = promisify(execFile);
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'hangar-test-images-'));
  dirs.push(d);
  return d;
}

async function storeAndArchive(archive: Buffer, name = 'image.tar'): Promise<{ store: ImageStore; path: string; dir: string }> {
  const dir = await tempDir();
  const path = join(dir, name);
  await writeFile(path, archive);
  return { store: await ImageStore.open({ dataDir: join(dir, 'data'), platform: { os: 'linux', architecture: 'amd64' } }), path, dir };
}

async function expectCode(p: Promise<unknown>, code: string, mentions?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isImageError(e), `expected an ImageError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (mentions) assert.ok(e.message.includes(mentions), `"${e.message}" should name ${mentions}`);
    return true;
  });
}

/** The busybox rootfs as layer 1 + layer 2 define it (see busyboxImage). */
async function assertBusyboxRootfs(rootfs: string): Promise<void> {
  const bb = await stat(join(rootfs, 'bin/busybox'));
  assert.equal(bb.mode & 0o7777, 0o755);
  assert.equal((await lstat(join(rootfs, 'bin/sh'))).isSymbolicLink(), true);
  assert.equal(await readlink(join(rootfs, 'bin/sh')), 'busybox');
  assert.equal(await readlink(join(rootfs, 'bin/echo')), '/bin/busybox');
  assert.equal((await stat(join(rootfs, 'bin/busybox-hardlink'))).ino, bb.ino, 'hard link preserved');
  assert.equal((await stat(join(rootfs, 'etc/secret'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(rootfs, 'usr/local/bin/tool'))).mode & 0o7777, 0o4755, 'setuid kept');
  assert.equal((await stat(join(rootfs, 'tmp'))).mode & 0o7777, 0o1777, 'sticky dir mode');
  assert.equal(await readFile(join(rootfs, 'etc/motd'), 'utf8'), 'layer 2\n');
  // whiteouts
  assert.equal(existsSync(join(rootfs, 'remove-me.txt')), false);
  assert.equal(existsSync(join(rootfs, 'olddir')), false);
  // opaque dir: only layer 2's entries, before and after the marker
  assert.deepEqual((await readdir(join(rootfs, 'data'))).sort(), ['upper-after', 'upper-before']);
  assert.equal((await stat(join(rootfs, 'data'))).mode & 0o777, 0o750);
  // no whiteout marker ever materializes
  assert.equal(existsSync(join(rootfs, '.wh.remove-me.txt')), false);
  assert.equal(existsSync(join(rootfs, 'data/.wh..wh..opq')), false);
  // the binary really is busybox and runs (it is static: no chroot needed)
  const { stdout } = await execFileP(join(rootfs, 'bin/busybox'), ['echo', 'ok']);
  assert.equal(stdout, 'ok\n');
}

after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('archive import', { timeout: 120_000 }, () => {
  it('imports an OCI image layout and unpacks it with whiteouts and opaque dirs applied', async () => {
    const image = busyboxImage();
    const { store, path } = await storeAndArchive(ociLayoutTar(image, { name: 'docker.io/library/busybox:1.36' }));
    const [rec, ...rest] = await store.import(path);
    assert.equal(rest.length, 0);
    assert.equal(rec?.ref, 'docker.io/library/busybox:1.36');
    assert.equal(rec?.digest, image.digest);
    assert.equal(rec?.source, 'import');
    assert.equal((await store.find('busybox:1.36'))?.digest, image.digest);
    const rootfs = await store.rootfs(rec!);
    assert.equal(rootfs, join(store.imagesDir, 'rootfs', image.digest.slice(7)));
    await assertBusyboxRootfs(rootfs);
    assert.deepEqual(await readdir(join(store.imagesDir, 'tmp')), []);
  });

  it('imports a gzip-compressed OCI layout holding an index, choosing linux/amd64', async () => {
    const image = busyboxImage({ gzipBase: true });
    const arm = buildImage({ architecture: 'arm64', layers: [{ entries: [{ path: 'arm', body: 'arm' }] }] });
    const { store, path } = await storeAndArchive(gzipSync(ociLayoutTar(image, { name: 'example.com/multi:v2', extra: [{ image: arm, architecture: 'arm64' }] })), 'image.tar.gz');
    const [rec] = await store.import(path);
    assert.equal(rec?.digest, image.digest);
    assert.ok(rec?.repoDigest);
    await assertBusyboxRootfs(await store.rootfs(rec!));
  });

  it('imports a docker save archive, with its tags, and a name given on import', async () => {
    const image = busyboxImage();
    const { store, path } = await storeAndArchive(dockerSaveTar(image, ['busybox:latest', 'registry.example.com/team/bb:1']));
    const records = await store.import(path, { ref: 'local/bb:dev' });
    assert.deepEqual(records.map((r) => r.ref).sort(), ['docker.io/library/busybox:latest', 'docker.io/local/bb:dev', 'registry.example.com/team/bb:1']);
    assert.equal(new Set(records.map((r) => r.digest)).size, 1);
    // Hangar writes the manifest for docker save; importing again gives the same digest.
    const again = await store.import(path);
    assert.equal(again[0]?.digest, records[0]?.digest);
    assert.equal((await store.list()).length, 3);
    await assertBusyboxRootfs(await store.rootfs(records[0]!));
  });

  it('keeps an unnamed OCI layout image under its digest', async () => {
    const image = buildImage({ layers: [{ entries: [{ path: 'hello', body: 'hi' }] }] });
    const { store, path } = await storeAndArchive(ociLayoutTar(image));
    const [rec] = await store.import(path);
    assert.equal(rec?.ref, null);
    assert.equal((await store.find(image.digest))?.digest, image.digest);
  });

  it('imports node and its shared libraries', async () => {
    const image = nodeImage();
    const { store, path } = await storeAndArchive(ociLayoutTar(image, { name: 'hangar.test/node:host' }));
    const [rec] = await store.import(path);
    const rootfs = await store.rootfs(rec!);
    assert.equal((await stat(join(rootfs, 'usr/local/bin/node'))).mode & 0o111, 0o111);
    const cfg = await store.config(rec!);
    assert.deepEqual(cfg.config?.Entrypoint, ['/usr/local/bin/node']);
  });

  it('rejects an archive whose blob does not match its name, storing nothing', async () => {
    const image = buildImage({ layers: [{ entries: [{ path: 'hello', body: 'hi' }] }] });
    const layout = tarBuffer([
      { path: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
      { path: 'index.json', body: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.digest, size: image.manifest.length }] }) },
      { path: `blobs/sha256/${image.digest.slice(7)}`, body: image.manifest },
      { path: `blobs/sha256/${sha256(image.config).slice(7)}`, body: image.config },
      { path: `blobs/sha256/${sha256(image.layers[0]!.blob).slice(7)}`, body: Buffer.concat([image.layers[0]!.blob, Buffer.from('tampered')]) },
    ]);
    const { store, path } = await storeAndArchive(layout);
    await expectCode(store.import(path), 'HANGAR_ERR_IMAGE_DIGEST', path);
    assert.equal(await store.blobs.has(sha256(image.layers[0]!.blob)), false);
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await readdir(join(store.imagesDir, 'tmp')), []);
  });

  it('rejects a docker save archive whose layer does not match its diff_id', async () => {
    const image = busyboxImage();
    const tampered: BuiltImage = { ...image, layers: [{ ...image.layers[0]!, blob: tarBuffer([{ path: 'evil', body: 'x' }]) }, image.layers[1]!] };
    const { store, path } = await storeAndArchive(dockerSaveTar(tampered, ['busybox:bad']));
    await expectCode(store.import(path), 'HANGAR_ERR_IMAGE_DIGEST', path);
    assert.deepEqual(await store.list(), []);
  });

  it('rejects what is not an image archive, and a missing file', async () => {
    const { store, path, dir } = await storeAndArchive(tarBuffer([{ path: 'README', body: 'hello' }]));
    await expectCode(store.import(path), 'HANGAR_ERR_IMAGE_ARCHIVE', path);
    await writeFile(join(dir, 'junk.tar'), 'this is not a tar archive at all, not even close'.repeat(20));
    await expectCode(store.import(join(dir, 'junk.tar')), 'HANGAR_ERR_IMAGE_ARCHIVE', 'junk.tar');
    await expectCode(store.import(join(dir, 'nope.tar')), 'HANGAR_ERR_IMAGE_ARCHIVE', 'nope.tar');
    const layoutMissingBlob = tarBuffer([
      { path: 'oci-layout', body: '{}' },
      { path: 'index.json', body: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 10 }] }) },
    ]);
    await writeFile(join(dir, 'missing.tar'), layoutMissingBlob);
    await expectCode(store.import(join(dir, 'missing.tar')), 'HANGAR_ERR_IMAGE_ARCHIVE', 'lacks blob');
  });
});

describe('layer safety', { timeout: 60_000 }, () => {
  async function unpackOne(layers: TarEntry[][], gzip = false): Promise<{ store: ImageStore; outside: string; run: Promise<string> }> {
    const image = buildImage({ layers: layers.map((entries) => ({ entries, gzip })) });
    const { store, dir } = await storeAndArchive(ociLayoutTar(image, { name: 'hangar.test/evil:1' }));
    const outside = join(dir, 'outside');
    const [rec] = await store.import(join(dir, 'image.tar'));
    return { store, outside, run: store.rootfs(rec!) };
  }

  const cases: { name: string; layers: (outside: string) => TarEntry[][]; mentions: string }[] = [
    { name: 'a ../ path', layers: () => [[{ path: '../../../../outside-file', body: 'pwned' }]], mentions: '".."' },
    { name: 'a ../ in the middle', layers: () => [[{ path: 'a/../../x', body: 'pwned' }]], mentions: '".."' },
    {
      name: 'a write through an absolute symlink planted by a lower layer',
      layers: (outside) => [[{ path: 'escape', type: 'symlink', linkname: outside }], [{ path: 'escape/pwned', body: 'pwned' }]],
      mentions: 'symlink',
    },
    {
      name: 'a write through a relative symlink planted in the same layer',
      layers: () => [[{ path: 'up', type: 'symlink', linkname: '../../../..' }, { path: 'up/tmp/pwned', body: 'pwned' }]],
      mentions: 'symlink',
    },
    { name: 'a hard link to a file outside', layers: () => [[{ path: 'passwd', type: 'hardlink', linkname: '../../../../etc/passwd' }]], mentions: 'hard-link' },
    {
      name: 'a hard link through a symlink',
      layers: () => [[{ path: 'etc', type: 'symlink', linkname: '/etc' }, { path: 'shadow', type: 'hardlink', linkname: 'etc/shadow' }]],
      mentions: 'symlink',
    },
    { name: 'a whiteout of the parent', layers: () => [[{ path: 'a/', type: 'dir' }], [{ path: 'a/.wh..', body: '' }]], mentions: 'whites out' },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}, writing nothing outside and leaving no rootfs`, async () => {
      const dir = await tempDir();
      const outside = join(dir, 'outside-target');
      await mkdir(outside);
      const { store, run } = await unpackOne(c.layers(outside));
      await expectCode(run, 'HANGAR_ERR_IMAGE_UNPACK', 'hangar.test/evil:1');
      await expectCode(run, 'HANGAR_ERR_IMAGE_UNPACK', c.mentions);
      assert.equal(existsSync(join(outside, 'pwned')), false);
      assert.deepEqual(await readdir(join(store.imagesDir, 'rootfs')), []);
      assert.deepEqual(await readdir(join(store.imagesDir, 'tmp')), []);
    });
  }

  it('replaces a planted symlink with a file instead of writing through it', async () => {
    const dir = await tempDir();
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'original');
    const { run } = await unpackOne([[{ path: 'link', type: 'symlink', linkname: victim }], [{ path: 'link', body: 'new content' }]]);
    const rootfs = await run;
    assert.equal(await readFile(victim, 'utf8'), 'original');
    assert.equal((await lstat(join(rootfs, 'link'))).isFile(), true);
    assert.equal(await readFile(join(rootfs, 'link'), 'utf8'), 'new content');
  });

  it('reports zstd layers clearly when this Node cannot decompress them', async (t) => {
    const zlib = await import('node:zlib');
    if (typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function') {
      t.skip('this Node decompresses zstd; the error path exists only on Node < 22.15');
      return;
    }
    const fakeZstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64)]);
    const image = buildImage({ layers: [{ entries: [] }] });
    const layer = { blob: fakeZstd, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', diffId: sha256(fakeZstd) };
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(image.config), size: image.config.length },
        layers: [{ mediaType: layer.mediaType, digest: sha256(fakeZstd), size: fakeZstd.length }],
      }),
    );
    const built: BuiltImage = { layers: [layer], config: image.config, manifest, digest: sha256(manifest) };
    const { store, path } = await storeAndArchive(ociLayoutTar(built, { name: 'hangar.test/zstd:1' }));
    const [rec] = await store.import(path);
    await expectCode(store.rootfs(rec!), 'HANGAR_ERR_IMAGE_UNPACK', 'zstd');
  });
});
