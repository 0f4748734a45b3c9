/**
 * The StateStore conformance suite: every implementation (SQLite now, PostgreSQL later) runs it
 * through `storeConformance(name, factory)`. It checks the contract written in
 * src/store/types.ts and nothing implementation-specific.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import {
  StoreConflictError,
  StoreError,
  type Entity,
  type StateStore,
  type StoreWatcher,
  type WatchEvent,
} from '../../src/store/types.js';

/** Options a suite may ask a factory for. */
export interface StoreFactoryOptions {
  /** Keep only this many latest changes in the change log. */
  readonly changeRetention?: number;
}

/** Makes a fresh, empty store. The suite closes every store it gets. */
export type StoreFactory = (opts: StoreFactoryOptions) => Promise<StateStore>;

/** Reads the next watch event; fails instead of hanging when an expected event never comes (a guard, not a timing assertion). */
export async function nextEvent<T>(it: AsyncIterator<WatchEvent<T>>): Promise<WatchEvent<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no watch event within 10 s')), 10_000);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    assert.equal(r.done, false, 'watcher ended unexpectedly');
    return r.value as WatchEvent<T>;
  } finally {
    clearTimeout(timer);
  }
}

function isConflict(expected: number, actual: number, opIndex?: number) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof StoreConflictError, `expected StoreConflictError, got ${String(err)}`);
    assert.equal(err.code, 'HANGAR_ERR_STORE_CONFLICT');
    assert.equal(err.expectedVersion, expected);
    assert.equal(err.actualVersion, actual);
    assert.equal(err.opIndex, opIndex);
    return true;
  };
}

