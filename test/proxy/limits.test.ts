import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { createServer as netServer, connect, type AddressInfo } from 'node:net';
import { buildRouteTable } from '../../src/core/proxy/table.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { RouteFeeder } from '../../src/proxy/feeder.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { httpMachine, httpUpstream, raw, startProxy } from './helpers.js';

const closers: (() => unknown)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function getStatus(port: number, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/', agent, headers: { host: 'web.localhost' } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

async function slowApp(): Promise<{ port: number; max: () => number }> {
  let inflight = 0;
  let max = 0;
  const up = await httpUpstream((_req, res) => {
    inflight++;
    max = Math.max(max, inflight);
    setTimeout(() => {
      inflight--;
      res.end('done');
    }, 30);
  });
  closers.push(() => up.server.close(), () => up.server.closeAllConnections());
  return { port: up.port, max: () => max };
}

test('hard_limit 5: 20 concurrent slow requests, never more than 5 in flight at the app, all answered', async () => {
  const app = await slowApp();
  const { proxy, port } = await startProxy([httpMachine('m1', app.port, { type: 'requests', soft_limit: 2, hard_limit: 5 })]);
  closers.push(() => proxy.close());
  const agent = new Agent({ keepAlive: true, maxSockets: 20 });
  const results = await Promise.all(Array.from({ length: 20 }, () => getStatus(port, agent)));
  agent.destroy();
  assert.deepEqual(results.map((r) => r.status), Array(20).fill(200));
  assert.equal(app.max(), 5);
  assert.equal(proxy.load.size, 0);
});

test('queue overflow → 503 with a clear body', async () => {
  const app = await slowApp();
  const { proxy, port } = await startProxy([httpMachine('m1', app.port, { type: 'requests', soft_limit: 1, hard_limit: 1 })], { queueLength: 2 });
  closers.push(() => proxy.close());
  const agent = new Agent({ keepAlive: true, maxSockets: 10 });
  const results = await Promise.all(Array.from({ length: 6 }, () => getStatus(port, agent)));
  agent.destroy();
  const rejected = results.filter((r) => r.status === 503);
  assert.ok(rejected.length >= 1);
  assert.match(rejected[0]!.body, /at its hard limit and the queue is full/);
  assert.ok(results.filter((r) => r.status === 200).length >= 3);
});

test('raw TCP line echo through a port listener; listeners open and close as the table changes', async () => {
  const echo = netServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  closers.push(() => echo.close());
  const eport = (echo.address() as AddressInfo).port;
  const proxy = new ProxyServer({ region: 'tst' });
  closers.push(() => proxy.close());
  const tcpMachine = {
    ...httpMachine('t1', eport, undefined, 'db'),
    routing: { address: '127.0.0.1', ports: { '7000': eport } },
    config: { services: [{ protocol: 'tcp' as const, internal_port: 7000, ports: [{ port: 5999 }] }] },
  };
  const opts = { httpAddr: '127.0.0.1:0', httpsAddr: null, portMap: { '5999': '127.0.0.1:0' } };
  await proxy.setTable(buildRouteTable([{ name: 'db' }], [tcpMachine], opts));
  await proxy.start();
  const tcpPort = proxy.addresses().find((a) => a.spec.publicPort === 5999)!.port;
  const line = await raw(tcpPort, 'hello tcp\n', (got) => got.endsWith('\n'));
  assert.equal(line, 'hello tcp\n');
  await proxy.setTable(buildRouteTable([{ name: 'db' }], [], opts));
  assert.equal(proxy.addresses().find((a) => a.spec.publicPort === 5999), undefined);
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = connect(tcpPort, '127.0.0.1');
      s.on('connect', () => resolve(s.destroy()));
      s.on('error', reject);
    }),
  );
});

test('the table follows the store: machine started → routed; no-op writes rebuild nothing', async () => {
  const app = await slowApp();
  const store = new SqliteStore({ path: ':memory:' });
  closers.push(() => store.close());
  const proxy = new ProxyServer({ region: 'tst' });
  closers.push(() => proxy.close());
  const feeder = new RouteFeeder({ store, httpAddr: '127.0.0.1:0', httpsAddr: null, onTable: (t) => proxy.setTable(t) });
  closers.push(() => feeder.close());
  await feeder.start();
  await proxy.start();
  const port = proxy.addresses()[0]!.port;
  const agent = new Agent({ keepAlive: false });
  assert.equal((await getStatus(port, agent)).status, 404);
  await store.put('app', 'web', { name: 'web' }, { scope: 'org' });
  const m = { ...httpMachine('m1', app.port), events: [] as unknown[] };
  let res = await store.put('machine', 'm1', m, { scope: 'web' });
  await feeder.settled(res.revision);
  assert.equal((await getStatus(port, agent)).status, 200);
  const builds = feeder.builds;
  res = await store.put('machine', 'm1', { ...m, events: [{ id: 'x' }] });
  await feeder.settled(res.revision);
  assert.equal(feeder.builds, builds);
  res = await store.put('machine', 'm1', { ...m, state: 'stopped' });
  await feeder.settled(res.revision);
  assert.equal((await getStatus(port, agent)).status, 503);
});
