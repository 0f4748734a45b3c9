import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isImageError } from '../../src/core/images/errors.js';
import { ImageStore, type ImageStoreEvent, flyImageRef } from '../../src/images/store.js';
import { buildImage, buildIndex, busyboxImage, sha256 } from '../helpers/images.js';
import { type RunningRegistry, type TokenServer, freePort, pushImage, pushManifest, registryBlobPath, startRegistry, startTokenServer } from './registry-helper.js';

async function rejectsWithCode(p: Promise<unknown>, code: string, mentions: string): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(isImageError(err), `expected an ImageError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.includes(mentions), `"${err.message}" should name ${mentions}`);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('registry pull', { timeout: 120_000 }, () => {
  let registry: RunningRegistry;
  let authRegistry: RunningRegistry;
  let tokens: TokenServer;
  const dirs: string[] = [];
  const busybox = busyboxImage();

  const newStore = async (extra: { onEvent?: (e: ImageStoreEvent) => void } = {}): Promise<ImageStore> => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-test-images-'));
    dirs.push(dir);
    return ImageStore.open({ dataDir: dir, platform: { os: 'linux', architecture: 'amd64' }, ...extra });
  };

  before(async () => {
    registry = await startRegistry();
    tokens = await startTokenServer({ username: 'hangar', password: 's3cret' });
    // Same storage, token auth in front: what is pushed to the plain one is served by both.
    authRegistry = await startRegistry({ auth: tokens.auth, storageDir: registry.storageDir });
    await pushImage(registry.host, 'app', busybox, 'v1');
  });
  after(async () => {
    await registry?.stop();
    await authRegistry?.stop();
    await tokens?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('pulls by tag, verifies, records and unpacks', async () => {
    const store = await newStore();
    const rec = await store.pull(`${registry.host}/app:v1`);
    assert.equal(rec.digest, busybox.digest);
    assert.equal(rec.ref, `${registry.host}/app:v1`);
    assert.equal(rec.platform, 'linux/amd64');
    assert.equal(rec.source, 'pull');
    for (const l of busybox.layers) assert.ok(await store.blobs.has(sha256(l.blob)));
    const list = await store.list();
    assert.deepEqual(list.map((r) => r.ref), [`${registry.host}/app:v1`]);
    const rootfs = await store.rootfs(rec);
    assert.ok(existsSync(join(rootfs, 'bin', 'busybox')));
    const ref = await store.imageRef(rec);
    assert.deepEqual(ref, { registry: registry.host, repository: 'app', tag: 'v1', digest: busybox.digest, labels: { 'org.hangar.test': 'busybox' } });
    assert.equal(flyImageRef(rec), `${registry.host}/app:v1`);
  });

  it('pulls by digest, and the found image answers by ref and digest', async () => {
    const store = await newStore();
    const rec = await store.pull(`${registry.host}/app@${busybox.digest}`);
    assert.equal(rec.digest, busybox.digest);
    assert.equal(rec.tag, undefined);
    assert.equal((await store.find(busybox.digest))?.digest, busybox.digest);
    assert.equal((await store.find(`${registry.host}/app@${busybox.digest}`))?.digest, busybox.digest);
  });

  it('selects linux/amd64 from a manifest list and keeps the list digest as repo digest', async () => {
    const arm = buildImage({ architecture: 'arm64', layers: [{ entries: [{ path: 'arm-only', body: 'arm\n' }], gzip: true }] });
    await pushImage(registry.host, 'multi', arm);
    await pushImage(registry.host, 'multi', busybox);
    const index = buildIndex([{ image: arm, architecture: 'arm64' }, { image: busybox, architecture: 'amd64' }]);
    await pushManifest(registry.host, 'multi', 'latest', index, 'application/vnd.oci.image.index.v1+json');
    const store = await newStore();
    const rec = await store.pull(`${registry.host}/multi`);
    assert.equal(rec.digest, busybox.digest);
    assert.equal(rec.repoDigest, sha256(index));
    assert.equal(await store.blobs.has(sha256(arm.layers[0]!.blob)), false, 'the arm64 layer is not downloaded');
    assert.equal((await store.imageRef(rec)).digest, sha256(index));

    const armStore = await ImageStore.open({ dataDir: store.imagesDir.replace(/\/images$/, '-arm'), platform: { os: 'linux', architecture: 'arm64' } });
    dirs.push(store.imagesDir.replace(/\/images$/, '-arm'));
    assert.equal((await armStore.pull(`${registry.host}/multi`)).digest, arm.digest);
    const s390 = await ImageStore.open({ dataDir: store.imagesDir.replace(/\/images$/, '-s390'), platform: { os: 'linux', architecture: 's390x' } });
    dirs.push(store.imagesDir.replace(/\/images$/, '-s390'));
    await rejectsWithCode(s390.pull(`${registry.host}/multi`), 'HANGAR_ERR_IMAGE_PLATFORM', `${registry.host}/multi:latest`);
  });

  it('rejects a corrupted blob and leaves nothing half-written', async () => {
    const img = buildImage({ layers: [{ entries: [{ path: 'payload', body: 'x'.repeat(10_000) }], gzip: false }] });
    await pushImage(registry.host, 'corrupt', img, 'v1');
    const layer = img.layers[0]!.blob;
    const bad = Buffer.from(layer);
    bad[600] = bad[600]! ^ 0xff;
    await writeFile(registryBlobPath(registry.storageDir, sha256(layer)), bad);
    const store = await newStore();
    await rejectsWithCode(store.pull(`${registry.host}/corrupt:v1`), 'HANGAR_ERR_IMAGE_DIGEST', `${registry.host}/corrupt:v1`);
    assert.equal(await store.blobs.has(sha256(layer)), false);
    assert.equal(await store.blobs.has(img.digest), false, 'no manifest for a partial image');
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await readdir(join(store.imagesDir, 'tmp')), []);
  });

  it('concurrent pulls and unpacks of one image do the work once', async () => {
    const events: ImageStoreEvent[] = [];
    const store = await newStore({ onEvent: (e) => events.push(e) });
    const ref = `${registry.host}/app:v1`;
    const [a, b, c] = await Promise.all([store.pull(ref), store.pull(ref), store.pull(`${registry.host}/app@${busybox.digest}`)]);
    assert.equal(a.digest, b.digest);
    assert.equal(a.digest, c.digest);
    const downloads = events.filter((e) => e.type === 'download').map((e) => e.digest);
    assert.equal(downloads.length, new Set(downloads).size, `each blob downloaded once: ${downloads.join(' ')}`);
    assert.equal(downloads.length, busybox.layers.length + 1);
    const [r1, r2, r3] = await Promise.all([store.rootfs(a), store.rootfs(b), store.rootfs(c)]);
    assert.equal(r1, r2);
    assert.equal(r1, r3);
    assert.equal(events.filter((e) => e.type === 'unpack').length, 1);
    await store.rootfs(a);
    assert.equal(events.filter((e) => e.type === 'unpack').length, 1, 'an unpacked image is not unpacked again');
  });

  it('404 manifest → HANGAR_ERR_IMAGE_NOT_FOUND naming the ref', async () => {
    const store = await newStore();
    await rejectsWithCode(store.pull(`${registry.host}/app:nope`), 'HANGAR_ERR_IMAGE_NOT_FOUND', `${registry.host}/app:nope`);
    await rejectsWithCode(store.pull(`${registry.host}/missing-repo`), 'HANGAR_ERR_IMAGE_NOT_FOUND', `${registry.host}/missing-repo:latest`);
  });

  it('a registry that is down → HANGAR_ERR_IMAGE_PULL naming the ref', async () => {
    const store = await newStore();
    const port = await freePort();
    const err = await rejectsWithCode(store.pull(`127.0.0.1:${port}/app:v1`), 'HANGAR_ERR_IMAGE_PULL', `127.0.0.1:${port}/app:v1`);
    assert.match(err.message, /ECONNREFUSED|unreachable/);
  });

  it('pulls through bearer-token auth with credentials', async () => {
    const store = await ImageStore.open({
      dataDir: (await newStore()).imagesDir.replace(/\/images$/, ''),
      credentials: (host) => (host === authRegistry.host ? { username: 'hangar', password: 's3cret' } : undefined),
    });
    const before = tokens.requests;
    const rec = await store.pull(`${authRegistry.host}/app:v1`);
    assert.equal(rec.digest, busybox.digest);
    assert.ok(tokens.requests > before, 'the token server was asked');
  });

  it('401 without a token → HANGAR_ERR_IMAGE_AUTH naming the ref', async () => {
    const anonymous = await newStore();
    await rejectsWithCode(anonymous.pull(`${authRegistry.host}/app:v1`), 'HANGAR_ERR_IMAGE_AUTH', `${authRegistry.host}/app:v1`);
    const wrong = await ImageStore.open({
      dataDir: anonymous.imagesDir.replace(/\/images$/, ''),
      credentials: () => ({ username: 'hangar', password: 'wrong' }),
    });
    await rejectsWithCode(wrong.pull(`${authRegistry.host}/app:v1`), 'HANGAR_ERR_IMAGE_AUTH', `${authRegistry.host}/app:v1`);
    assert.deepEqual(await wrong.list(), []);
  });

  it('an invalid reference → HANGAR_ERR_IMAGE_REF before any request', async () => {
    const store = await newStore();
    assert.throws(() => store.pull('Bad/Name'), (e: unknown) => isImageError(e) && e.code === 'HANGAR_ERR_IMAGE_REF');
  });
});
