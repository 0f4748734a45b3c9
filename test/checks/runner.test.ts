import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckRunner } from '../../src/checks/runner.js';
import type { CheckStatus, MachineRecord } from '../../src/core/machine/types.js';
import { KINDS } from '../../src/core/model.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import type { StoreWatcher } from '../../src/store/types.js';
import { flipHttpsServer, flipServer, HOST, startedMachine, startEvent, waitFor, type FlipServer } from './helpers.js';

const servers: FlipServer[] = [];
let store: SqliteStore | undefined;
let runner: CheckRunner | undefined;
let history: StoreWatcher<MachineRecord> | undefined;
/** Every `checks[]` each machine had, in write order (a watch misses no version). */
const seenChecks = new Map<string, CheckStatus[][]>();

afterEach(async () => {
  history?.close();
  seenChecks.clear();
  await runner?.close();
  await store?.close();
  runner = undefined;
  store = undefined;
});
after(async () => {
  for (const s of servers) await s.close();
});

async function setup(...machines: MachineRecord[]): Promise<{ store: SqliteStore; runner: CheckRunner }> {
  store = new SqliteStore({ path: ':memory:', pollIntervalMs: 20 });
  for (const m of machines) await store.put(KINDS.machine, m.id, m, { scope: m.app, expectedVersion: 0 });
  history = await store.watch<MachineRecord>(KINDS.machine);
  void (async (w) => {
    for await (const ev of w) {
      const recs = ev.type === 'snapshot' ? ev.entities.map((e) => e.value) : ev.type === 'put' ? [ev.entity.value] : [];
      for (const r of recs) seenChecks.set(r.id, [...(seenChecks.get(r.id) ?? []), r.checks]);
    }
  })(history);
  runner = new CheckRunner({ store, hostId: HOST, floorMs: 20 });
  await runner.start();
  return { store, runner };
}

async function server(mode: FlipServer['mode'] = 'ok'): Promise<FlipServer> {
  const s = await flipServer(mode);
  servers.push(s);
  return s;
}

async function checks(s: SqliteStore, id: string): Promise<CheckStatus[]> {
  return (await s.get<MachineRecord>(KINDS.machine, id))!.value.checks;
}

async function statusOf(s: SqliteStore, id: string, name: string): Promise<CheckStatus | undefined> {
  return (await checks(s, id)).find((c) => c.name === name);
}

/** Waits until check `name` of machine `id` has `status` (and `output` when given). */
function until(s: SqliteStore, id: string, name: string, status: CheckStatus['status'], output?: string | RegExp): Promise<CheckStatus> {
  return waitFor(`${id} ${name} ${status}`, async () => {
    const c = await statusOf(s, id, name);
    if (!c || c.status !== status) return undefined;
    if (output instanceof RegExp ? !output.test(c.output) : output !== undefined && c.output !== output) return undefined;
    return c;
  });
}

/** The distinct consecutive `status output` values check `name` of machine `id` went through. */
function transitions(id: string, name: string): string[] {
  const out: string[] = [];
  for (const list of seenChecks.get(id) ?? []) {
    const c = list.find((x) => x.name === name);
    const t = c ? `${c.status} ${c.output}` : 'absent';
    if (out.at(-1) !== t) out.push(t);
  }
  return out;
}

async function update(s: SqliteStore, id: string, fn: (r: MachineRecord) => void): Promise<void> {
  const cur = (await s.get<MachineRecord>(KINDS.machine, id))!;
  const next = structuredClone(cur.value);
  fn(next);
  await s.put(KINDS.machine, id, next, { expectedVersion: cur.version });
}

const HTTP = 'servicecheck-00-http-8080';

