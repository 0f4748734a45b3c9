import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sortedBy, StoreMirror } from '../../src/store/mirror.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

describe('StoreMirror', () => {
  const store = new SqliteStore({ path: ':memory:' });
  after(() => store.close());

  it('mirrors the watched kinds, rebuilds once per burst, and settles after each write', async () => {
    await store.put('app', 'a', { n: 1 });
    await store.put('volume', 'v', { ignored: true });
    const seen: string[][] = [];
    const mirror = new StoreMirror({
      store,
      kinds: ['app', 'machine'],
      debounceMs: 20,
      rebuild: () => {
        seen.push([...mirror.values<{ n: number }>('app')].map((a) => String(a.n)).concat([...mirror.values<{ m: number }>('machine')].map((m) => `m${m.m}`)));
      },
    });
    await mirror.start();
    assert.deepEqual(seen, [['1']], 'the first rebuild comes from the snapshot, before start() resolves');
    assert.deepEqual([...mirror.values('volume')], [], 'kinds not watched are not mirrored');

    await store.put('app', 'a', { n: 2 });
    await store.put('machine', 'm1', { m: 1 });
    await store.put('machine', 'm2', { m: 2 });
    await mirror.settled(await store.revision());
    assert.deepEqual(seen.at(-1), ['2', 'm1', 'm2']);
    assert.equal(seen.length, 2, 'three writes within the debounce window: one rebuild');

    await store.delete('machine', 'm1');
    await mirror.settled(await store.revision());
    assert.deepEqual(seen.at(-1), ['2', 'm2']);

    mirror.close();
    await store.put('app', 'b', { n: 3 });
    await mirror.settled(await store.revision());
    assert.equal(seen.length, 3, 'no rebuild after close');
  });

  it('with a view: a burst that leaves the view as it was rebuilds nothing', async () => {
    await store.put('task', 'v1', { state: 'started', events: 1 });
    const views: string[][] = [];
    const mirror: StoreMirror<string[]> = new StoreMirror<string[]>({
      store,
      kinds: ['task'],
      view: (): string[] => sortedBy([...mirror.values<{ state: string }>('task')].map((m) => m.state), (s) => s),
      rebuild: (view) => {
        views.push(view);
      },
    });
    await mirror.start();
    assert.equal(mirror.builds, 1);
    await store.put('task', 'v1', { state: 'started', events: 2 });
    await mirror.settled(await store.revision());
    assert.equal(mirror.builds, 1, 'only a field outside the view changed');
    await store.put('task', 'v1', { state: 'stopped', events: 2 });
    await mirror.settled(await store.revision());
    assert.equal(mirror.builds, 2);
    assert.deepEqual(views.at(-1), ['stopped']);
    mirror.close();
  });

  it('reports a failing rebuild and keeps mirroring', async () => {
    const errors: string[] = [];
    let fail = true;
    let rebuilds = 0;
    const mirror = new StoreMirror({
      store,
      kinds: ['app'],
      rebuild: () => {
        rebuilds++;
        if (fail) throw new Error('boom');
      },
      onError: (err) => errors.push(err.message),
    });
    await mirror.start();
    assert.deepEqual(errors, ['boom']);
    fail = false;
    await store.put('app', 'c', { n: 4 });
    await mirror.settled(await store.revision());
    assert.equal(rebuilds, 2);
    assert.ok([...mirror.values<{ n: number }>('app')].some((a) => a.n === 4));
    mirror.close();
  });
});
