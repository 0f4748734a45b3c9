import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, json, type Harness } from './harness.js';

describe('volumes', () => {
  let h: Harness;
  let vol: Record<string, unknown> = {};
  before(async () => {
    h = await harness();
    await h.call('POST', '/v1/apps', { app_name: 'web' });
  });
  after(async () => h.close());

  it('creates a volume: record and directory, Fly defaults', async () => {
    const r = await h.call('POST', '/v1/apps/web/volumes', { name: 'data', region: 'ams', snapshot_id: null, compute: null });
    assert.equal(r.statusCode, 200, r.body);
    vol = json(r);
    assert.match(String(vol['id']), /^vol_[a-z0-9]{16}$/);
    assert.equal(vol['size_gb'], 3);
    assert.equal(vol['encrypted'], true);
    assert.equal(vol['state'], 'created');
    assert.equal(vol['snapshot_retention'], 5);
    assert.ok(!('host_path' in vol) && !('host' in vol));
    assert.ok(existsSync(join(h.dir, 'volumes', String(vol['id']))));
  });

  it('validates create bodies', async () => {
    for (const body of [{}, { name: 'Bad-Name' }, { name: 'ok', size_gb: 0 }, { name: 'ok', size_gb: 'big' }, { name: 'ok', fstype: 'zfs' }, { name: 'ok', snapshot_id: 'vs_1' }, { name: 'ok', region: 'mars' }]) {
      const r = await h.call('POST', '/v1/apps/web/volumes', body);
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, JSON.stringify(body));
      assert.ok(json(r)['error']);
    }
  });

  it('lists, gets, updates and extends (no shrinking)', async () => {
    const id = String(vol['id']);
    assert.equal((json(await h.call('GET', '/v1/apps/web/volumes')) as unknown as unknown[]).length, 1);
    assert.equal(json(await h.call('GET', `/v1/apps/web/volumes/${id}`))['name'], 'data');
    assert.equal((await h.call('GET', '/v1/apps/web/volumes/vol_nothere')).statusCode, 404);
    const u = json(await h.call('PUT', `/v1/apps/web/volumes/${id}`, { snapshot_retention: 10, auto_backup_enabled: false }));
    assert.equal(u['snapshot_retention'], 10);
    assert.equal(u['auto_backup_enabled'], false);
    const e = json(await h.call('PUT', `/v1/apps/web/volumes/${id}/extend`, { size_gb: 5 }));
    assert.equal(e['needs_restart'], false);
    assert.equal((e['volume'] as Record<string, unknown>)['size_gb'], 5);
    const shrink = await h.call('PUT', `/v1/apps/web/volumes/${id}/extend`, { size_gb: 4 });
    assert.equal(shrink.statusCode, 400);
    assert.match(String(json(shrink)['error']), /cannot shrink/);
  });

  it('snapshots copy the directory', async () => {
    const id = String(vol['id']);
    writeFileSync(join(h.dir, 'volumes', id, 'file.txt'), 'hello');
    const r = await h.call('POST', `/v1/apps/web/volumes/${id}/snapshots`);
    assert.equal(r.statusCode, 201, r.body);
    const snap = json(r);
    assert.equal(snap['size'], 5);
    assert.ok(existsSync(join(h.dir, 'snapshots', id, String(snap['id']), 'file.txt')));
    const list = json(await h.call('GET', `/v1/apps/web/volumes/${id}/snapshots`)) as unknown as Array<{ id: string }>;
    assert.deepEqual(list.map((s) => s.id), [snap['id']]);
  });

  it('refuses to delete an attached volume; deletes a free one with its directory', async () => {
    const id = String(vol['id']);
    const m = json(await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x', mounts: [{ volume: id, path: '/data' }] } }));
    const wrongRegion = await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x', mounts: [{ volume: id, path: '/data' }] }, region: 'fra' });
    assert.equal(wrongRegion.statusCode, 400);
    const r = await h.call('DELETE', `/v1/apps/web/volumes/${id}`);
    assert.equal(r.statusCode, 412);
    assert.match(String(json(r)['error']), /attached/);
    await h.call('DELETE', `/v1/apps/web/machines/${String(m['id'])}?kill=true`);
    const d = await h.call('DELETE', `/v1/apps/web/volumes/${id}`);
    assert.equal(d.statusCode, 200);
    assert.equal(json(d)['state'], 'destroyed');
    assert.ok(!existsSync(join(h.dir, 'volumes', id)));
    assert.equal((await h.call('GET', `/v1/apps/web/volumes/${id}`)).statusCode, 404);
  });
});
