/**
 * The malformed-input battery: every route gets non-JSON, non-object JSON, wrong types for every
 * field, huge strings, unknown ids, path traversal and bad query values. Nothing may answer 5xx,
 * every error must carry a message, and invalid JSON must be a 400.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { harness, json, type Harness } from './harness.js';

type Method = NonNullable<InjectOptions['method']>;

const ROUTES: Array<[Method, string]> = [
  ['GET', '/v1/apps'], ['POST', '/v1/apps'], ['GET', '/v1/apps/{app}'],
  ['GET', '/v1/apps/{app}/machines'], ['POST', '/v1/apps/{app}/machines'], ['GET', '/v1/apps/{app}/machines/{id}'],
  ['POST', '/v1/apps/{app}/machines/{id}'], ['DELETE', '/v1/apps/{app}/machines/{id}'],
  ['POST', '/v1/apps/{app}/machines/{id}/start'], ['POST', '/v1/apps/{app}/machines/{id}/stop'],
  ['POST', '/v1/apps/{app}/machines/{id}/restart'], ['POST', '/v1/apps/{app}/machines/{id}/suspend'],
  ['POST', '/v1/apps/{app}/machines/{id}/signal'], ['GET', '/v1/apps/{app}/machines/{id}/wait'],
  ['GET', '/v1/apps/{app}/machines/{id}/lease'], ['POST', '/v1/apps/{app}/machines/{id}/lease'], ['DELETE', '/v1/apps/{app}/machines/{id}/lease'],
  ['POST', '/v1/apps/{app}/machines/{id}/cordon'], ['POST', '/v1/apps/{app}/machines/{id}/uncordon'],
  ['GET', '/v1/apps/{app}/machines/{id}/metadata'], ['POST', '/v1/apps/{app}/machines/{id}/metadata/{key}'], ['DELETE', '/v1/apps/{app}/machines/{id}/metadata/{key}'],
  ['GET', '/v1/apps/{app}/machines/{id}/events'], ['GET', '/v1/apps/{app}/machines/{id}/versions'],
  ['GET', '/v1/apps/{app}/machines/{id}/ps'], ['POST', '/v1/apps/{app}/machines/{id}/exec'],
  ['GET', '/v1/apps/{app}/volumes'], ['POST', '/v1/apps/{app}/volumes'], ['GET', '/v1/apps/{app}/volumes/{vol}'],
  ['PUT', '/v1/apps/{app}/volumes/{vol}'], ['DELETE', '/v1/apps/{app}/volumes/{vol}'], ['PUT', '/v1/apps/{app}/volumes/{vol}/extend'],
  ['GET', '/v1/apps/{app}/volumes/{vol}/snapshots'], ['POST', '/v1/apps/{app}/volumes/{vol}/snapshots'],
  ['GET', '/v1/apps/{app}/secrets'], ['POST', '/v1/apps/{app}/secrets'], ['GET', '/v1/apps/{app}/secrets/{name}'],
  ['POST', '/v1/apps/{app}/secrets/{name}'], ['DELETE', '/v1/apps/{app}/secrets/{name}'],
  ['GET', '/api/v1/whoami'], ['POST', '/api/v1/tokens'], ['GET', '/api/v1/apps/{app}/logs'],
  ['DELETE', '/v1/apps/{app}'],
];

const FIELDS = [
  'config', 'region', 'name', 'app_name', 'org_slug', 'network', 'skip_launch', 'skip_service_registration', 'skip_secrets', 'lease_ttl',
  'current_version', 'signal', 'timeout', 'force_stop', 'ttl', 'description', 'value', 'values', 'cmd', 'command', 'stdin', 'size_gb',
  'snapshot_retention', 'auto_backup_enabled', 'encrypted', 'fstype', 'snapshot_id', 'role',
];
const CONFIG_FIELDS = [
  'image', 'env', 'init', 'guest', 'size', 'restart', 'auto_destroy', 'schedule', 'mounts', 'services', 'checks', 'metadata', 'files',
  'processes', 'stop_config', 'dns', 'metrics', 'statics', 'standbys', 'rootfs',
];
const HUGE = 'x'.repeat(200_000);
const BAD_VALUES: unknown[] = [[], {}, 123, -1, 1.5, 'str', true, HUGE, [HUGE], { a: { b: [1, { c: null }] } }];
const RAW_BODIES = ['not json', '{"a":', '[1,2]', '"str"', '42', 'null', 'true', '{"__proto__":{"x":1}}', `{"x":"${'y'.repeat(5_000_000)}"}`];
const BAD_QUERIES = [
  'timeout=abc', 'timeout=-5', 'state=bogus', 'state=', 'kill=maybe', 'force=2', 'ttl=-1', 'ttl=abc', 'include_deleted=perhaps',
  'show_secrets=yes', 'next_token=abc', 'next_token=0', 'next_token=99999999999', 'region=../../etc', 'instance=ZZZ', 'org_slug=../x', 'version=%00', 'force_stop=x', 'signal=BOGUS',
  'metadata.a=b&metadata.a=c', 'state=started&state[]=x',
];

describe('malformed input battery', () => {
  let h: Harness;
  const ids: Record<string, string> = { app: 'web', key: 'k', name: 'SECRET' };
  before(async () => {
    h = await harness();
    await h.call('POST', '/v1/apps', { app_name: 'web' });
    const vol = json(await h.call('POST', '/v1/apps/web/volumes', { name: 'data' }));
    ids['vol'] = String(vol['id']);
    const m = json(await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x', mounts: [{ volume: ids['vol'], path: '/d' }] } }));
    ids['id'] = String(m['id']);
    await h.observe(ids['id'], { state: 'started' });
    await h.call('POST', '/v1/apps/web/secrets', { values: { SECRET: 'v' } });
    const host = String((await h.store.get<{ host: string }>('machine', ids['id']))?.value.host);
    h.bus.respond(`agent.${host}.*`, () => ({ exit_code: 0, stdout: '', stderr: '' }));
  });
  after(async () => h.close());

  const fill = (path: string, over: Record<string, string> = {}): string => path.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(over[k] ?? ids[k] ?? ''));

  async function send(method: Method, url: string, payload?: string): Promise<void> {
    // earlier requests of the battery stop the machine; a wait for `started` would then run its full minute
    if (url.includes('/wait')) {
      await h.observe(ids['id'] as string, { state: 'started', desired: 'started' });
      // a wait for a version that never comes runs to its timeout: keep it short
      if (!url.includes('timeout=')) url += `${url.includes('?') ? '&' : '?'}timeout=1`;
    }
    const headers: Record<string, string> = { authorization: `Bearer ${h.token}` };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const r = await h.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
    const what = `${method} ${url.slice(0, 120)} ${payload?.slice(0, 80) ?? ''}`;
    assert.ok(r.statusCode < 500, `${what} → ${r.statusCode} ${r.body.slice(0, 300)}`);
    assert.ok(r.headers['fly-request-id'], `${what}: request id`);
    if (r.statusCode >= 400) {
      const body = JSON.parse(r.body) as { error?: unknown };
      assert.ok(typeof body.error === 'string' && body.error.length > 0, `${what}: error message`);
    }
  }

  it('invalid JSON is a 400 with a message on every route', async () => {
    // Fastify does not read bodies of GET requests, so only routes that take one are checked
    for (const [method, path] of ROUTES.filter(([m]) => m !== 'GET')) {
      for (const raw of ['not json', '{"a":', '{"__proto__":{"x":1}}']) {
        const r = await h.app.inject({ method, url: fill(path), headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' }, payload: raw });
        assert.equal(r.statusCode, 400, `${method} ${path} ${raw}`);
        assert.ok((JSON.parse(r.body) as { error: string }).error);
      }
    }
  });

  it('wrong content types and oversized bodies are 4xx in the error shape', async () => {
    const r = await h.app.inject({ method: 'POST', url: '/v1/apps', headers: { authorization: `Bearer ${h.token}`, 'content-type': 'text/xml' }, payload: '<a/>' });
    assert.equal(r.statusCode, 415);
    assert.ok(json(r)['error']);
    const big = await h.app.inject({ method: 'POST', url: '/v1/apps', headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' }, payload: `{"x":"${'y'.repeat(5_000_000)}"}` });
    assert.equal(big.statusCode, 413);
    assert.ok(json(big)['error']);
  });

  it('an empty body with Content-Type: application/json is accepted', async () => {
    const r = await h.app.inject({ method: 'POST', url: fill('/v1/apps/{app}/machines/{id}/cordon'), headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' }, payload: '' });
    assert.equal(r.statusCode, 200, r.body);
  });

  it('raw bodies, wrong field types and huge strings never crash a route', async () => {
    for (const [method, path] of ROUTES.slice(0, -1)) {
      const url = fill(path);
      for (const raw of RAW_BODIES) await send(method, url, raw);
      for (const field of FIELDS) for (const bad of BAD_VALUES) await send(method, url, JSON.stringify({ [field]: bad }));
      if (path.endsWith('/machines') || path.endsWith('/machines/{id}')) {
        if (method !== 'POST') continue;
        for (const field of CONFIG_FIELDS) for (const bad of BAD_VALUES) await send(method, url, JSON.stringify({ config: { image: 'x', [field]: bad } }));
      }
    }
  });

  it('unknown ids, traversal and bad query values never crash a route', async () => {
    const odd = ['..', '../../etc/passwd', 'vol_ZZZ', '%00', 'a'.repeat(150), 'DROP TABLE', 'ünïcode', '0123456789abcd'];
    for (const [method, path] of ROUTES.slice(0, -1)) {
      for (const v of odd) {
        for (const key of ['app', 'id', 'vol', 'name', 'key']) {
          if (!path.includes(`{${key}}`)) continue;
          await send(method, fill(path, { [key]: v }));
        }
      }
      for (const q of BAD_QUERIES) await send(method, `${fill(path)}?${q}`);
    }
  });

  it('the last route (app delete) too', async () => {
    for (const q of BAD_QUERIES) await send('DELETE', `/v1/apps/web?${q}`);
    await send('DELETE', '/v1/apps/..%2F..');
  });
});