test('an http service check: warning during grace, then passing, critical when the app fails, passing again; no write when nothing changes', async () => {
  const app = await server('ok');
  const m = startedMachine('m1', { services: [{ protocol: 'tcp', internal_port: 8080, checks: [{ type: 'http', path: '/health', interval: '100ms', timeout: '500ms', grace_period: '300ms' }] }] }, { '8080': app.port });
  const { store: s } = await setup(m);
  const passing = await until(s, 'm1', HTTP, 'passing', 'HTTP 200 from GET /health');
  assert.deepEqual(transitions('m1', HTTP), ['absent', 'warning waiting for the first check (grace period 300ms)', 'passing HTTP 200 from GET /health']);
  assert.ok(Date.parse(passing.updated_at) >= m.events[0]!.timestamp + 300, 'the first probe waits for the grace period');

  // Steady state: probes keep running, the record does not move.
  const v1 = (await s.get(KINDS.machine, 'm1'))!.version;
  const seen = app.seen.length;
  await waitFor('three more probes', () => app.seen.length >= seen + 3);
  assert.equal((await s.get(KINDS.machine, 'm1'))!.version, v1);

  app.mode = 'fail';
  const failing = await until(s, 'm1', HTTP, 'critical', 'HTTP 500 from GET /health');
  assert.notEqual(failing.updated_at, passing.updated_at);
  app.mode = 'ok';
  await until(s, 'm1', HTTP, 'passing', 'HTTP 200 from GET /health');
  assert.deepEqual(transitions('m1', HTTP).slice(2), ['passing HTTP 200 from GET /health', 'critical HTTP 500 from GET /health', 'passing HTTP 200 from GET /health']);
  // Two transitions after the first pass: exactly two more versions of the record.
  assert.equal((await s.get(KINDS.machine, 'm1'))!.version, v1 + 2);
});

test('tcp checks and a top-level check through the routing port map; timeouts and refusals are critical', async () => {
  const app = await server('hang');
  const side = await server('ok');
  const m = startedMachine(
    'm2',
    {
      services: [{ protocol: 'tcp', internal_port: 8080, checks: [{ type: 'tcp', interval: '100ms', timeout: '200ms', grace_period: '0s' }] }],
      checks: {
        slow: { type: 'http', port: 8080, interval: '100ms', timeout: '100ms', grace_period: '0s' },
        side: { type: 'http', port: 7000, path: '/side', interval: '100ms', timeout: '500ms', grace_period: '0s' },
      },
    },
    { '8080': app.port, '7000': side.port },
  );
  const { store: s } = await setup(m);
  await until(s, 'm2', 'servicecheck-00-tcp-8080', 'passing', 'TCP connect to port 8080 succeeded');
  await until(s, 'm2', 'slow', 'critical', 'timeout after 100ms');
  await until(s, 'm2', 'side', 'passing', 'HTTP 200 from GET /side');
  await app.close();
  await until(s, 'm2', 'servicecheck-00-tcp-8080', 'critical', 'connection refused');
  assert.deepEqual((await checks(s, 'm2')).map((c) => c.name), ['servicecheck-00-tcp-8080', 'slow', 'side']);
});

test('https checks with a self-signed certificate pass with tls_skip_verify and fail without', async () => {
  const tls = await flipHttpsServer('ok');
  servers.push(tls);
  const check = (skip: boolean) => ({ type: 'http' as const, protocol: 'https', tls_skip_verify: skip, tls_server_name: 'localhost', interval: '100ms', timeout: '1s', grace_period: '0s' });
  const m = startedMachine('m3', { services: [{ protocol: 'tcp', internal_port: 443, checks: [check(true), check(false)] }] }, { '443': tls.port });
  const { store: s } = await setup(m);
  await until(s, 'm3', 'servicecheck-00-http-443', 'passing', 'HTTP 200 from GET /');
  await until(s, 'm3', 'servicecheck-01-http-443', 'critical', /^TLS error: /);
});

