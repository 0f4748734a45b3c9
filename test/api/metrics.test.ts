import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApi } from '../../src/api/app.js';
import { MemoryBus } from '../../src/bus/memory/bus.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

describe('GET /metrics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-test-metrics-'));
  const store = new SqliteStore({ path: ':memory:' });
  const bus = new MemoryBus();
  after(async () => {
    await store.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the Prometheus text it is given, without a token', async () => {
    let scrapes = 0;
    const api = buildApi({ store, bus, dataDir: dir, logger: false, metrics: () => `hangar_proxy_requests_total ${++scrapes}\n` });
    const first = await api.inject({ method: 'GET', url: '/metrics' });
    assert.equal(first.statusCode, 200);
    assert.match(String(first.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.equal(first.body, 'hangar_proxy_requests_total 1\n');
    assert.equal((await api.inject({ method: 'GET', url: '/metrics' })).body, 'hangar_proxy_requests_total 2\n', 'rendered per scrape');
    await api.close();
  });

  it('serves text that is rendered asynchronously (a prom-client registry)', async () => {
    const api = buildApi({ store, bus, dataDir: dir, logger: false, metrics: () => Promise.resolve('hangar_machines 3\n') });
    const res = await api.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'hangar_machines 3\n');
    await api.close();
  });

  it('is absent when nothing provides metrics', async () => {
    const api = buildApi({ store, bus, dataDir: dir, logger: false });
    assert.equal((await api.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
    await api.close();
  });
});
