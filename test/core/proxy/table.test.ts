import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRouteTable, listenAddrFor, routeForHost } from '../../../src/core/proxy/table.js';
import { machine } from './fixtures.js';

const httpService = {
  protocol: 'tcp' as const,
  internal_port: 8080,
  ports: [{ port: 80, handlers: ['http'] }, { port: 443, handlers: ['tls', 'http'] }],
  concurrency: { type: 'requests' as const, soft_limit: 2, hard_limit: 4 },
};

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
      machine('d', { services: [{ ...httpService, checks: [{ type: 'http', path: '/up' }] }], checks: [{ name: 'servicecheck-00-http-8080', status: 'critical', output: '', updated_at: '' }] }),
      machine('e', { checks: [{ name: 'toplevel', status: 'critical', output: '', updated_at: '' }] }),
      machine('f', { routing: null }),
    ],
  );
  const r = routeForHost(t, 80, 'web.localhost')!;
  assert.deepEqual(r.backends.map((b) => b.machineId), ['a', 'e']);
  assert.equal(r.stopped, 1);
});

test('checks gate per service: a failing check takes the machine out of its own service only; readiness checks gate all', () => {
  const db = { protocol: 'tcp' as const, internal_port: 7000, ports: [{ port: 5432 }], checks: [{ type: 'tcp' as const }] };
  const web = { ...httpService, checks: [{ type: 'http' as const, path: '/up' }] };
  const status = (name: string, s: 'passing' | 'critical') => ({ name, status: s, output: '', updated_at: '' });
  const t = buildRouteTable(
    [{ name: 'web' }],
    [
      machine('a', { services: [web, db], checks: [status('servicecheck-00-http-8080', 'critical'), status('servicecheck-01-tcp-7000', 'passing')] }),
      machine('b', { services: [web, db], checks: [status('servicecheck-00-http-8080', 'passing'), status('servicecheck-01-tcp-7000', 'passing')] }),
      // not reported yet (just started): stays routable
      machine('c', { services: [web, db] }),
    ],
  );
  assert.deepEqual(routeForHost(t, 80, 'web.localhost')?.backends.map((b) => b.machineId), ['b', 'c']);
  assert.deepEqual(t.ports.get(5432)?.backends.map((b) => b.machineId), ['a', 'b', 'c']);

  const ready = (s: 'passing' | 'critical', kind: 'readiness' | 'informational') =>
    buildRouteTable([{ name: 'web' }], [{ ...machine('r'), config: { services: [httpService], checks: { db: { type: 'tcp', port: 5432, kind } } }, checks: [status('db', s)] }]);
  assert.equal(routeForHost(ready('critical', 'readiness'), 80, 'web.localhost')?.backends.length, 0);
  assert.equal(routeForHost(ready('critical', 'informational'), 80, 'web.localhost')?.backends.length, 1);
  assert.equal(routeForHost(ready('passing', 'readiness'), 80, 'web.localhost')?.backends.length, 1);
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
