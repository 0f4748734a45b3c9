import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { harness, json, type Harness } from './harness.js';

describe('auth', () => {
  let h: Harness;
  let deploy = '';
  let readonly = '';
  before(async () => {
    h = await harness();
    await h.call('POST', '/v1/apps', { app_name: 'web' });
  });
  after(async () => h.close());

  it('answers 401 without a token or with an unknown one, with a request id', async () => {
    for (const token of [null, 'nope']) {
      const r = await h.call('GET', '/v1/apps', undefined, { token });
      assert.equal(r.statusCode, 401);
      assert.ok(json(r)['error']);
      assert.match(String(r.headers['fly-request-id']), /^[0-9A-Z]{26}-ams$/);
    }
    const r = await h.app.inject({ method: 'GET', url: '/v1/apps', headers: { authorization: '   ' } });
    assert.equal(r.statusCode, 401);
  });

  it('accepts Bearer, FlyV1 and comma lists with scheme prefixes', async () => {
    for (const header of [`Bearer ${h.token}`, `FlyV1 ${h.token}`, `FlyV1 fm2_junk,${h.token}`, `Bearer Bearer ${h.token}`, `FlyV1 x, FlyV1 ${h.token}`]) {
      const r = await h.app.inject({ method: 'GET', url: '/api/v1/whoami', headers: { authorization: header } });
      assert.equal(r.statusCode, 200, header);
      assert.deepEqual(json(r), { org: 'personal', role: 'admin', token_name: 'admin' });
    }
  });

  it('creates deploy and readonly tokens (admin only)', async () => {
    let r = await h.call('POST', '/api/v1/tokens', { role: 'deploy', name: 'ci' });
    assert.equal(r.statusCode, 201);
    deploy = String(json(r)['token']);
    assert.match(deploy, /^hangar_/);
    assert.equal(json(r)['org'], 'personal');
    r = await h.call('POST', '/api/v1/tokens', { role: 'readonly' });
    readonly = String(json(r)['token']);
    assert.equal((await h.call('POST', '/api/v1/tokens', { role: 'deploy' }, { token: deploy })).statusCode, 403);
    assert.equal((await h.call('POST', '/api/v1/tokens', { role: 'admin' })).statusCode, 400);
    assert.equal((await h.call('GET', '/api/v1/whoami', undefined, { token: deploy })).json().token_name, 'ci');
  });

  it('readonly tokens may read but get 403 on writes', async () => {
    assert.equal((await h.call('GET', '/v1/apps/web', undefined, { token: readonly })).statusCode, 200);
    const r = await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x' } }, { token: readonly });
    assert.equal(r.statusCode, 403);
    assert.match(String(json(r)['error']), /read-only/);
    assert.equal((await h.call('DELETE', '/v1/apps/web', undefined, { token: readonly })).statusCode, 403);
  });

  it('deploy tokens may manage machines', async () => {
    assert.equal((await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x' } }, { token: deploy })).statusCode, 200);
  });

  it('admin-only secret values: show_secrets needs admin', async () => {
    assert.equal((await h.call('GET', '/v1/apps/web/secrets?show_secrets=true', undefined, { token: deploy })).statusCode, 403);
    assert.equal((await h.call('GET', '/v1/apps/web/secrets?show_secrets=true')).statusCode, 200);
  });

  it('unknown routes answer 404 in the error shape, outside /v1 without auth', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/nothing' });
    assert.equal(r.statusCode, 404);
    assert.ok(json(r)['error']);
    assert.ok(r.headers['fly-request-id']);
  });
});