test('checks stop when the machine stops, say so, and restart from warning on the next start', async () => {
  const app = await server('ok');
  const m = startedMachine('m4', { services: [{ protocol: 'tcp', internal_port: 8080, checks: [{ type: 'http', interval: '100ms', timeout: '500ms', grace_period: '200ms' }] }] }, { '8080': app.port });
  const { store: s, runner: r } = await setup(m);
  await until(s, 'm4', HTTP, 'passing');
  await update(s, 'm4', (rec) => {
    rec.state = 'stopped';
    rec.routing = null;
  });
  await until(s, 'm4', HTTP, 'warning', 'machine is not running');
  await waitFor('runner lets go of m4', () => !r.machines.includes('m4'));
  const probes = app.seen.length;
  const v = (await s.get(KINDS.machine, 'm4'))!.version;
  await new Promise((res) => setTimeout(res, 350));
  assert.equal(app.seen.length, probes, 'no probes of a stopped machine');
  assert.equal((await s.get(KINDS.machine, 'm4'))!.version, v, 'no writes for a stopped machine');

  await update(s, 'm4', (rec) => {
    rec.state = 'started';
    rec.routing = { address: '127.0.0.1', ports: { '8080': app.port } };
    rec.events = [startEvent(), ...rec.events];
  });
  await until(s, 'm4', HTTP, 'passing');
  assert.deepEqual(transitions('m4', HTTP).slice(-3), ['warning machine is not running', 'warning waiting for the first check (grace period 200ms)', 'passing HTTP 200 from GET /']);
});

test('a restart (new start event while started) resets checks to warning; deleted machines are dropped', async () => {
  const app = await server('ok');
  const m = startedMachine('m5', { services: [{ protocol: 'tcp', internal_port: 8080, checks: [{ type: 'http', interval: '100ms', timeout: '500ms', grace_period: '300ms' }] }] }, { '8080': app.port });
  const { store: s, runner: r } = await setup(m);
  await until(s, 'm5', HTTP, 'passing');
  await update(s, 'm5', (rec) => {
    rec.events = [startEvent(), ...rec.events];
  });
  await waitFor('a second pass', () => transitions('m5', HTTP).length >= 5);
  assert.deepEqual(transitions('m5', HTTP), ['absent', 'warning waiting for the first check (grace period 300ms)', 'passing HTTP 200 from GET /', 'warning waiting for the first check (grace period 300ms)', 'passing HTTP 200 from GET /']);
  await s.delete(KINDS.machine, 'm5');
  await waitFor('runner drops m5', () => !r.machines.includes('m5'));
});

test('machines of other hosts are left alone; a restarted runner keeps settled results instead of flapping', async () => {
  const app = await server('ok');
  const cfg = { services: [{ protocol: 'tcp' as const, internal_port: 8080, checks: [{ type: 'http' as const, interval: '100ms', timeout: '500ms', grace_period: '0s' }] }] };
  const other = { ...startedMachine('m6', cfg, { '8080': app.port }), host: 'elsewhere' };
  const mine = startedMachine('m7', cfg, { '8080': app.port });
  const { store: s } = await setup(other, mine);
  await until(s, 'm7', HTTP, 'passing');
  assert.deepEqual(await checks(s, 'm6'), []);
  assert.deepEqual((await s.get(KINDS.machine, 'm6'))!.version, 1);

  await runner!.close();
  const v = (await s.get(KINDS.machine, 'm7'))!.version;
  runner = new CheckRunner({ store: s, hostId: HOST, floorMs: 20 });
  await runner.start();
  const seen = app.seen.length;
  await waitFor('the new runner probes', () => app.seen.length >= seen + 2);
  assert.equal((await s.get(KINDS.machine, 'm7'))!.version, v, 'passing stays passing without a write');
});

test('a machine with no address or a check with no port is critical; start() twice is refused', async () => {
  const noAddress = { ...startedMachine('m8', { services: [{ protocol: 'tcp', internal_port: 8080, checks: [{ type: 'tcp', interval: '100ms', grace_period: '0s' }] }] }, {}), routing: null };
  const noPort = startedMachine('m9', { checks: { orphan: { type: 'tcp', interval: '100ms', grace_period: '0s' } } }, {});
  const { store: s, runner: r } = await setup(noAddress, noPort);
  await until(s, 'm8', 'servicecheck-00-tcp-8080', 'critical', 'machine has no address to check');
  await until(s, 'm9', 'orphan', 'critical', /no port/);
  await assert.rejects(r.start(), /once/);
});
