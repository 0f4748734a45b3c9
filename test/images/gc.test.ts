import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/store.js';
import { buildImage, busyboxImage, ociLayoutTar, sha256 } from '../helpers/images.js';

describe('image store gc', { timeout: 60_000 }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('keeps pinned images and removes unpinned ones with their blobs and rootfs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-test-images-'));
    dirs.push(dir);
    const store = await ImageStore.open({ dataDir: join(dir, 'data') });
    const kept = busyboxImage();
    const gone = buildImage({ layers: [{ entries: [{ path: 'only-here', body: 'x' }], gzip: true }] });
    await writeFile(join(dir, 'a.tar'), ociLayoutTar(kept, { name: 'hangar.test/kept:1' }));
    await writeFile(join(dir, 'b.tar'), ociLayoutTar(gone, { name: 'hangar.test/gone:1' }));
    const [a] = await store.import(join(dir, 'a.tar'));
    const [b] = await store.import(join(dir, 'b.tar'));
    const rootA = await store.rootfs(a!);
    const rootB = await store.rootfs(b!);

    // Without prune, listed images survive; only unreferenced content goes.
    const light = await store.gc({ pinned: [] });
    assert.deepEqual(light.removedImages, []);
    assert.equal(light.removedBlobs, 0);
    assert.equal((await store.list()).length, 2);

    // An image dropped from the index but pinned by a running machine keeps its content.
    await store.remove('hangar.test/kept:1');
    const report = await store.gc({ pinned: [kept.digest], pruneUnpinned: true });
    assert.deepEqual(report.removedImages, ['hangar.test/gone:1']);
    assert.deepEqual(await store.list(), []);
    assert.equal(existsSync(rootA), true);
    assert.equal(existsSync(rootB), false);
    assert.equal(await store.blobs.has(kept.digest), true);
    for (const l of kept.layers) assert.equal(await store.blobs.has(sha256(l.blob)), true);
    assert.equal(await store.blobs.has(gone.digest), false);
    assert.equal(await store.blobs.has(sha256(gone.layers[0]!.blob)), false);
    assert.ok(report.freedBytes > 0);

    // Once no machine pins it, it goes too.
    await store.gc({ pinned: [] });
    assert.equal(existsSync(rootA), false);
    assert.deepEqual(await store.blobs.list(), []);
  });
});