function isStoreError(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

/** Replays watch events into a table, checking the no-gap/no-duplicate guarantees on the way. */
export class Replica {
  readonly table = new Map<string, Entity>();
  revision = -1;

  apply(ev: WatchEvent): void {
    if (ev.type === 'snapshot') {
      assert.ok(ev.revision >= this.revision, 'a snapshot never goes back in time');
      this.table.clear();
      for (const e of ev.entities) this.table.set(`${e.kind}/${e.id}`, e);
      this.revision = ev.revision;
      return;
    }
    assert.ok(ev.revision > this.revision, `revision ${ev.revision} after ${this.revision}: duplicate or out of order`);
    this.revision = ev.revision;
    const key = `${ev.entity.kind}/${ev.entity.id}`;
    const had = this.table.get(key);
    if (ev.type === 'put') {
      // Versions go up by exactly one per write: a skipped version would be a missed change.
      assert.equal(ev.entity.version, (had?.version ?? 0) + 1, `gap before ${key} v${ev.entity.version}`);
      assert.equal(ev.entity.revision, ev.revision);
      this.table.set(key, ev.entity);
    } else {
      assert.equal(had?.version, ev.entity.version, `delete of ${key} does not follow its last version`);
      this.table.delete(key);
    }
  }

  sorted(): Entity[] {
    return [...this.table.values()].sort((a, b) => (a.kind === b.kind ? (a.id < b.id ? -1 : 1) : a.kind < b.kind ? -1 : 1));
  }
}

/** Registers the conformance suite for one StateStore implementation. */
export function storeConformance(name: string, factory: StoreFactory): void {
  async function withStore(fn: (s: StateStore) => Promise<void>, opts: StoreFactoryOptions = {}): Promise<void> {
    const store = await factory(opts);
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  }

  describe(`StateStore conformance: ${name}`, () => {
    describe('compare-and-set', () => {
      it('creates with expectedVersion 0 and refuses a second create', () =>
        withStore(async (s) => {
          const e = await s.put('app', 'web', { n: 1 }, { expectedVersion: 0 });
          assert.equal(e.version, 1);
          assert.equal(e.kind, 'app');
          assert.equal(e.id, 'web');
          assert.deepEqual(e.value, { n: 1 });
          assert.equal(e.createdAt, e.updatedAt);
          assert.match(e.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          await assert.rejects(s.put('app', 'web', { n: 2 }, { expectedVersion: 0 }), isConflict(0, 1));
          assert.deepEqual((await s.get('app', 'web'))?.value, { n: 1 });
        }));

      it('updates only at the expected version, incrementing it by one', () =>
        withStore(async (s) => {
          await s.put('app', 'web', { n: 1 });
          const v2 = await s.put('app', 'web', { n: 2 }, { expectedVersion: 1 });
          assert.equal(v2.version, 2);
          await assert.rejects(s.put('app', 'web', { n: 3 }, { expectedVersion: 1 }), isConflict(1, 2));
          await assert.rejects(s.put('app', 'web', { n: 3 }, { expectedVersion: 7 }), isConflict(7, 2));
          const v3 = await s.put('app', 'web', { n: 3 });
          assert.equal(v3.version, 3);
          assert.equal(v3.createdAt, v2.createdAt);
          assert.ok(v3.updatedAt >= v2.updatedAt);
          const got = await s.get('app', 'web');
          assert.deepEqual(got, v3);
        }));

      it('refuses to update a missing entity at version N', () =>
        withStore(async (s) => {
          await assert.rejects(s.put('app', 'ghost', {}, { expectedVersion: 1 }), isConflict(1, 0));
          assert.equal(await s.get('app', 'ghost'), undefined);
        }));

      it('deletes with and without expectedVersion, and re-creates from version 1', () =>
        withStore(async (s) => {
          await s.put('vol', 'a', { size: 1 });
          await s.put('vol', 'a', { size: 2 });
          await assert.rejects(s.delete('vol', 'a', { expectedVersion: 1 }), isConflict(1, 2));
          assert.equal((await s.get('vol', 'a'))?.version, 2);
          const gone = await s.delete('vol', 'a', { expectedVersion: 2 });
          assert.deepEqual(gone?.value, { size: 2 });
          assert.equal(gone?.version, 2);
          assert.equal(await s.get('vol', 'a'), undefined);
          assert.equal(await s.delete('vol', 'a'), undefined);
          await assert.rejects(s.delete('vol', 'a', { expectedVersion: 2 }), isConflict(2, 0));
          const again = await s.put('vol', 'a', { size: 3 }, { expectedVersion: 0 });
          assert.equal(again.version, 1);
          const b = await s.put('vol', 'b', { keep: 'me' });
          assert.deepEqual(await s.delete('vol', 'b'), b);
        }));

      it('assigns one global revision per change and none to failed or empty writes', () =>
        withStore(async (s) => {
          assert.equal(await s.revision(), 0);
          const a = await s.put('app', 'a', 1);
          const b = await s.put('machine', 'm', 2);
          assert.equal(a.revision, 1);
          assert.equal(b.revision, 2);
          await assert.rejects(s.put('app', 'a', 3, { expectedVersion: 0 }));
          assert.equal(await s.delete('app', 'missing'), undefined);
          assert.equal(await s.revision(), 2);
          await s.delete('app', 'a');
          assert.equal(await s.revision(), 3);
          assert.equal((await s.get('machine', 'm'))?.revision, 2);
        }));

      it('keeps kinds apart: the same id in two kinds is two entities', () =>
        withStore(async (s) => {
          await s.put('app', 'x', 'app');
          await s.put('machine', 'x', 'machine');
          assert.equal((await s.get('app', 'x'))?.value, 'app');
          assert.equal((await s.get('machine', 'x'))?.value, 'machine');
          await s.delete('app', 'x');
          assert.equal((await s.get('machine', 'x'))?.version, 1);
        }));
    });

    describe('values and arguments', () => {
      it('stores a copy: later mutation of the caller object does not leak in', () =>
        withStore(async (s) => {
          const value = { list: [1, 2], nested: { ok: true, none: null }, text: 'ünïcødé ✓' };
          const put = await s.put('app', 'a', value);
          value.list.push(3);
          assert.deepEqual(put.value, { list: [1, 2], nested: { ok: true, none: null }, text: 'ünïcødé ✓' });
          assert.deepEqual((await s.get('app', 'a'))?.value, put.value);
        }));

      it('refuses values JSON cannot carry', () =>
        withStore(async (s) => {
          const cyclic: Record<string, unknown> = {};
          cyclic.self = cyclic;
          for (const bad of [undefined, () => 1, 10n, cyclic]) {
            await assert.rejects(s.put('app', 'a', bad), isStoreError('HANGAR_ERR_STORE_INVALID'));
          }
          assert.equal(await s.revision(), 0);
        }));

      it('refuses empty names, bad versions and bad limits', () =>
        withStore(async (s) => {
          const invalid = isStoreError('HANGAR_ERR_STORE_INVALID');
          await assert.rejects(s.put('', 'a', 1), invalid);
          await assert.rejects(s.put('app', '', 1), invalid);
          await assert.rejects(s.get('app', ''), invalid);
          await assert.rejects(s.put('app', 'a', 1, { expectedVersion: -1 }), invalid);
          await assert.rejects(s.put('app', 'a', 1, { expectedVersion: 1.5 }), invalid);
          await assert.rejects(s.put('app', 'a', 1, { scope: '' }), invalid);
          await assert.rejects(s.list('app', { limit: 0 }), invalid);
          await assert.rejects(s.watch([]), invalid);
          await assert.rejects(s.apply([{ op: 'nope' } as never]), invalid);
        }));

      it('round-trips a 1 MB JSON value through put, get, list and watch', () =>
        withStore(async (s) => {
          const big = { blob: 'x'.repeat(1024 * 1024), items: Array.from({ length: 1000 }, (_, i) => ({ i, s: `item-${i}` })) };
          const w = await s.watch('blob');
          const it = w[Symbol.asyncIterator]();
          await nextEvent(it);
          await s.put('blob', 'big', big);
          assert.deepEqual((await s.get('blob', 'big'))?.value, big);
          assert.deepEqual((await s.list('blob'))[0]?.value, big);
          const ev = await nextEvent(it);
          assert.equal(ev.type, 'put');
          assert.deepEqual(ev.type === 'put' ? ev.entity.value : undefined, big);
          w.close();
        }));
    });

    describe('scopes, listing and pagination', () => {
      it('lists and counts one scope, keeping the scope on updates', () =>
        withStore(async (s) => {
          await s.put('machine', 'm1', 1, { scope: 'web' });
          await s.put('machine', 'm2', 2, { scope: 'api' });
          await s.put('machine', 'm3', 3, { scope: 'web' });
          await s.put('machine', 'm4', 4);
          const upd = await s.put('machine', 'm1', 10);
          assert.equal(upd.scope, 'web');
          assert.deepEqual((await s.list('machine', { scope: 'web' })).map((e) => e.id), ['m1', 'm3']);
          assert.equal(await s.count('machine', { scope: 'web' }), 2);
          assert.equal(await s.count('machine', { scope: 'none' }), 0);
          assert.equal(await s.count('machine'), 4);
          assert.equal((await s.get('machine', 'm4'))?.scope, undefined);
          assert.equal('scope' in ((await s.get('machine', 'm4')) ?? {}), false);
        }));

      it('lists ids and versions without values, per scope and per kind', () =>
        withStore(async (s) => {
          await s.put('machine', 'm2', 'x', { scope: 'web' });
          await s.put('machine', 'm1', 'y', { scope: 'web' });
          await s.put('machine', 'm1', 'z');
          await s.put('machine', 'm3', 'w', { scope: 'api' });
          await s.put('volume', 'v1', 'q', { scope: 'web' });
          assert.deepEqual(await s.listVersions('machine', { scope: 'web' }), [
            { id: 'm1', version: 2 },
            { id: 'm2', version: 1 },
          ]);
          assert.deepEqual((await s.listVersions('machine')).map((e) => e.id), ['m1', 'm2', 'm3']);
          await s.delete('machine', 'm2');
          assert.deepEqual(await s.listVersions('machine', { scope: 'web' }), [{ id: 'm1', version: 2 }]);
          assert.deepEqual(await s.listVersions('machine', { scope: 'none' }), []);
        }));

      it('refuses to move an entity to another scope', () =>
        withStore(async (s) => {
          await s.put('machine', 'm1', 1, { scope: 'web' });
          await assert.rejects(s.put('machine', 'm1', 2, { scope: 'api' }), isStoreError('HANGAR_ERR_STORE_INVALID'));
          assert.equal((await s.put('machine', 'm1', 3, { scope: 'web' })).version, 2);
        }));

      it('sorts by id in code-point order and pages with after + limit', () =>
        withStore(async (s) => {
          const ids = ['b', '10', '9', 'a', 'B', 'é', 'aa', 'z', '1'];
          for (const id of ids) await s.put('k', id, id, { scope: 'sc' });
          await s.put('other', 'a', 0);
          const expected = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
          assert.deepEqual((await s.list('k')).map((e) => e.id), expected);
          for (const scope of [undefined, 'sc']) {
            const pages: string[][] = [];
            let after: string | undefined;
            for (;;) {
              const page = await s.list('k', { limit: 4, after, scope });
              if (page.length === 0) break;
              pages.push(page.map((e) => e.id));
              after = page[page.length - 1]?.id;
            }
            assert.deepEqual(pages, [expected.slice(0, 4), expected.slice(4, 8), expected.slice(8)]);
          }
          assert.deepEqual(await s.list('k', { scope: 'elsewhere' }), []);
          assert.deepEqual(await s.list('nothing'), []);
        }));
    });

    describe('atomic batches', () => {
      it('applies every op in order and returns their results', () =>
        withStore(async (s) => {
          await s.put('volume', 'vol_1', { attached: null });
          const before = await s.revision();
          const r = await s.apply([
            { op: 'put', kind: 'machine', id: 'm1', value: { vol: 'vol_1' }, expectedVersion: 0, scope: 'web' },
            { op: 'put', kind: 'volume', id: 'vol_1', value: { attached: 'm1' }, expectedVersion: 1 },
            { op: 'check', kind: 'app', id: 'absent', expectedVersion: 0 },
            { op: 'put', kind: 'machine', id: 'm1', value: { vol: 'vol_1', started: true }, expectedVersion: 1 },
            { op: 'delete', kind: 'volume', id: 'gone' },
          ]);
          assert.equal(r.revision, before + 3);
          assert.equal(r.results.length, 5);
          assert.equal(r.results[0]?.revision, before + 1);
          assert.equal(r.results[1]?.version, 2);
          assert.equal(r.results[2], undefined);
          assert.equal(r.results[3]?.version, 2);
          assert.equal(r.results[3]?.scope, 'web');
          assert.equal(r.results[4], undefined);
          assert.deepEqual((await s.get('machine', 'm1'))?.value, { vol: 'vol_1', started: true });
        }));

      it('writes nothing when one guard fails, and says which op failed', () =>
        withStore(async (s) => {
          await s.put('volume', 'vol_1', { attached: null });
          await s.put('app', 'web', {});
          const before = await s.revision();
          await assert.rejects(
            s.apply([
              { op: 'put', kind: 'machine', id: 'm1', value: {}, expectedVersion: 0 },
              { op: 'delete', kind: 'app', id: 'web' },
              { op: 'put', kind: 'volume', id: 'vol_1', value: { attached: 'm1' }, expectedVersion: 5 },
            ]),
            isConflict(5, 1, 2),
          );
          await assert.rejects(
            s.apply([
              { op: 'put', kind: 'machine', id: 'm1', value: {} },
              { op: 'check', kind: 'app', id: 'web', expectedVersion: 0 },
            ]),
            isConflict(0, 1, 1),
          );
          await assert.rejects(
            s.apply([
              { op: 'put', kind: 'machine', id: 'm1', value: {} },
              { op: 'put', kind: 'machine', id: 'm2', value: 1n },
            ]),
            isStoreError('HANGAR_ERR_STORE_INVALID'),
          );
          assert.equal(await s.revision(), before);
          assert.equal(await s.get('machine', 'm1'), undefined);
          assert.equal((await s.get('app', 'web'))?.version, 1);
          assert.deepEqual((await s.get('volume', 'vol_1'))?.value, { attached: null });
        }));

      it('lets later ops see earlier ones in the same batch', () =>
        withStore(async (s) => {
          await assert.rejects(
            s.apply([
              { op: 'put', kind: 'k', id: 'a', value: 1, expectedVersion: 0 },
              { op: 'put', kind: 'k', id: 'a', value: 2, expectedVersion: 0 },
            ]),
            isConflict(0, 1, 1),
          );
          const r = await s.apply([
            { op: 'put', kind: 'k', id: 'a', value: 1, expectedVersion: 0 },
            { op: 'delete', kind: 'k', id: 'a', expectedVersion: 1 },
            { op: 'check', kind: 'k', id: 'a', expectedVersion: 0 },
          ]);
          assert.equal(r.revision, 2);
          assert.equal(await s.get('k', 'a'), undefined);
        }));

      it('shows a batch to watchers as consecutive changes', () =>
        withStore(async (s) => {
          const w = await s.watch(['a', 'b']);
          const it = w[Symbol.asyncIterator]();
          await nextEvent(it);
          await s.apply([
            { op: 'put', kind: 'a', id: '1', value: 1 },
            { op: 'put', kind: 'b', id: '2', value: 2 },
            { op: 'put', kind: 'c', id: '3', value: 3 },
            { op: 'delete', kind: 'a', id: '1' },
          ]);
          const seen = [await nextEvent(it), await nextEvent(it), await nextEvent(it)];
          assert.deepEqual(seen.map((e) => [e.type, e.revision]), [['put', 1], ['put', 2], ['delete', 4]]);
          w.close();
        }));
    });

    describe('watch', () => {
      it('yields a snapshot, then each change in revision order', () =>
        withStore(async (s) => {
          await s.put('machine', 'm2', { n: 2 });
          await s.put('machine', 'm1', { n: 1 });
          await s.put('app', 'web', {});
          const w = await s.watch('machine');
          const it = w[Symbol.asyncIterator]();
          const snap = await nextEvent(it);
          assert.equal(snap.type, 'snapshot');
          assert.ok(snap.type === 'snapshot');
          assert.equal(snap.reason, 'initial');
          assert.equal(snap.revision, 3);
          assert.deepEqual(snap.entities.map((e) => e.id), ['m1', 'm2']);
          await s.put('machine', 'm1', { n: 10 });
          await s.put('app', 'web', { ignored: true });
          await s.delete('machine', 'm2');
          const put = await nextEvent(it);
          assert.ok(put.type === 'put');
          assert.equal(put.revision, 4);
          assert.deepEqual(put.entity.value, { n: 10 });
          assert.equal(put.entity.version, 2);
          const del = await nextEvent(it);
          assert.ok(del.type === 'delete');
          assert.equal(del.revision, 6);
          assert.equal(del.entity.id, 'm2');
          assert.deepEqual(del.entity.value, { n: 2 });
          w.close();
        }));

      it('watches several kinds and filters by scope', () =>
        withStore(async (s) => {
          await s.put('machine', 'm1', 1, { scope: 'web' });
          await s.put('machine', 'm2', 2, { scope: 'api' });
          await s.put('volume', 'v1', 3, { scope: 'web' });
          await s.put('cert', 'c1', 4, { scope: 'web' });
          const w = await s.watch(['volume', 'machine'], { scope: 'web' });
          const it = w[Symbol.asyncIterator]();
          const snap = await nextEvent(it);
          assert.ok(snap.type === 'snapshot');
          assert.deepEqual(snap.entities.map((e) => `${e.kind}/${e.id}`), ['machine/m1', 'volume/v1']);
          await s.put('machine', 'm2', 20);
          await s.put('cert', 'c1', 40);
          await s.put('volume', 'v2', 5, { scope: 'web' });
          await s.put('machine', 'm3', 6, { scope: 'web' });
          const a = await nextEvent(it);
          const b = await nextEvent(it);
          assert.deepEqual([a, b].map((e) => (e.type === 'snapshot' ? 'snapshot' : `${e.entity.kind}/${e.entity.id}`)), ['volume/v2', 'machine/m3']);
          w.close();
        }));

      it('ends on close(): a pending read resolves done, later reads too', () =>
        withStore(async (s) => {
          const w = await s.watch('machine');
          const it = w[Symbol.asyncIterator]();
          await nextEvent(it);
          const pending = it.next();
          w.close();
          assert.equal((await pending).done, true);
          await s.put('machine', 'm1', 1);
          assert.equal((await it.next()).done, true);
        }));

      it('ends when the consumer breaks out of for-await, and when the store closes', async () => {
        const store = await factory({});
        const w1 = await store.watch('machine');
        for await (const ev of w1) {
          assert.equal(ev.type, 'snapshot');
          break;
        }
        await store.put('machine', 'm1', 1);
        assert.equal((await w1[Symbol.asyncIterator]().next()).done, true);
        const w2 = await store.watch('machine');
        const it2 = w2[Symbol.asyncIterator]();
        await nextEvent(it2);
        const pending = it2.next();
        await store.close();
        assert.equal((await pending).done, true);
        await assert.rejects(store.get('machine', 'm1'), isStoreError('HANGAR_ERR_STORE_CLOSED'));
        await assert.rejects(store.put('machine', 'm1', 1), isStoreError('HANGAR_ERR_STORE_CLOSED'));
        await assert.rejects(store.watch('machine'), isStoreError('HANGAR_ERR_STORE_CLOSED'));
        await store.close();
      });

      it('has no gap and no duplicate between snapshot and changes under concurrent writes', () =>
        withStore(async (s) => {
          const writer = async (n: number): Promise<void> => {
            for (let i = 0; i < 60; i++) {
              const id = `w${n}-${i % 7}`;
              if (i % 11 === 10) await s.delete('machine', id);
              else await s.put('machine', id, { n, i }, { scope: n % 2 === 0 ? 'even' : 'odd' });
              if (i % 3 === 0) await s.put('app', `a${n}`, i);
              await tick();
            }
          };
          const writers = [0, 1, 2, 3].map(writer);
          const watchers: Array<{ w: StoreWatcher; replica: Replica; kinds: string[]; scope?: string }> = [];
          for (let k = 0; k < 6; k++) {
            await tick();
            await tick();
            const scope = k % 3 === 2 ? 'even' : undefined;
            const kinds = k % 2 === 0 ? ['machine'] : ['machine', 'app'];
            watchers.push({ w: await s.watch(kinds, scope === undefined ? {} : { scope }), replica: new Replica(), kinds, scope });
          }
          await Promise.all(writers);
          // A last write every watcher matches, so each one knows when it has caught up.
          const final = (await s.put('machine', 'zz-final', 1, { scope: 'even' })).revision;
          for (const { w, replica, kinds, scope } of watchers) {
            const it = w[Symbol.asyncIterator]();
            while (replica.revision < final) replica.apply(await nextEvent(it));
            assert.equal(replica.revision, final);
            for (const kind of kinds) {
              const want = await s.list(kind, scope === undefined ? {} : { scope });
              assert.deepEqual(replica.sorted().filter((e) => e.kind === kind), want);
            }
            w.close();
          }
        }));

      it('sends a fresh snapshot, saying why, when needed changes were compacted away', () =>
        withStore(
          async (s) => {
            await s.put('machine', 'keep', 0);
            const w = await s.watch('machine');
            const it = w[Symbol.asyncIterator]();
            await nextEvent(it);
            // One batch larger than the retention: its early changes are gone when the watcher reads.
            await s.apply(Array.from({ length: 10 }, (_, i) => ({ op: 'put' as const, kind: 'machine', id: `m${i}`, value: i })));
            const ev = await nextEvent(it);
            assert.ok(ev.type === 'snapshot');
            assert.equal(ev.reason, 'compacted');
            assert.equal(ev.revision, 11);
            assert.equal(ev.entities.length, 11);
            await s.put('machine', 'after', 1);
            const next = await nextEvent(it);
            assert.ok(next.type === 'put');
            assert.equal(next.revision, 12);
            assert.equal(await s.revision(), 12);
            w.close();
          },
          { changeRetention: 3 },
        ));
    });
  });
}
