import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { harness, json, type Harness } from './harness.js';

describe('leases', () => {
  let h: Harness;
  let id = '';
  let nonce = '';
  const url = () => `/v1/apps/web/machines/${id}/lease`;
  before(async () => {
    h = await harness();
    await h.call('POST', '/v1/apps', { app_name: 'web' });
    id = String(json(await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x' } }))['id']);
  });
  after(async () => h.close());

  it('GET answers 404 `lease not found` without a lease', async () => {
    const r = await h.call('GET', url());
    assert.equal(r.statusCode, 404);
    assert.match(String(json(r)['error']), /lease not found/);
  });

  it('acquires with a body ttl → 201 and the lease', async () => {
    const r = await h.call('POST', url(), { ttl: 60, description: 'deploy' });
    assert.equal(r.statusCode, 201);
    const body = json(r) as { status: string; data: Record<string, unknown> };
    assert.equal(body.status, 'success');
    nonce = String(body.data['nonce']);
    assert.ok(nonce.length >= 16);
    assert.equal(body.data['description'], 'deploy');
    assert.equal(body.data['owner'], 'admin');
    assert.ok(Number(body.data['expires_at']) > Date.now() / 1000);
    assert.ok(body.data['version']);
  });

  it('GET shows the lease with its nonce', async () => {
    const r = await h.call('GET', url());
    assert.equal((json(r) as { data: { nonce: string } }).data.nonce, nonce);
  });

  it('another acquire (query ttl, as fly-go) gets 409', async () => {
    const r = await h.call('POST', `${url()}?ttl=30`);
    assert.equal(r.statusCode, 409);
    assert.match(String(json(r)['error']), /lease currently held by/);
  });

  it('mutations without the nonce get 409; with it they pass; metadata ignores leases', async () => {
    for (const [method, path, body] of [
      ['POST', '/stop', undefined], ['POST', '/start', undefined], ['POST', '/restart', undefined], ['POST', '/cordon', undefined],
      ['POST', '/uncordon', undefined], ['POST', '/suspend', undefined], ['POST', '', { config: { image: 'y' } }], ['DELETE', '?kill=true', undefined],
    ] as const) {
      const r = await h.call(method, `/v1/apps/web/machines/${id}${path}`, body);
      assert.equal(r.statusCode, 409, `${method} ${path}`);
      assert.match(String(json(r)['error']), /lease currently held by/);
      const wrong = await h.call(method, `/v1/apps/web/machines/${id}${path}`, body, { headers: { 'fly-machine-lease-nonce': 'wrong' } });
      assert.equal(wrong.statusCode, 409);
    }
    const ok = await h.call('POST', `/v1/apps/web/machines/${id}/cordon`, undefined, { headers: { 'fly-machine-lease-nonce': nonce } });
    assert.equal(ok.statusCode, 200);
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${id}/metadata/k`, { value: 'v' })).statusCode, 204);
  });

  it('refreshes with the nonce (200, same nonce, later expiry)', async () => {
    const before = (json(await h.call('GET', url())) as { data: { expires_at: number } }).data.expires_at;
    const r = await h.call('POST', `${url()}?ttl=600`, undefined, { headers: { 'fly-machine-lease-nonce': nonce } });
    assert.equal(r.statusCode, 200);
    const data = (json(r) as { data: { nonce: string; expires_at: number } }).data;
    assert.equal(data.nonce, nonce);
    assert.ok(data.expires_at > before);
  });

  it('release needs the header and the right nonce', async () => {
    assert.equal((await h.call('DELETE', url())).statusCode, 400);
    assert.equal((await h.call('DELETE', url(), undefined, { headers: { 'fly-machine-lease-nonce': 'nope' } })).statusCode, 409);
    const r = await h.call('DELETE', url(), undefined, { headers: { 'fly-machine-lease-nonce': nonce } });
    assert.deepEqual(json(r), { status: 'success', data: { ok: true } });
    assert.equal((await h.call('GET', url())).statusCode, 404);
    assert.equal((await h.call('DELETE', url(), undefined, { headers: { 'fly-machine-lease-nonce': nonce } })).statusCode, 404);
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${id}/uncordon`)).statusCode, 200);
  });

  it('create with lease_ttl returns the nonce on the machine', async () => {
    const m = json(await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x' }, lease_ttl: 30 }));
    assert.ok(typeof m['nonce'] === 'string');
    const mid = String(m['id']);
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${mid}/stop`)).statusCode, 409);
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${mid}/stop`, undefined, { headers: { 'fly-machine-lease-nonce': String(m['nonce']) } })).statusCode, 200);
  });

  it('rejects bad ttl values', async () => {
    for (const q of ['?ttl=abc', '?ttl=0', '?ttl=999999999']) assert.equal((await h.call('POST', `${url()}${q}`)).statusCode, 400, q);
    assert.equal((await h.call('POST', url(), { ttl: 'long' })).statusCode, 400);
  });
});
