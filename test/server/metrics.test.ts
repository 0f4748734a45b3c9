import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverRegistry } from '../../src/server/metrics.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

test("the server's registry counts machines by app and state at each scrape, next to Node's process metrics", async () => {
  const store = new SqliteStore({ path: ':memory:' });
  try {
    const registry = serverRegistry(store);
    await store.put('machine', 'm1', { id: 'm1', app: 'web', state: 'started' }, { scope: 'web' });
    await store.put('machine', 'm2', { id: 'm2', app: 'web', state: 'started' }, { scope: 'web' });
    await store.put('machine', 'm3', { id: 'm3', app: 'api', state: 'stopped' }, { scope: 'api' });
    const first = await registry.metrics();
    assert.match(first, /hangar_machines\{app="web",state="started"\} 2/);
    assert.match(first, /hangar_machines\{app="api",state="stopped"\} 1/);
    assert.match(first, /process_cpu_user_seconds_total/);
    await store.put('machine', 'm3', { id: 'm3', app: 'api', state: 'started' }, { scope: 'api', expectedVersion: 1 });
    const second = await registry.metrics();
    assert.match(second, /hangar_machines\{app="api",state="started"\} 1/);
    assert.doesNotMatch(second, /state="stopped"/, 'a state nobody is in any more is gone, not stuck at its old count');
  } finally {
    await store.close();
  }
});
