/**
 * StateStore benchmark: prints a table, asserts nothing.
 * Run: npx tsc -p tsconfig.json && node dist/bench/store.js
 *
 * The target from the store's brief: listing the 10,000 machines of one app and JSON-serializing
 * them takes well under 50 ms. The baseline row reads the same rows with a bare better-sqlite3
 * query (no entity decoding), measured in the same run on the same file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/store/sqlite/store.js';

const PER_APP = 10_000;
const APPS = 3;

function machine(app: string, i: number): Record<string, unknown> {
  return {
    id: `${app}-${i.toString(16).padStart(14, '0')}`,
    name: `machine-${i}`,
    state: 'started',
    region: ['ams', 'fra', 'iad'][i % 3],
    config: { image: `registry.local/${app}:v1`, guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 }, env: { APP: app }, services: [{ internal_port: 8080, protocol: 'tcp' }] },
  };
}

async function time<T>(fn: () => Promise<T> | T, runs = 5): Promise<{ ms: number; result: T }> {
  let best = Infinity;
  let result: T | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, result: result as T };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-bench-'));
  const path = join(dir, 'state.db');
  const rows: Array<{ op: string; ms: string; note: string }> = [];
  try {
    const store = new SqliteStore({ path });
    for (let a = 0; a < APPS; a++) {
      const app = `app${a}`;
      const t0 = performance.now();
      // Batches of 500 so each commit (one fsync) carries many writes.
      for (let start = 0; start < PER_APP; start += 500) {
        await store.apply(Array.from({ length: 500 }, (_, k) => ({ op: 'put' as const, kind: 'machine', id: `${app}-${start + k}`, value: machine(app, start + k), scope: app })));
      }
      if (a === 0) rows.push({ op: `insert ${PER_APP} machines (batches of 500)`, ms: (performance.now() - t0).toFixed(1), note: 'synchronous=FULL' });
    }
    const list = await time(async () => JSON.stringify(await store.list('machine', { scope: 'app1' })));
    rows.push({ op: `list one scope (${PER_APP}) + JSON.stringify`, ms: list.ms.toFixed(1), note: `${(list.result.length / 1e6).toFixed(1)} MB JSON, target < 50 ms` });
    const raw = new Database(path, { readonly: true });
    const baseline = await time(() => JSON.stringify(raw.prepare('SELECT id, value FROM entities WHERE kind = ? AND scope = ? ORDER BY id').all('machine', 'app1')));
    rows.push({ op: 'baseline: bare SELECT of the same rows + stringify', ms: baseline.ms.toFixed(1), note: 'no entity decoding' });
    raw.close();
    const count = await time(() => store.count('machine', { scope: 'app2' }));
    rows.push({ op: 'count one scope', ms: count.ms.toFixed(2), note: String(count.result) });
    const page = await time(() => store.list('machine', { scope: 'app1', after: 'app1-5000', limit: 100 }));
    rows.push({ op: 'list one page of 100 mid-scope', ms: page.ms.toFixed(2), note: '' });
    const single = await time(async () => {
      for (let i = 0; i < 200; i++) await store.put('machine', `app0-${i}`, machine('app0', i));
    }, 1);
    rows.push({ op: '200 single puts', ms: single.ms.toFixed(1), note: `${(single.ms / 200).toFixed(2)} ms each (one fsync each)` });
    const watch = await time(async () => {
      const w = await store.watch('machine', { scope: 'app1' });
      const first = await w[Symbol.asyncIterator]().next();
      w.close();
      return first.value?.type === 'snapshot' ? first.value.entities.length : 0;
    });
    rows.push({ op: 'watch snapshot of one scope', ms: watch.ms.toFixed(1), note: `${watch.result} entities` });
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.table(rows);
}

await main();
