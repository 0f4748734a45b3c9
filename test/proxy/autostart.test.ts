/**
 * Autostart through the real proxy on real sockets (reference §1c): a starter that "starts" a
 * machine by putting it in the table (as the agent's `routing` write would), held requests,
 * more machines as soft limits are reached, `autostart: false`, failing starts, an app that
 * listens a moment after its machine is started, raw TCP, and the metrics that count it all.
 */
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { Agent, createServer, request } from 'node:http';
import { afterEach, test } from 'node:test';
import { buildRouteTable, type RouteMachine } from '../../src/core/proxy/table.js';
import type { MachineService } from '../../src/core/fly/machine-config.js';
import type { MachineStarter } from '../../src/proxy/autostart.js';
import { ProxyServer, type ProxyServerOptions } from '../../src/proxy/server.js';
import { getText, httpUpstream, raw } from './helpers.js';

const getTextAt = (port: number, agent: Agent | false = false) => getText(`http://127.0.0.1:${port}/`, 'web.localhost', agent);

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function stoppedMachine(id: string, upstreamPort: number, svc: Partial<MachineService> = {}, region = 'local'): RouteMachine {
  return {
    id,
    app: 'web',
    region,
    state: 'stopped',
    cordoned: false,
    checks: [],
    routing: null,
    config: { services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }], concurrency: { type: 'requests', soft_limit: 1, hard_limit: 10 }, ...svc }] },
  };
}

/** A proxy whose starter flips a machine to started (after `delayMs`) and republishes the table. */
async function world(machines: RouteMachine[], ports: Record<string, number>, opts: { delayMs?: number; fail?: boolean; proxy?: ProxyServerOptions } = {}) {
  const started: string[] = [];
  const publish = () => proxy.setTable(buildRouteTable([{ name: 'web' }], machines, { httpAddr: '127.0.0.1:0', httpsAddr: null, portMap: { '5999': '127.0.0.1:0' } }));
  const starter: MachineStarter = {
    async start(app, id) {
      assert.equal(app, 'web');
      started.push(id);
      if (opts.fail) throw new Error('the control plane said no');
      setTimeout(() => {
        const i = machines.findIndex((m) => m.id === id);
        machines[i] = { ...machines[i]!, state: 'started', routing: { address: '127.0.0.1', ports: { '8080': ports[id]!, '7000': ports[id]! } } };
        void publish();
      }, opts.delayMs ?? 5).unref();
    },
  };
  const errors: Error[] = [];
  const proxy = new ProxyServer({ region: 'local', starter, onError: (e) => errors.push(e), ...opts.proxy });
  closers.push(() => proxy.close());
  await publish();
  await proxy.start();
  const port = proxy.addresses().find((a) => a.spec.publicPort === 80)!.port;
  return { proxy, port, started, errors };
}

test('a request for a stopped machine starts it, is held, then answered; autostarts are counted', async () => {
  const app = await httpUpstream((_q, s) => s.end('hello from m1'));
  closers.push(() => app.server.close());
  const w = await world([stoppedMachine('m1', app.port)], { m1: app.port });
  const res = await getTextAt(w.port);
  assert.deepEqual(res, { status: 200, body: 'hello from m1' });
  assert.deepEqual(w.started, ['m1']);
  assert.equal(w.proxy.metrics.autostartCount('web'), 1);
  assert.match(await w.proxy.metrics.render(w.proxy.load), /hangar_proxy_autostarts_total\{app="web",machine="m1"\} 1/);
  // Now it runs: the next request needs no start.
  assert.equal((await getTextAt(w.port)).status, 200);
  assert.deepEqual(w.started, ['m1']);
});

test('autostart = false: 503 with a body that says why', async () => {
  const w = await world([stoppedMachine('m1', 1, { autostart: false })], {});
  const res = await getTextAt(w.port);
  assert.equal(res.status, 503);
  assert.match(res.body, /autostart is off/);
  assert.deepEqual(w.started, []);
});

