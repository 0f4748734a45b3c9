import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { harness, json, type Harness } from './harness.js';

describe('wait', () => {
  let h: Harness;
  let id = '';
  before(async () => {
    h = await harness();
    await h.call('POST', '/v1/apps', { app_name: 'web' });
    id = String(json(await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x' } }))['id']);
  });
  after(async () => h.close());

  it('answers {ok:true} when the agent reports the state (store watch)', async () => {
    const pending = h.call('GET', `/v1/apps/web/machines/${id}/wait?state=started&timeout=10`);
    await new Promise((r) => setTimeout(r, 30));
    await h.observe(id, { state: 'starting' });
    await h.observe(id, { state: 'started' });
    const r = await pending;
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(json(r), { ok: true });
  });

  it('answers at once when the state is already reached; accepts repeated and comma-joined states', async () => {
    for (const q of ['state=started', 'state=stopped&state=started', 'state=stopped,started', 'state=settled', '']) {
      const r = await h.call('GET', `/v1/apps/web/machines/${id}/wait?${q}`);
      assert.equal(r.statusCode, 200, q);
    }
  });

  it('answers 408 on timeout (trailing s accepted)', async () => {
    const r = await h.call('GET', `/v1/apps/web/machines/${id}/wait?state=stopped&timeout=1s`);
    assert.equal(r.statusCode, 408);
    assert.match(String(json(r)['error']), /timeout/);
  });

  it('answers 400 for a bad state or timeout, 404 for an unknown machine', async () => {
    for (const q of ['state=running', 'state=started&timeout=soon', 'timeout=-1']) {
      const r = await h.call('GET', `/v1/apps/web/machines/${id}/wait?${q}`);
      assert.equal(r.statusCode, 400, q);
    }
    assert.equal((await h.call('GET', '/v1/apps/web/machines/00000000000000/wait')).statusCode, 404);
  });

  it('only counts the requested version', async () => {
    const r = await h.call('GET', `/v1/apps/web/machines/${id}/wait?state=started&version=01ARZ3NDEKTSV4RRFFQ69G5FAV&timeout=1`);
    assert.equal(r.statusCode, 408);
  });

  it('fails with `machine failed to reach desired state` when it can no longer get there', async () => {
    await h.call('POST', `/v1/apps/web/machines/${id}/stop`);
    await h.observe(id, { state: 'stopped' });
    const r = await h.call('GET', `/v1/apps/web/machines/${id}/wait?state=started&timeout=10`);
    assert.equal(r.statusCode, 412);
    assert.match(String(json(r)['error']), /machine failed to reach desired state/);
    // a pending wait learns it from the watch: the machine crashes into failed
    await h.call('POST', `/v1/apps/web/machines/${id}/start`);
    const pending = h.call('GET', `/v1/apps/web/machines/${id}/wait?state=started&timeout=10`);
    await new Promise((res) => setTimeout(res, 30));
    await h.observe(id, { state: 'failed' });
    const r2 = await pending;
    assert.equal(r2.statusCode, 412);
    assert.match(String(json(r2)['error']), /machine failed to reach desired state/);
  });

  it('waits for destroyed', async () => {
    const pending = h.call('GET', `/v1/apps/web/machines/${id}/wait?state=destroyed&timeout=10`);
    await h.call('DELETE', `/v1/apps/web/machines/${id}`);
    await h.observe(id, { state: 'destroyed' });
    assert.equal((await pending).statusCode, 200);
  });
});
