import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouteTable, listenAddrFor, routeForHost } from '../../../src/core/proxy/table.js';
import { machine } from './fixtures.js';

test('HTTP services route by host on 80 and 443; unknown apps and hosts do not route', () => {
  const t = buildRouteTable([{ name: 'web' }], [machine('m1'), machine('m2', { app: 'ghost' })]);
  const r = routeForHost(t, 80, 'WEB.localhost:8080');
  assert.equal(r?.app, 'web');
  assert.deepEqual(r?.backends.map((b) => [b.machineId, b.port, b.softLimit, b.hardLimit, b.type]), [['m1', 9000, 2, 4, 'requests']]);
  assert.equal(routeForHost(t, 443, 'web.localhost')?.app, 'web');
  assert.equal(routeForHost(t, 80, 'ghost.localhost'), undefined);
  assert.deepEqual(t.listeners.map((l) => [l.addr, l.kind]), [['127.0.0.1:8080', 'http-host'], ['127.0.0.1:8443', 'http-host']]);
});

test('stopped, cordoned, unreachable and check-failing machines get no traffic; stopped ones count for autostart', () => {
  const t = buildRouteTable(
    [{ name: 'web' }],
    [
      machine('a'),
      machine('b', { state: 'stopped' }),
      machine('c', { cordoned: true }),
      machine('d', { checks: [{ name: 'servicecheck-00-http-8080', status: 'critical', output: '', updated_at: '' }] }),
      machine('e', { checks: [{ name: 'toplevel', status: 'critical', output: '', updated_at: '' }] }),
      machine('f', { routing: null }),
    ],
  );
  const r = routeForHost(t, 80, 'web.localhost')!;
  assert.deepEqual(r.backends.map((b) => b.machineId), ['a', 'e']);
  assert.equal(r.stopped, 1);
});

test('TCP ports: listen mapping, first service declaring a port wins, first app by name wins across apps', () => {
  const svc = (internal: number, port: number) => ({ protocol: 'tcp' as const, internal_port: internal, ports: [{ port }] });
  const t = buildRouteTable(
    [{ name: 'a' }, { name: 'b' }],
    [machine('m1', { app: 'b', services: [svc(7000, 5432)] }), machine('m2', { app: 'a', services: [svc(8080, 5432), svc(7000, 5432)] }), machine('m3', { app: 'a', services: [svc(8080, 22)] })],
    { portMap: { '5432': '127.0.0.1:15432' }, httpsAddr: null },
  );
  assert.equal(t.ports.get(5432)?.app, 'a');
  assert.equal(t.ports.get(5432)?.backends[0]?.port, 9000);
  assert.ok(t.diagnostics.some((d) => d.includes('5432')));
  assert.deepEqual(t.listeners.map((l) => [l.addr, l.kind]), [['127.0.0.1:8080', 'http-host'], ['127.0.0.1:10022', 'tcp'], ['127.0.0.1:15432', 'tcp']]);
  assert.equal(listenAddrFor(2222), '127.0.0.1:2222');
});