test('limits: three stopped machines, soft_limit 1 → a machine is started each time the soft limit is reached', async () => {
  const release: Array<() => void> = [];
  const ups = await Promise.all(
    ['m1', 'm2', 'm3'].map((id) =>
      httpUpstream((_q, s) => {
        release.push(() => s.end(`hello from ${id}`));
      }),
    ),
  );
  for (const u of ups) closers.push(() => u.server.close());
  const ports = { m1: ups[0]!.port, m2: ups[1]!.port, m3: ups[2]!.port };
  const w = await world([stoppedMachine('m1', ports.m1), stoppedMachine('m2', ports.m2), stoppedMachine('m3', ports.m3)], ports);
  // One request at a time reaches the app (each is held there until released below), so every
  // new request finds every started machine at its soft limit of 1.
  const pending: Promise<{ status: number; body: string }>[] = [];
  for (let i = 0; i < 3; i++) {
    pending.push(getTextAt(w.port));
    while (release.length < i + 1) await new Promise((r) => setTimeout(r, 5));
    assert.equal(w.started.length, i + 1, `${i + 1} machine(s) started for ${i + 1} busy request(s)`);
  }
  // A fourth: every machine is at its soft limit and none is left to start → least loaded below hard.
  pending.push(getTextAt(w.port));
  while (release.length < 4) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual([...w.started].sort(), ['m1', 'm2', 'm3']);
  for (const r of release) r();
  const answers = await Promise.all(pending);
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
  assert.deepEqual(new Set(answers.slice(0, 3).map((a) => a.body)), new Set(['hello from m1', 'hello from m2', 'hello from m3']));
  assert.equal(w.proxy.metrics.autostartCount(), 3);
});

test('a start that fails → 503 once nothing else can start, and the error is reported', async () => {
  const w = await world([stoppedMachine('m1', 1)], {}, { fail: true });
  const res = await getTextAt(w.port);
  assert.equal(res.status, 503);
  assert.match(res.body, /none could be started/);
  assert.deepEqual(w.started, ['m1']);
  assert.equal(w.errors[0]?.name, 'ProxyAutostartError');
  assert.match(w.errors[0]!.message, /could not start machine m1 of app web: the control plane said no/);
});

test('a started machine that never routes: the held request gets a 503 after the autostart wait', async () => {
  const w = await world([stoppedMachine('m1', 1)], {}, { delayMs: 60_000, proxy: { autostartWaitMs: 150 } });
  const res = await getTextAt(w.port);
  assert.equal(res.status, 503);
  assert.match(res.body, /waited 150 ms for a machine of app 'web' to start/);
});

test('the app listens a moment after its machine routes: connection refused is retried, then 200', async () => {
  // Reserve a port, free it, and only listen on it after the machine is in the table.
  const probe = createTcpServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const appPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const w = await world([stoppedMachine('m1', appPort)], { m1: appPort });
  const answered = getTextAt(w.port);
  await new Promise((r) => setTimeout(r, 120));
  const server = createServer((_q, s) => s.end('late but here'));
  await new Promise<void>((r) => server.listen(appPort, '127.0.0.1', r));
  closers.push(() => server.close());
  assert.deepEqual(await answered, { status: 200, body: 'late but here' });
});

test('raw TCP: a connection to a stopped service starts a machine and is spliced once it runs', async () => {
  const echo: TcpServer = createTcpServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  closers.push(() => echo.close());
  const echoPort = (echo.address() as AddressInfo).port;
  const tcp: RouteMachine = { ...stoppedMachine('t1', echoPort), config: { services: [{ protocol: 'tcp', internal_port: 7000, ports: [{ port: 5999 }], concurrency: { type: 'connections', soft_limit: 5 } }] } };
  const w = await world([tcp], { t1: echoPort });
  const tcpPort = w.proxy.addresses().find((a) => a.spec.publicPort === 5999)!.port;
  const line = await raw(tcpPort, 'ping\n', (got) => got.endsWith('\n'));
  assert.equal(line, 'ping\n');
  assert.deepEqual(w.started, ['t1']);
});

test('metrics: requests by status, bytes, latency histogram and proxy answers in the Prometheus text', async () => {
  const app = await httpUpstream((q, s) => {
    s.statusCode = q.url === '/' ? 200 : 404;
    s.end('12345');
  });
  closers.push(() => app.server.close());
  const w = await world([{ ...stoppedMachine('m1', app.port), state: 'started', routing: { address: '127.0.0.1', ports: { '8080': app.port } } }], {});
  const agent = new Agent({ keepAlive: true });
  closers.push(() => agent.destroy());
  await getTextAt(w.port, agent);
  await getTextAt(w.port, agent);
  const unknown = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: w.port, path: '/', headers: { host: 'nope.localhost' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(unknown, 404);
  const text = await w.proxy.metrics.render(w.proxy.load);
  assert.match(text, /hangar_proxy_requests_total\{app="web",port="80",machine="m1",status="200"\} 2/);
  assert.match(text, /hangar_proxy_answers_total\{app="",status="404"\} 1/);
  assert.match(text, /hangar_proxy_bytes_out_total\{app="web",port="80",machine="m1"\} [1-9]\d*/);
  assert.match(text, /hangar_proxy_request_duration_seconds_count\{app="web",port="80"\} 2/);
  assert.match(text, /hangar_proxy_request_duration_seconds_bucket\{app="web",port="80",le="\+Inf"\} 2/);
  assert.match(text, /# TYPE hangar_proxy_load gauge/);
});
