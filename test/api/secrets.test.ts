import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KINDS, type SecretRecord } from '../../src/core/model.js';
import { harness, json, type Harness } from './harness.js';

const VALUE = 'sup3r-s3cret-value-xyzzy';

describe('secrets', () => {
  let h: Harness;
  const logs: string[] = [];
  const responses: string[] = [];
  const call: Harness['call'] = async (...args) => {
    const r = await h.call(...args);
    responses.push(r.body);
    return r;
  };
  before(async () => {
    const stream = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
    h = await harness({ logger: { level: 'trace', stream } });
    await h.call('POST', '/v1/apps', { app_name: 'web' });
  });
  after(async () => h.close());

  it('sets secrets in bulk as one version; lists digests only', async () => {
    let r = await call('POST', '/v1/apps/web/secrets', { values: { DATABASE_URL: VALUE, OTHER: 'x' } });
    assert.equal(r.statusCode, 200, r.body);
    const body = json(r) as { version: number; secrets: Array<Record<string, unknown>> };
    assert.equal(body.version, 1);
    assert.deepEqual(body.secrets.map((s) => s['name']).sort(), ['DATABASE_URL', 'OTHER']);
    for (const s of body.secrets) assert.ok(!('value' in s) && typeof s['digest'] === 'string');
    r = await call('GET', '/v1/apps/web/secrets');
    assert.equal((json(r) as { secrets: unknown[] }).secrets.length, 2);
    assert.ok(statSync(join(h.dir, 'secrets.key')).mode % 0o1000 === 0o600);
  });

  it('stores ciphertext only, bound to its name', async () => {
    const rec = (await h.store.get<SecretRecord>(KINDS.secret, 'web:DATABASE_URL'))?.value;
    assert.ok(rec !== undefined && !rec.ciphertext.includes(VALUE));
    assert.ok(!readFileSync(join(h.dir, 'state.db')).includes(Buffer.from(VALUE)));
  });

  it('shows values only with show_secrets=true (admin)', async () => {
    const r = await h.call('GET', '/v1/apps/web/secrets/DATABASE_URL?show_secrets=true');
    assert.equal(json(r)['value'], VALUE);
    const one = await call('GET', '/v1/apps/web/secrets/DATABASE_URL');
    assert.ok(!('value' in json(one)));
  });

  it('sets one, deletes one and via null, bumping the version', async () => {
    let r = await call('POST', '/v1/apps/web/secrets/API_KEY', { value: VALUE });
    assert.equal(json(r)['version'], 2);
    assert.equal(json(r)['name'], 'API_KEY');
    r = await call('DELETE', '/v1/apps/web/secrets/API_KEY');
    assert.deepEqual(json(r), { version: 3 });
    r = await call('POST', '/v1/apps/web/secrets', { values: { OTHER: null } });
    assert.equal(json(r)['version'], 4);
    assert.equal((await call('GET', '/v1/apps/web/secrets/OTHER')).statusCode, 404);
    assert.equal((await call('DELETE', '/v1/apps/web/secrets/OTHER')).statusCode, 404);
  });

  it('rejects bad names and bodies', async () => {
    for (const body of [{ values: { '1BAD': 'x' } }, { values: { 'A-B': 'x' } }, { values: { OK: 5 } }, { values: 'x' }, {}, []]) {
      const r = await call('POST', '/v1/apps/web/secrets', body);
      assert.equal(r.statusCode, 400, JSON.stringify(body));
    }
    assert.equal((await call('POST', '/v1/apps/web/secrets/BAD-NAME', { value: 'x' })).statusCode, 400);
    assert.equal((await call('POST', '/v1/apps/web/secrets/GOOD', { value: 7 })).statusCode, 400);
  });

  it('never shows a value in a response (unless asked) or a log line', async () => {
    await call('POST', '/v1/apps/web/machines', { config: { image: 'x', env: { A: 'b' } } });
    await call('GET', '/v1/apps/web/machines');
    for (const body of responses) assert.ok(!body.includes(VALUE), body);
    assert.ok(logs.length > 0, 'the logger captured request lines');
    for (const line of logs) assert.ok(!line.includes(VALUE), line);
    for (const line of logs) assert.ok(!line.includes(h.token), 'tokens are not logged');
  });
});
