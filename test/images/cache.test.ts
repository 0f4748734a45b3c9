// The ImageStore's in-memory caches (index, configs, unpacked dirs) never serve a stale answer:
// a ref re-pointed by this store or by another process on the same data dir, and GC.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/store.js';
import { buildImage, ociLayoutTar } from '../helpers/images.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const platform = { os: 'linux', architecture: 'amd64' };
const image = (tag: string) => buildImage({ layers: [{ entries: [{ path: 'hello', body: `${tag}\n` }] }], config: { Cmd: ['/hello'], Labels: { tag } } });

describe('image store caches', () => {
  it('a ref re-pointed by this store or another process on the data dir is seen at once; GC clears the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-test-images-cache-'));
    dirs.push(dir);
    const dataDir = join(dir, 'data');
    const store = await ImageStore.open({ dataDir, platform });
    const other = await ImageStore.open({ dataDir, platform });
    const put = async (s: ImageStore, tag: string) => {
      const tar = join(dir, `${tag}.tar`);
      await writeFile(tar, ociLayoutTar(image(tag)));
      return (await s.import(tar, { ref: 'example.test/app:latest' }))[0];
    };
    const a = await put(store, 'a');
    assert.ok(a);
    const found = await store.find('example.test/app:latest');
    assert.equal(found?.digest, a.digest);
    assert.equal((await store.imageRef(found)).labels['tag'], 'a');
    const rootfsA = await store.rootfs(found);
    // re-pointed by this store
    const b = await put(store, 'b');
    assert.ok(b && b.digest !== a.digest);
    assert.equal((await store.find('example.test/app:latest'))?.digest, b.digest);
    // re-pointed by another process (another store object on the same dir)
    const c = await put(other, 'c');
    assert.ok(c);
    const now = await store.find('example.test/app:latest');
    assert.equal(now?.digest, c.digest);
    assert.equal((await store.imageRef(now as NonNullable<typeof now>)).labels['tag'], 'c');
    // GC removes a's unpacked tree; the store does not hand out the removed dir
    await store.gc();
    assert.ok(!existsSync(rootfsA));
    const rootfsC = await store.rootfs(now as NonNullable<typeof now>);
    assert.ok(existsSync(join(rootfsC, 'hello')));
  });
});
