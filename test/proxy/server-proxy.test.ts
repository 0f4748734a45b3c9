/**
 * The proxy's composition (src/server/proxy.ts) and `hangar proxy` (src/cli/commands/proxy.ts):
 * flag parsing and its errors, a proxy fed by a real store that routes an app and serves
 * `/metrics`, and the standalone command against a data dir.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import { MemoryBus } from '../../src/bus/memory/bus.js';
import { run as runProxyCommand, type ProxyCommandFlags } from '../../src/cli/commands/proxy.js';
import type { CommandContext } from '../../src/cli/registry.js';
import { parsePortMap, proxyOptionsFromFlags, startProxy } from '../../src/server/proxy.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { getText, httpMachine, httpUpstream } from './helpers.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

test('--proxy-port-map: public=host:port pairs; anything else is refused with the entry named', () => {
  assert.deepEqual(parsePortMap(undefined), {});
  assert.deepEqual(parsePortMap('5432=127.0.0.1:15432, 22=0.0.0.0:2222'), { '5432': '127.0.0.1:15432', '22': '0.0.0.0:2222' });
  assert.throws(() => parsePortMap('5432'), /invalid --proxy-port-map entry '5432'/);
  assert.throws(() => parsePortMap('0=127.0.0.1:1'), /invalid --proxy-port-map entry '0=127.0.0.1:1'/);
  assert.throws(() => parsePortMap('70000=127.0.0.1:1'), /invalid --proxy-port-map entry/);
});

test('proxy flags: --no-proxy, addresses, --autostop-interval as a duration (0 = off), bad durations refused', () => {
  assert.equal(proxyOptionsFromFlags({ proxy: false }), false);
  assert.deepEqual(proxyOptionsFromFlags({}), {});
  assert.deepEqual(proxyOptionsFromFlags({ httpAddr: '0.0.0.0:80', baseDomain: 'example.test', autostopInterval: '200ms', proxyPortMap: '5432=127.0.0.1:5433' }), {
    httpAddr: '0.0.0.0:80',
    baseDomain: 'example.test',
    autostopIntervalMs: 200,
    portMap: { '5432': '127.0.0.1:5433' },
  });
  assert.deepEqual(proxyOptionsFromFlags({ autostopInterval: '0' }), { autostopIntervalMs: 0 });
  assert.throws(() => proxyOptionsFromFlags({ autostopInterval: 'soon' }), /invalid --autostop-interval 'soon'/);
});

test('startProxy: routes <app>.localhost from the store, serves the metrics text, closes idempotently', async () => {
  const app = await httpUpstream((_q, s) => s.end('from the store'));
  closers.push(() => app.server.close());
  const store = new SqliteStore({ path: ':memory:' });
  const bus = new MemoryBus();
  closers.push(() => store.close(), () => bus.close());
  await store.put('app', 'web', { name: 'web' }, { scope: 'org' });
  await store.put('machine', 'm1', { ...httpMachine('m1', app.port), events: [] }, { scope: 'web' });
  const logs: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-test-proxy-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const running = await startProxy({ store, bus, dataDir, region: 'tst', httpAddr: '127.0.0.1:0', httpsAddr: '127.0.0.1:0', autostopIntervalMs: 0, log: (_l, m) => logs.push(m) });
  closers.push(() => running.close());
  assert.ok(running.httpUrl);
  assert.match(logs.join('\n'), /Edge proxy on 127\.0\.0\.1:\d+: apps at http:\/\/<app>\.localhost:\d+\//);
  // The 443 stand-in terminates TLS with the local CA made under the data dir (never plaintext).
  assert.equal(running.proxy.addresses().find((a) => a.spec.publicPort === 443)?.spec.proto, 'https');
  assert.ok(existsSync(join(dataDir, 'certs', 'ca', 'root.pem')));
  assert.deepEqual(await getText(running.httpUrl!, 'web.localhost'), { status: 200, body: 'from the store' });
  const text = await running.metricsText();
  assert.match(text, /hangar_proxy_requests_total\{app="web",port="80",machine="m1",status="200"\} 1/);
  // prom-client's exposition of the hot path's buckets: cumulative, closed by +Inf, sum and count
  const buckets = [...text.matchAll(/hangar_proxy_request_duration_seconds_bucket\{app="web",port="80",le="([^"]+)"\} (\d+)/g)].map((m) => [m[1], Number(m[2])] as const);
  assert.equal(buckets.at(-1)?.[0], '+Inf');
  assert.equal(buckets.at(-1)?.[1], 1);
  assert.ok(buckets.every(([, n], i) => i === 0 || n >= buckets[i - 1]![1]), 'buckets are cumulative');
  assert.match(text, /hangar_proxy_request_duration_seconds_count\{app="web",port="80"\} 1/);
  assert.match(text, /# TYPE hangar_proxy_load gauge/);
  await running.close();
  await running.close();
});

test('hangar proxy: runs against a data dir, serves /metrics, stops on SIGTERM; bad flags exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-proxy-cmd-'));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const errs: string[] = [];
  const ctx = (options: ProxyCommandFlags) =>
    ({ args: [], options, globals: {}, out: { line: (t = '') => lines.push(t), err: (t: string) => errs.push(t) } }) as unknown as CommandContext<ProxyCommandFlags>;
  assert.equal(await runProxyCommand(ctx({ dataDir: dir, proxyPortMap: 'nope' })), 1);
  assert.match(errs.join('\n'), /invalid --proxy-port-map entry 'nope'/);
  const done = runProxyCommand(ctx({ dataDir: dir, httpAddr: '127.0.0.1:0', httpsAddr: '127.0.0.1:0', metricsAddr: '127.0.0.1:0' }));
  while (!lines.some((l) => l.startsWith('Metrics on'))) await new Promise((r) => setTimeout(r, 10));
  const proxyAt = /Edge proxy on (\S+):/.exec(lines.join('\n'))?.[1];
  assert.ok(proxyAt, lines.join('\n'));
  const unknown = await getText(`http://${proxyAt}/`, 'nothing.localhost');
  assert.equal(unknown.status, 404);
  assert.match(unknown.body, /no app is configured for host 'nothing.localhost'/);
  const metricsUrl = /Metrics on (\S+)/.exec(lines.join('\n'))![1]!;
  const scraped = await getText(metricsUrl);
  assert.equal(scraped.status, 200);
  assert.match(scraped.body, /hangar_proxy_answers_total\{app="",status="404"\} 1/);
  assert.equal((await getText(metricsUrl.replace('/metrics', '/other'))).status, 404);
  process.emit('SIGTERM', 'SIGTERM');
  assert.equal(await done, 0);
});
