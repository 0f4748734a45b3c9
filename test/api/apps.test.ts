import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KINDS } from '../../src/core/model.js';
import type { MachineRecord } from '../../src/core/machine/types.js';
import { newOrg } from '../../src/control/bootstrap.js';
import { createToken } from '../../src/control/tokens.js';
import { harness, json, type Harness } from './harness.js';

describe('apps', () => {
  let h: Harness;
  before(async () => { h = await harness(); });
  after(async () => h.close());

  it('creates an app with app_name or name and returns the full app object', async () => {
    let r = await h.call('POST', '/v1/apps', { app_name: 'one', org_slug: 'personal' });
    assert.equal(r.statusCode, 201);
    const app = json(r);
    assert.equal(app['name'], 'one');
    assert.equal(app['status'], 'pending');
    assert.deepEqual((app['organization'] as Record<string, unknown>)['slug'], 'personal');
    assert.equal(app['machine_count'], 0);
    r = await h.call('POST', '/v1/apps?wait=true', { name: 'two', org_slug: 'personal', network: 'iso' });
    assert.equal(r.statusCode, 201);
    assert.equal(json(r)['network'], 'iso');
  });

  it('answers 422 name_taken for a taken name', async () => {
    const r = await h.call('POST', '/v1/apps', { app_name: 'one', org_slug: 'personal' });
    assert.equal(r.statusCode, 422);
    assert.equal(json(r)['status'], 'name_taken');
  });

  it('rejects invalid names and a missing name with 400', async () => {
    for (const body of [{ app_name: '../etc' }, { app_name: 'UPPER' }, { app_name: 'a'.repeat(64) }, {}]) {
      const r = await h.call('POST', '/v1/apps', body);
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.ok(typeof json(r)['error'] === 'string');
    }
  });

  it('lists apps of the org', async () => {
    const r = await h.call('GET', '/v1/apps?org_slug=personal');
    assert.equal(r.statusCode, 200);
    const body = json(r);
    assert.equal(body['total_apps'], 2);
    assert.deepEqual((body['apps'] as Array<{ name: string }>).map((a) => a.name).sort(), ['one', 'two']);
  });

  it('GET answers 404 for a free name and 403 for an app of another org', async () => {
    assert.equal((await h.call('GET', '/v1/apps/free-name')).statusCode, 404);
    await h.store.put(KINDS.org, 'other', newOrg('other', Date.now()));
    const other = await createToken({ store: h.store, bus: h.bus, dataDir: h.dir, now: Date.now }, 'other', 'deploy', 'other-deploy');
    assert.equal((await h.call('POST', '/v1/apps', { app_name: 'theirs', org_slug: 'other' }, { token: other })).statusCode, 201);
    const r = await h.call('GET', '/v1/apps/theirs');
    assert.equal(r.statusCode, 403);
    assert.match(String(json(r)['error']), /another organization/);
    assert.equal((await h.call('GET', '/v1/apps?org_slug=other')).statusCode, 403);
    assert.equal((await h.call('POST', '/v1/apps', { app_name: 'mine', org_slug: 'other' })).statusCode, 403);
    assert.equal((await h.call('POST', '/v1/apps/theirs/machines', { config: { image: 'x' } })).statusCode, 403);
  });

  it('refuses to delete an app with a running machine unless force=true, which destroys it', async () => {
    const m = json(await h.call('POST', '/v1/apps/one/machines', { config: { image: 'nginx' } }));
    await h.observe(String(m['id']), { state: 'started' });
    let r = await h.call('DELETE', '/v1/apps/one');
    assert.equal(r.statusCode, 412);
    assert.match(String(json(r)['error']), /force=true/);
    r = await h.call('DELETE', '/v1/apps/one?force=true');
    assert.equal(r.statusCode, 202);
    assert.equal((await h.call('GET', '/v1/apps/one')).statusCode, 404);
    const rec = (await h.store.get<MachineRecord>(KINDS.machine, String(m['id'])))?.value;
    assert.equal(rec?.desired, 'destroyed');
  });

  it('deletes an app whose machines are stopped without force', async () => {
    const m = json(await h.call('POST', '/v1/apps/two/machines', { config: { image: 'nginx' }, skip_launch: true }));
    assert.equal(m['state'], 'created');
    assert.equal((await h.call('DELETE', '/v1/apps/two')).statusCode, 202);
    assert.equal((await h.store.get<MachineRecord>(KINDS.machine, String(m['id'])))?.value.desired, 'destroyed');
  });
});
