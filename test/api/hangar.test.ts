import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KINDS } from '../../src/core/model.js';
import { STREAMS, SUBJECTS } from '../../src/core/model.js';
import { harness, json, type Harness } from './harness.js';

describe('logs (/api/v1/apps/{app}/logs)', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
    await h.call('POST', '/v1/apps', { app_name: 'web' });
  });
  after(async () => h.close());

  it('answers an empty page before any stream exists', async () => {
    const r = await h.call('GET', '/api/v1/apps/web/logs');
    assert.deepEqual(json(r), { data: [], meta: { next_token: '0' } });
  });

  it('pages through the logs stream with next_token and filters by instance and region', async () => {
    await h.bus.createStream(STREAMS.logs);
    await h.bus.publish(SUBJECTS.logs('web', 'ams', 'aaaaaaaaaaaaaa'), { message: 'one', level: 'info', timestamp: '2024-01-01T00:00:00Z' });
    await h.bus.publish(SUBJECTS.logs('other', 'ams', 'bbbbbbbbbbbbbb'), { message: 'not ours' });
    await h.bus.publish(SUBJECTS.logs('web', 'fra', 'cccccccccccccc'), { message: 'two', level: 'error' });
    let r = json(await h.call('GET', '/api/v1/apps/web/logs')) as { data: Array<{ id: string; attributes: Record<string, unknown> }>; meta: { next_token: string } };
    assert.deepEqual(r.data.map((d) => d.attributes['message']), ['one', 'two']);
    assert.deepEqual(r.data[0]?.attributes, { timestamp: '2024-01-01T00:00:00Z', message: 'one', level: 'info', instance: 'aaaaaaaaaaaaaa', region: 'ams', meta: {} });
    assert.equal(r.meta.next_token, '4');
    await h.bus.publish(SUBJECTS.logs('web', 'ams', 'aaaaaaaaaaaaaa'), { message: 'three' });
    r = json(await h.call('GET', `/api/v1/apps/web/logs?next_token=${r.meta.next_token}`)) as typeof r;
    assert.deepEqual(r.data.map((d) => d.attributes['message']), ['three']);
    r = json(await h.call('GET', '/api/v1/apps/web/logs?next_token=0&region=fra')) as typeof r;
    assert.deepEqual(r.data.map((d) => d.attributes['message']), ['two']);
    r = json(await h.call('GET', '/api/v1/apps/web/logs?next_token=0&instance=aaaaaaaaaaaaaa')) as typeof r;
    assert.deepEqual(r.data.map((d) => d.attributes['message']), ['one', 'three']);
  });

  it('rejects bad queries and other orgs', async () => {
    assert.equal((await h.call('GET', '/api/v1/apps/web/logs?next_token=x')).statusCode, 400);
    assert.equal((await h.call('GET', '/api/v1/apps/web/logs?region=a.b')).statusCode, 400);
    assert.equal((await h.call('GET', '/api/v1/apps/nope/logs')).statusCode, 404);
  });
});

describe('listing 10,000 machines', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
    await h.call('POST', '/v1/apps', { app_name: 'big' });
    await h.call('POST', '/v1/apps', { app_name: 'small' });
    const template = json(await h.call('POST', '/v1/apps/big/machines', { config: { image: 'x' } }));
    const base = (await h.store.get<Record<string, unknown>>(KINDS.machine, String(template['id'])))?.value as Record<string, unknown>;
    for (let batch = 0; batch < 10; batch++) {
      const ops = [];
      for (let i = 0; i < 1000; i++) {
        const n = batch * 1000 + i;
        const id = n.toString(16).padStart(14, '0');
        const config = { image: 'x', metadata: { group: n % 2 === 0 ? 'even' : 'odd' } };
        ops.push({ op: 'put' as const, kind: KINDS.machine, id, scope: 'big', value: { ...base, id, name: `m-${n}`, config, region: n % 10 === 0 ? 'fra' : 'ams', state: n % 100 === 0 ? 'destroyed' : 'started' } });
      }
      await h.store.apply(ops);
    }
    await h.call('POST', '/v1/apps/small/machines', { config: { image: 'x' } });
  });
  after(async () => h.close());

  it('lists exactly the app’s machines, filtered', async () => {
    const list = (q = '') => h.call('GET', `/v1/apps/big/machines${q}`).then((r) => r.json() as Array<{ id: string; state: string; region: string }>);
    const all = await list();
    assert.equal(all.length, 10_001 - 100);
    assert.ok(all.every((m) => m.state !== 'destroyed'));
    assert.equal(new Set(all.map((m) => m.id)).size, all.length);
    assert.equal((await list('?include_deleted=true')).length, 10_001);
    assert.equal((await list('?region=fra')).length, 1000 - 100);
    assert.equal((await list('?metadata.group=odd')).length, 5000);
    assert.equal((await h.call('GET', '/v1/apps/small/machines').then((r) => r.json() as unknown[])).length, 1);
  });
});
