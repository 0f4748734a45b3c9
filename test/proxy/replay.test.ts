/**
 * fly-replay end to end (reference §1c): a real `hangar server` (process driver) running
 * test/proxy/fixtures/replay-app as machines of two apps, requests through its edge proxy.
 * The app is told per request which machine answers `fly-replay` with what (see the fixture).
 * Region lists need machines in several regions, which one server host does not have: those
 * cases run against a `ProxyServer` with real upstream sockets tagged with regions, below.
 */
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteMachine } from '../../src/core/proxy/table.js';
import { freePort, REPO_ROOT, startHangarServer, type RunningServer } from '../client/hangar-server.js';
import { httpMachine, httpUpstream, raw, startProxy } from './helpers.js';

const APP_DIR = join(REPO_ROOT, 'test', 'proxy', 'fixtures', 'replay-app');

let server: RunningServer | undefined;
let proxyHost = '';
let proxyPort = 0;
let m1 = '';
let m2 = '';
let other = '';
after(() => server?.stop());

interface Echo {
  machine: string;
  app: string;
  region: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  length: number;
  sha256: string;
}

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function send(app: string, headers: Record<string, string>, opts: { method?: string; path?: string; body?: Buffer; port?: number; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: opts.host ?? proxyHost, port: opts.port ?? proxyPort, method: opts.method ?? (opts.body ? 'POST' : 'GET'), path: opts.path ?? '/', headers: { host: `${app}.localhost`, ...headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function echo(r: Reply): Echo {
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Echo;
}

async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${server!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server!.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function machine(app: string): Promise<string> {
  const m = await call('POST', `/v1/apps/${app}/machines`, {
    config: {
      image: `dir:${APP_DIR}`,
      init: { exec: [process.execPath, 'server.mjs'] },
      services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }], autostart: false, autostop: false }],
    },
  });
  const id = String(m['id']);
  await call('GET', `/v1/apps/${app}/machines/${id}/wait?state=started&timeout=30`);
  // Started is not yet listening: ask it directly until it answers.
  for (let i = 0; ; i++) {
    const r = await send(app, { 'fly-force-instance-id': id }).catch(() => undefined);
    if (r?.status === 200) break;
    if (i > 200) assert.fail(`machine ${id} of ${app} never answered: ${r?.status} ${r?.body}\n${server!.log()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  return id;
}

before(async () => {
  server = await startHangarServer({ args: ['--http-addr', '127.0.0.1:0', '--https-addr', `127.0.0.1:${await freePort()}`, '--dns-addr', '127.0.0.1:0'] });
  const at = /Edge proxy on (\S+):(\d+)/.exec(server.log());
  assert.ok(at, `the server says where the proxy listens:\n${server.log()}`);
  proxyHost = at[1]!;
  proxyPort = Number(at[2]);
  await call('POST', '/v1/apps', { app_name: 'rp', org_slug: 'personal' });
  await call('POST', '/v1/apps', { app_name: 'rpother', org_slug: 'personal' });
  m1 = await machine('rp');
  m2 = await machine('rp');
  other = await machine('rpother');
});

test('instance=<id>: the request is replayed to that machine, which sees fly-replay-src; the replaying response never reaches the client', { timeout: 120_000 }, async () => {
  const r = await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: `instance=${m2};state="from m1"` }, { path: '/x?y=1' });
  const e = echo(r);
  assert.equal(e.machine, m2);
  assert.equal(e.url, '/x?y=1');
  assert.match(e.headers['fly-replay-src']!, new RegExp(`^instance=${m1};region=${e.region};t=\\d{16};state=from m1$`));
  const t = Number(/t=(\d+)/.exec(e.headers['fly-replay-src']!)![1]) / 1000;
  assert.ok(Math.abs(Date.now() - t) < 60_000, 't is microseconds since the epoch');
  assert.equal(r.headers['fly-replay'], undefined);
  assert.match(String(r.headers['fly-request-id']), new RegExp(`-${e.region}$`));
  // A client cannot forge the proxy's replay headers.
  const plain = echo(await send('rp', { 'fly-force-instance-id': m2, 'fly-replay-src': 'instance=forged', 'fly-replay-failed': 'forged' }));
  assert.equal(plain.headers['fly-replay-src'], undefined);
  assert.equal(plain.headers['fly-replay-failed'], undefined);
});

test('app=<other app>: replayed to that app on the same port', { timeout: 60_000 }, async () => {
  const e = echo(await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: 'app=rpother' }));
  assert.equal(e.machine, other);
  assert.equal(e.app, 'rpother');
  assert.match(e.headers['fly-replay-src']!, new RegExp(`^instance=${m1};region=${e.region};t=\\d+$`));
  const none = await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: 'app=nosuchapp' });
  assert.equal(none.status, 503);
  assert.match(none.body, /fly-replay to app nosuchapp failed: app 'nosuchapp' has no HTTP service on public port 80/);
  // An app on its own network (Machines API `network` on create) is out of reach, as on Fly.
  await call('POST', '/v1/apps', { app_name: 'rpisolated', org_slug: 'personal', network: 'rp-private' });
  const isolated = await machine('rpisolated');
  assert.equal(echo(await send('rpisolated', { 'fly-force-instance-id': isolated })).machine, isolated);
  const away = await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: 'app=rpisolated' });
  assert.equal(away.status, 503);
  assert.match(away.body, /app 'rpisolated' is not in the same organization and network as app 'rp'/);
});

test('elsewhere=true: any machine but the one that asked', { timeout: 60_000 }, async () => {
  for (const [from, to] of [[m1, m2], [m2, m1]] as const) {
    const e = echo(await send('rp', { 'fly-force-instance-id': from, [`x-replay-at-${from}`]: 'elsewhere=true' }));
    assert.equal(e.machine, to);
  }
});

test('fallback=prefer_self: a target that does not exist sends the request back with fly-replay-failed; without a fallback, a 503', { timeout: 60_000 }, async () => {
  const e = echo(await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: 'instance=d8d8d8d8;fallback=prefer_self' }));
  assert.equal(e.machine, m1);
  assert.match(e.headers['fly-replay-failed']!, new RegExp(`^instance=d8d8d8d8;app=rp;replay_source=${m1};reason=no_candidate;elapsed_ms=\\d+$`));
  assert.equal(e.headers['fly-replay-src'], undefined);
  const failed = await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: 'instance=d8d8d8d8' });
  assert.equal(failed.status, 503);
  assert.match(failed.body, /^hangar-proxy: fly-replay to app rp, instance d8d8d8d8 failed: machine d8d8d8d8 .*is not available/);
  // A fallback request that asks for a replay again is answered as it is, not replayed.
  const again = await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: 'instance=d8d8d8d8;fallback=force_self', 'x-replay-on-fallback': '1' });
  assert.equal(again.status, 409);
  assert.equal(again.headers['fly-replay'], 'instance=d8d8d8d8;fallback=force_self');
  assert.equal(again.body, `machine ${m1} asks for a replay\n`);
});

test('JSON form with a transform: new path (query kept), headers set and deleted', { timeout: 60_000 }, async () => {
  const json = JSON.stringify({ instance: m2, transform: { path: '/rewritten', set_headers: [{ name: 'X-Tenant', value: 'acme' }], delete_headers: ['x-secret'] } });
  const e = echo(await send('rp', { 'fly-force-instance-id': m1, [`x-replay-json-at-${m1}`]: json, 'x-secret': 'hush', 'x-tenant': 'old' }, { path: '/api/thing?page=2' }));
  assert.equal(e.machine, m2);
  assert.equal(e.url, '/rewritten?page=2');
  assert.equal(e.headers['x-tenant'], 'acme');
  assert.equal(e.headers['x-secret'], undefined);
  assert.match(e.headers['fly-replay-src']!, new RegExp(`^instance=${m1};`));
  const bad = await send('rp', { 'fly-force-instance-id': m1, [`x-replay-json-at-${m1}`]: '{"instance": 42}' });
  assert.equal(bad.status, 502);
  assert.match(bad.body, new RegExp(`machine ${m1} answered with invalid fly-replay: instance must be a string`));
  const badHeader = await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: 'region=iad,ord' });
  assert.equal(badHeader.status, 502);
  assert.match(badHeader.body, /a list must be quoted/);
});

test('a POST body is replayed intact, also when the app answers before reading it; over 1 MiB the client gets a 413', { timeout: 60_000 }, async () => {
  const body = randomBytes(300 * 1024);
  const sha = createHash('sha256').update(body).digest('hex');
  for (const early of ['0', '1']) {
    const e = echo(await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: `instance=${m2}`, 'x-replay-early': early }, { body }));
    assert.equal(e.machine, m2);
    assert.equal(e.method, 'POST');
    assert.equal(e.length, body.length);
    assert.equal(e.sha256, sha, `early=${early}`);
  }
  const chunked = echo(await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: `instance=${m2}`, 'transfer-encoding': 'chunked' }, { body }));
  assert.equal(chunked.sha256, sha, 'a chunked body too');
  const big = randomBytes(1536 * 1024);
  const tooBig = await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: `instance=${m2}`, 'x-replay-early': '1' }, { body: big });
  assert.equal(tooBig.status, 413);
  assert.equal(tooBig.headers['connection'], 'close');
  assert.match(tooBig.body, new RegExp(`machine ${m1} asked for a fly-replay, but the request is larger than 1 MiB`));
  // Without a replay the same request goes through (nothing is limited but the replay).
  assert.equal(echo(await send('rp', { 'fly-force-instance-id': m1 }, { body: big })).length, big.length);
});

test('chains: a replayed-to machine may replay again; a loop ends after 5 replays with a 502', { timeout: 60_000 }, async () => {
  const e = echo(await send('rp', { 'fly-force-instance-id': m1, [`x-replay-at-${m1}`]: 'app=rpother', [`x-replay-at-${other}`]: `app=rp;instance=${m2}` }));
  assert.equal(e.machine, m2);
  assert.match(e.headers['fly-replay-src']!, new RegExp(`^instance=${other};`), 'the last machine that asked');
  const loop = await send('rp', { 'x-replay-at-rp': 'elsewhere=true' });
  assert.equal(loop.status, 502);
  assert.match(loop.body, /the request was replayed 5 times and machine \S+ asked for another fly-replay/);
  // The proxy and the machines are fine afterwards.
  assert.equal(echo(await send('rp', {})).app, 'rp');
});

// Regions, timeouts and upgrades through a ProxyServer with upstreams tagged by region.

function regionMachine(id: string, port: number, region: string, concurrency?: { hard_limit: number }): RouteMachine {
  const m = httpMachine(id, port, { type: 'requests', soft_limit: 20, ...concurrency });
  return { ...m, region };
}

test('region lists with aliases: fly-replay region=, fly-prefer-region, fly-force-region; timeout then fallback', { timeout: 30_000 }, async () => {
  const closers: (() => unknown)[] = [];
  try {
    const ups: Record<string, number> = {};
    for (const id of ['ams1', 'syd1', 'iad1']) {
      const up = await httpUpstream((req: IncomingMessage, res: ServerResponse) => {
        const replay = req.headers[`x-replay-at-${id}`];
        if (typeof replay === 'string' && req.headers['fly-replay-failed'] === undefined && req.headers['fly-replay-src'] === undefined) {
          res.writeHead(204, { 'fly-replay': replay });
          res.end();
          return;
        }
        res.end(JSON.stringify({ machine: id, src: req.headers['fly-replay-src'] ?? null, failed: req.headers['fly-replay-failed'] ?? null }));
      });
      closers.push(() => up.server.close(), () => up.server.closeAllConnections());
      ups[id] = up.port;
    }
    const { proxy, port } = await startProxy([regionMachine('ams1', ups['ams1']!, 'ams'), regionMachine('syd1', ups['syd1']!, 'syd', { hard_limit: 1 }), regionMachine('iad1', ups['iad1']!, 'iad')], { region: 'ams', distances: { ams: { iad: 80, syd: 250 } } });
    closers.push(() => proxy.close());
    const who = async (headers: Record<string, string>) => {
      const r = await send('web', headers, { host: '127.0.0.1', port });
      return r.status === 200 ? (JSON.parse(r.body) as { machine: string; src: string | null; failed: string | null }) : { machine: `${r.status} ${r.body}`, src: null, failed: null };
    };
    const from = { 'fly-force-instance-id': 'ams1' };
    assert.equal((await who({ ...from, 'x-replay-at-ams1': 'region=syd' })).machine, 'syd1');
    assert.match((await who({ ...from, 'x-replay-at-ams1': 'region=syd' })).src!, /^instance=ams1;region=ams;t=\d+$/);
    assert.equal((await who({ ...from, 'x-replay-at-ams1': 'region="sa,us,apac"' })).machine, 'iad1', 'no machine in sa: the next listed area');
    assert.equal((await who({ ...from, 'x-replay-at-ams1': 'region="apac,us"' })).machine, 'syd1', 'the listed order, not the distance');
    assert.match((await who({ ...from, 'x-replay-at-ams1': 'region=sa' })).machine, /^503 hangar-proxy: fly-replay to app web, region sa failed: no machine in region bog,eze,gru,scl\n/);
    assert.equal((await who({ ...from, 'x-replay-at-ams1': 'region="sa,any"' })).machine, 'ams1', 'any: the nearest machine when the listed regions have none');
    assert.equal((await who({ 'fly-prefer-region': 'apac' })).machine, 'syd1');
    assert.equal((await who({ 'fly-prefer-region': 'sa' })).machine, 'ams1', 'a preference falls back to the nearest');
    assert.equal((await who({ 'fly-force-region': 'usa' })).machine, 'iad1');
    assert.match((await who({ 'fly-force-region': 'sa' })).machine, /^503 /);

    // syd1 at its hard limit (its load counter as one request in flight would leave it): a
    // replay to it waits in the queue until its timeout, then goes back to ams1 with fly-replay-failed.
    proxy.load.set('syd1:8080', 1);
    const t0 = Date.now();
    const fb = await who({ ...from, 'x-replay-at-ams1': 'region=syd;timeout=300ms;fallback=force_self' });
    assert.equal(fb.machine, 'ams1');
    assert.match(fb.failed!, /^app=web;region=syd;replay_source=ams1;reason=timeout;elapsed_ms=\d+$/);
    assert.ok(Date.now() - t0 >= 250, 'it waited for the timeout');
    const noFallback = await who({ ...from, 'x-replay-at-ams1': 'region=syd;timeout=200ms' });
    assert.match(noFallback.machine, /^504 hangar-proxy: fly-replay to app web, region syd failed: no machine took it within 200 ms/);
    proxy.load.delete('syd1:8080');
  } finally {
    for (const c of closers.reverse()) await c();
  }
});

test('a WebSocket upgrade request can be replayed: the target upgrades, the replaying app did not', { timeout: 30_000 }, async () => {
  const closers: (() => unknown)[] = [];
  try {
    const a = await httpUpstream((_req, res) => res.end('not an upgrade'));
    // It answers the upgrade request with a replay instead of a 101.
    a.server.on('upgrade', (_req, sock) => sock.end('HTTP/1.1 409 Conflict\r\nfly-replay: instance=b\r\nContent-Length: 0\r\n\r\n'));
    const b = await httpUpstream((_req, res) => res.end('not an upgrade'));
    b.server.on('upgrade', (req, sock) => {
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Src: ${String(req.headers['fly-replay-src'])}\r\n\r\n`);
      sock.on('data', (d) => sock.write(d));
    });
    closers.push(() => a.server.close(), () => a.server.closeAllConnections(), () => b.server.close(), () => b.server.closeAllConnections());
    const { proxy, port } = await startProxy([httpMachine('a', a.port), httpMachine('b', b.port)]);
    closers.push(() => proxy.close());
    const out = await raw(port, 'GET /ws HTTP/1.1\r\nHost: web.localhost\r\nfly-force-instance-id: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nping-frame', (s) => s.includes('ping-frame'));
    assert.match(out, /^HTTP\/1.1 101 /);
    assert.match(out, /X-Src: instance=a;region=local;t=\d+/);
    assert.ok(out.endsWith('ping-frame'));
  } finally {
    for (const c of closers.reverse()) await c();
  }
});
