import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { checksOf, type CheckSpec } from '../../src/core/checks/spec.js';
import { ABORTED_OUTPUT, errorText, probe } from '../../src/checks/probe.js';
import { Limiter } from '../../src/checks/limiter.js';
import { flipHttpsServer, flipServer, type FlipServer } from './helpers.js';

const servers: FlipServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

function spec(check: Parameters<typeof checksOf>[0]['checks']): CheckSpec {
  return checksOf({ checks: check }, { floorMs: 10 })[0]!;
}

/** A port nobody listens on: bind one, note it, close it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('http probe sends method, path and headers; 2xx passes, 500 fails with a short output', async () => {
  const srv = await flipServer('ok');
  servers.push(srv);
  const s = spec({ h: { type: 'http', port: 1, method: 'put', path: '/health?x=1', headers: [{ name: 'X-Probe', values: ['yes'] }], timeout: '1s' } });
  assert.deepEqual(await probe(s, { host: '127.0.0.1', port: srv.port }), { ok: true, output: 'HTTP 200 from PUT /health?x=1' });
  const req = srv.seen.at(-1)!;
  assert.deepEqual([req.method, req.url, req.headers['x-probe'], req.headers.host], ['PUT', '/health?x=1', 'yes', `127.0.0.1:${srv.port}`]);
  srv.mode = 'fail';
  assert.deepEqual(await probe(s, { host: '127.0.0.1', port: srv.port }), { ok: false, output: 'HTTP 500 from PUT /health?x=1' });
});

test('a configured Host header wins over the default', async () => {
  const srv = await flipServer('ok');
  servers.push(srv);
  const s = spec({ h: { type: 'http', port: 1, headers: [{ name: 'Host', values: ['web.example'] }] } });
  await probe(s, { host: '127.0.0.1', port: srv.port });
  assert.equal(srv.seen.at(-1)!.headers.host, 'web.example');
});

test('refused connections and timeouts, for tcp and http', async () => {
  const port = await deadPort();
  const tcp = spec({ t: { type: 'tcp', port: 1, timeout: '200ms' } });
  assert.deepEqual(await probe(tcp, { host: '127.0.0.1', port }), { ok: false, output: 'connection refused' });
  const srv = await flipServer('hang');
  servers.push(srv);
  const http = spec({ h: { type: 'http', port: 1, timeout: '150ms' } });
  assert.deepEqual(await probe(http, { host: '127.0.0.1', port: srv.port }), { ok: false, output: 'timeout after 150ms' });
  assert.deepEqual(await probe(tcp, { host: '127.0.0.1', port: srv.port }), { ok: true, output: 'TCP connect to port 1 succeeded' });
  assert.deepEqual(await probe(http, { host: '127.0.0.1', port }), { ok: false, output: 'connection refused' });
});

test('https: a self-signed certificate fails verification unless tls_skip_verify', async () => {
  const srv = await flipHttpsServer('ok');
  servers.push(srv);
  const verify = spec({ h: { type: 'http', port: 1, protocol: 'https', tls_server_name: 'localhost', timeout: '2s' } });
  const r = await probe(verify, { host: '127.0.0.1', port: srv.port });
  assert.equal(r.ok, false);
  assert.match(r.output, /^TLS error: .*self[- ]signed/i);
  const skip = spec({ h: { type: 'http', port: 1, protocol: 'https', tls_skip_verify: true, timeout: '2s' } });
  assert.deepEqual(await probe(skip, { host: '127.0.0.1', port: srv.port }), { ok: true, output: 'HTTP 200 from GET /' });
  // plain http against a TLS port is a failure, never a pass
  const plain = spec({ h: { type: 'http', port: 1, timeout: '500ms' } });
  assert.equal((await probe(plain, { host: '127.0.0.1', port: srv.port })).ok, false);
});

test('an abort cuts a probe short; an aborted signal never connects', async () => {
  const srv = await flipServer('hang');
  servers.push(srv);
  const s = spec({ h: { type: 'http', port: 1, timeout: '10s' } });
  const ac = new AbortController();
  const running = probe(s, { host: '127.0.0.1', port: srv.port }, ac.signal);
  setTimeout(() => ac.abort(), 50);
  assert.deepEqual(await running, { ok: false, output: ABORTED_OUTPUT });
  const before = srv.seen.length;
  assert.deepEqual(await probe(s, { host: '127.0.0.1', port: srv.port }, ac.signal), { ok: false, output: ABORTED_OUTPUT });
  assert.equal(srv.seen.length, before);
});

test('errorText names common socket errors and keeps other messages', () => {
  assert.equal(errorText(Object.assign(new Error('x'), { code: 'ECONNRESET' })), 'connection reset');
  assert.equal(errorText(Object.assign(new Error('bad cert'), { code: 'CERT_HAS_EXPIRED' })), 'TLS error: bad cert');
  assert.equal(errorText(new Error('odd')), 'odd');
  assert.equal(errorText('plain'), 'plain');
});

test('Limiter runs at most N tasks at once and rejects a bad limit', async () => {
  const lim = new Limiter(2);
  let peak = 0;
  const task = () => lim.run(async () => {
    peak = Math.max(peak, lim.running);
    await new Promise((r) => setTimeout(r, 10));
  });
  await Promise.all([task(), task(), task(), task(), task()]);
  assert.equal(peak, 2);
  assert.equal(lim.running, 0);
  assert.throws(() => new Limiter(0), RangeError);
});
