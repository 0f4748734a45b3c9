import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { SQL } from '../../src/store/sqlite/schema.js';
import { StoreError } from '../../src/store/types.js';
import { nextEvent, Replica, storeConformance } from './conformance.js';

const root = mkdtempSync(join(tmpdir(), 'hangar-test-'));
let counter = 0;
const freshPath = (): string => join(root, `state-${++counter}.db`);

after(() => rmSync(root, { recursive: true, force: true }));

storeConformance('sqlite (file)', async (opts) => new SqliteStore({ path: freshPath(), synchronous: 'normal', ...opts }));
storeConformance('sqlite (:memory:)', async (opts) => new SqliteStore({ path: ':memory:', ...opts }));

function storeError(code: string, path?: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (path !== undefined) {
      assert.ok(err.message.includes(path), `message names the file: ${err.message}`);
      assert.equal(err.path, path);
    }
    return true;
  };
}

/** Runs `n` CAS increments of counter/c plus one `log` entity each from a worker thread (its own connection). */
function runWriter(path: string, name: string, n: number): Promise<void> {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.module).then(async ({ SqliteStore }) => {
      const store = new SqliteStore({ path: workerData.path });
      for (let i = 0; i < workerData.n; i++) {
        for (;;) {
          const cur = await store.get('counter', 'c');
          try {
            await store.put('counter', 'c', { n: (cur ? cur.value.n : 0) + 1 }, { expectedVersion: cur ? cur.version : 0 });
            break;
          } catch (err) {
            if (err.code !== 'HANGAR_ERR_STORE_CONFLICT') throw err;
          }
        }
        await store.put('log', workerData.name + '-' + i, i, { scope: workerData.name });
      }
      await store.close();
      parentPort.postMessage('done');
    });`;
  const module = new URL('../../src/store/sqlite/store.js', import.meta.url).href;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { module, path, name, n } });
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (c) => (c === 0 ? resolve() : reject(new Error(`writer ${name} exited ${c}`))));
  });
}

describe('SqliteStore', () => {
  it('keeps entities, versions and the revision across close and reopen', async () => {
    const path = freshPath();
    const a = new SqliteStore({ path });
    await a.put('app', 'web', { v: 1 }, { scope: 'org' });
    await a.put('app', 'web', { v: 2 });
    await a.put('app', 'tmp', {});
    await a.delete('app', 'tmp');
    await a.close();
    assert.equal(existsSync(`${path}-wal`), false, 'close checkpoints and releases the WAL');
    const b = new SqliteStore({ path });
    const web = await b.get('app', 'web');
    assert.equal(web?.version, 2);
    assert.equal(web?.scope, 'org');
    assert.deepEqual(web?.value, { v: 2 });
    assert.equal(await b.get('app', 'tmp'), undefined);
    assert.equal(await b.revision(), 4);
    assert.equal((await b.put('app', 'web', { v: 3 }, { expectedVersion: 2 })).revision, 5);
    await b.close();
  });

  it('serializes concurrent writers on two connections with no lost update, and another instance watches them by polling', async () => {
    const path = freshPath();
    const watcherStore = new SqliteStore({ path, pollIntervalMs: 5 });
    const w = await watcherStore.watch(['counter', 'log']);
    const replica = new Replica();
    const it = w[Symbol.asyncIterator]();
    replica.apply(await nextEvent(it));
    const n = 150;
    await Promise.all([runWriter(path, 'one', n), runWriter(path, 'two', n)]);
    const check = new SqliteStore({ path });
    const c = await check.get<{ n: number }>('counter', 'c');
    assert.equal(c?.value.n, 2 * n);
    assert.equal(c?.version, 2 * n);
    assert.equal(await check.count('log', { scope: 'one' }), n);
    assert.equal(await check.count('log', { scope: 'two' }), n);
    const final = await check.revision();
    assert.equal(final, 4 * n);
    while (replica.revision < final) replica.apply(await nextEvent(it));
    assert.deepEqual(replica.sorted(), [...(await check.list('counter')), ...(await check.list('log'))]);
    w.close();
    await check.close();
    await watcherStore.close();
  });

  it('gives a polling watcher a fresh snapshot when another instance compacted past it', async () => {
    const path = freshPath();
    const writer = new SqliteStore({ path, changeRetention: 3 });
    const reader = new SqliteStore({ path, pollIntervalMs: 5 });
    await writer.put('machine', 'm0', 0);
    const w = await reader.watch('machine');
    const it = w[Symbol.asyncIterator]();
    const first = await nextEvent(it);
    assert.equal(first.type, 'snapshot');
    // A single transaction, so the reader cannot poll half-way through it.
    await writer.apply(Array.from({ length: 8 }, (_, i) => ({ op: 'put' as const, kind: 'machine', id: `m${i + 1}`, value: i })));
    const ev = await nextEvent(it);
    assert.ok(ev.type === 'snapshot');
    assert.equal(ev.reason, 'compacted');
    assert.equal(ev.entities.length, 9);
    await writer.put('machine', 'm0', 1);
    const put = await nextEvent(it);
    assert.ok(put.type === 'put');
    assert.equal(put.entity.version, 2);
    w.close();
    await reader.close();
    await writer.close();
  });

  it('re-snapshots a watcher whose consumer fell behind its buffer', async () => {
    const store = new SqliteStore({ path: ':memory:', maxWatchBuffer: 3 });
    const w = await store.watch('machine');
    const it = w[Symbol.asyncIterator]();
    assert.equal((await nextEvent(it)).type, 'snapshot');
    for (let i = 0; i < 10; i++) await store.put('machine', `m${i}`, i);
    const ev = await nextEvent(it);
    assert.ok(ev.type === 'snapshot');
    assert.equal(ev.reason, 'overflow');
    assert.equal(ev.revision, 10);
    assert.equal(ev.entities.length, 10);
    await store.put('machine', 'm0', 'again');
    const next = await nextEvent(it);
    assert.ok(next.type === 'put');
    assert.equal(next.revision, 11);
    await store.close();
  });

  it('lists one scope through the (kind, scope, id) index, without sorting', () => {
    const path = freshPath();
    const store = new SqliteStore({ path });
    const db = new Database(path, { readonly: true });
    const plan = (sql: string, ...args: unknown[]): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    const scoped = plan(SQL.listScope, 'machine', 'web', '', 100);
    assert.match(scoped, /USING (COVERING )?INDEX entities_by_scope/);
    assert.doesNotMatch(scoped, /TEMP B-TREE/);
    assert.match(plan(SQL.countScope, 'machine', 'web'), /INDEX entities_by_scope/);
    const all = plan(SQL.listAll, 'machine', '', 100);
    assert.match(all, /USING INDEX/);
    assert.doesNotMatch(all, /TEMP B-TREE/);
    assert.match(plan(SQL.changesAfter, 0, 100), /USING INTEGER PRIMARY KEY/);
    db.close();
    return store.close();
  });

  describe('errors name the file and leave nothing half-written', () => {
    it('refuses a file that is not a SQLite database', () => {
      const path = freshPath();
      writeFileSync(path, 'this is not a database, it is a text file that is long enough to have a header'.repeat(50));
      assert.throws(() => new SqliteStore({ path }), storeError('HANGAR_ERR_STORE_CORRUPT', path));
      assert.match(readFileSync(path, 'utf8'), /^this is not a database/, 'the file is left untouched');
    });

    it('refuses a SQLite database that is not a Hangar store', () => {
      const path = freshPath();
      const db = new Database(path);
      db.exec('CREATE TABLE users (name TEXT)');
      db.close();
      assert.throws(() => new SqliteStore({ path }), (err: unknown) => storeError('HANGAR_ERR_STORE_CORRUPT', path)(err) && /not a Hangar state store/.test((err as Error).message));
    });

    it('reports a damaged store file as corrupt', async () => {
      const path = freshPath();
      const store = new SqliteStore({ path });
      for (let i = 0; i < 200; i++) await store.put('machine', `m${i}`, { pad: 'p'.repeat(500) }, { scope: 'web' });
      await store.close();
      // Overwrite everything after the first page (the header stays valid, the b-trees do not).
      const fd = openSync(path, 'r+');
      writeSync(fd, Buffer.alloc(64 * 1024, 0xa5), 0, 64 * 1024, 4096);
      closeSync(fd);
      let err: unknown;
      try {
        const reopened = new SqliteStore({ path });
        try {
          await reopened.list('machine', { scope: 'web' });
        } finally {
          await reopened.close();
        }
      } catch (e) {
        err = e;
      }
      assert.ok(storeError('HANGAR_ERR_STORE_CORRUPT', path)(err));
    });

    it('names the missing directory', () => {
      const path = join(root, 'no-such-dir', 'state.db');
      assert.throws(() => new SqliteStore({ path }), storeError('HANGAR_ERR_STORE_IO', path));
      assert.equal(existsSync(join(root, 'no-such-dir')), false);
    });

    it('reports a read-only directory', (t) => {
      const dir = join(root, `ro-${++counter}`);
      mkdirSync(dir);
      const path = join(dir, 'state.db');
      // root ignores permission bits; the immutable attribute stops root too where the fs has it.
      const asRoot = process.getuid?.() === 0;
      try {
        if (asRoot) execFileSync('chattr', ['+i', dir], { stdio: 'ignore' });
        else chmodSync(dir, 0o555);
      } catch {
        t.skip('cannot make a directory read-only here (root without chattr support)');
        return;
      }
      try {
        assert.throws(() => new SqliteStore({ path }), storeError('HANGAR_ERR_STORE_IO', path));
        assert.equal(existsSync(path), false);
      } finally {
        if (asRoot) execFileSync('chattr', ['-i', dir], { stdio: 'ignore' });
        else chmodSync(dir, 0o755);
      }
    });

    it('reports a full disk (SQLITE_FULL) and rolls the write back', async () => {
      const path = freshPath();
      const store = new SqliteStore({ path, maxSizeBytes: 256 * 1024 });
      await store.put('app', 'small', { v: 1 });
      const before = await store.revision();
      await assert.rejects(store.put('app', 'small', { v: 2, blob: 'x'.repeat(1024 * 1024) }), (err: unknown) => storeError('HANGAR_ERR_STORE_IO', path)(err) && /full/.test((err as Error).message));
      await assert.rejects(
        store.apply([
          { op: 'put', kind: 'app', id: 'other', value: 1 },
          { op: 'put', kind: 'app', id: 'big', value: 'y'.repeat(1024 * 1024) },
        ]),
        storeError('HANGAR_ERR_STORE_IO', path),
      );
      assert.equal(await store.revision(), before);
      assert.deepEqual((await store.get('app', 'small'))?.value, { v: 1 });
      assert.equal(await store.get('app', 'other'), undefined);
      assert.equal((await store.put('app', 'small', { v: 3 }, { expectedVersion: 1 })).version, 2, 'the store still works after the failure');
      await store.close();
    });

    it('refuses bad options before touching the file', () => {
      const path = freshPath();
      assert.throws(() => new SqliteStore({ path, changeRetention: 0 }), storeError('HANGAR_ERR_STORE_INVALID'));
      assert.throws(() => new SqliteStore({ path, pollIntervalMs: -1 }), storeError('HANGAR_ERR_STORE_INVALID'));
      assert.equal(existsSync(path), false);
    });
  });
});

