import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PORT_OPTIONS, portOptionsFrom } from '../../../src/core/proxy/port-options.js';
import { buildRouteTable, routeForHost } from '../../../src/core/proxy/table.js';
import type { MachineService } from '../../../src/core/fly/machine-config.js';
import { machine } from './fixtures.js';

test('a plain http port has the defaults', () => {
  assert.deepEqual(portOptionsFrom({ port: 80, handlers: ['http'] }), { options: DEFAULT_PORT_OPTIONS, problems: [] });
});

test('tls, http and proxy_proto options resolve per handler', () => {
  const { options, problems } = portOptionsFrom({
    port: 443,
    handlers: ['tls', 'http', 'proxy_proto'],
    tls_options: { alpn: ['http/1.1'], versions: ['TLSv1.3'], default_self_signed: true },
    http_options: { h2_backend: true, idle_timeout: 30, response: { headers: { 'X-Frame-Options': 'DENY', Server: false } } },
    proxy_proto_options: { version: 'v2' },
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(options.tls, { alpn: ['http/1.1'], minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', defaultSelfSigned: true });
  assert.equal(options.h2Backend, true);
  assert.equal(options.proxyProto, 'v2');
  assert.equal(options.idleTimeoutMs, 30_000);
  assert.deepEqual(options.response?.add, [['X-Frame-Options', 'DENY']]);
  assert.deepEqual([...options.response!.drop].sort(), ['server', 'x-frame-options']);
});

test('options for a handler the port lacks are reported and ignored', () => {
  const { options, problems } = portOptionsFrom({
    port: 5432,
    handlers: ['tls'],
    http_options: { h2_backend: true, response: { headers: { 'X-A': 'b' } } },
    proxy_proto_options: { version: 'v2' },
  });
  assert.equal(options.h2Backend, false);
  assert.equal(options.response, null);
  assert.equal(options.proxyProto, undefined);
  assert.ok(options.tls);
  assert.deepEqual(problems, ['proxy_proto_options is set but the port has no proxy_proto handler; it is ignored', 'http_options is set but the port has no http handler; it is ignored']);
});

test('bad values are reported with their key, the rest still applies', () => {
  const { options, problems } = portOptionsFrom({
    port: 443,
    handlers: ['tls', 'http', 'gzip'],
    tls_options: { alpn: ['h3', 'h2'], versions: ['TLSv1.1', 'TLSv1.2'] },
    http_options: { idle_timeout: -5, response: { headers: { 'Content-Length': '1', 'X-Ok': 'y' } } },
  });
  assert.deepEqual(options.tls?.alpn, ['h2']);
  assert.equal(options.tls?.minVersion, 'TLSv1.2');
  assert.equal(options.idleTimeoutMs, undefined);
  assert.deepEqual(options.response?.add, [['X-Ok', 'y']]);
  assert.equal(problems.length, 5, problems.join('\n'));
  for (const key of ['handlers', 'tls_options.alpn', 'tls_options.versions', 'http_options.idle_timeout', 'http_options.response.headers.Content-Length']) {
    assert.ok(problems.some((p) => p.startsWith(key)), `a problem names ${key}: ${problems.join('; ')}`);
  }
});

test('the route table carries each port its own options and reports problems once with the key path', () => {
  const svc: MachineService = {
    protocol: 'tcp',
    internal_port: 8080,
    ports: [
      { port: 80, handlers: ['http'], force_https: true },
      { port: 443, handlers: ['tls', 'http'], tls_options: { alpn: ['http/1.1'] }, http_options: { idle_timeout: 5 } },
      { start_port: 7000, end_port: 7002, handlers: ['tls'], tls_options: { versions: ['TLSv9'] } },
      { port: 6000, handlers: ['proxy_proto', 'http'], proxy_proto_options: { version: 'v2' } },
    ],
  };
  const t = buildRouteTable([{ name: 'web' }], [machine('m1', { services: [svc] }), machine('m2', { services: [svc] })], { httpsAddr: null });
  assert.deepEqual(routeForHost(t, 80, 'web.localhost')?.options, DEFAULT_PORT_OPTIONS);
  const https = routeForHost(t, 443, 'web.localhost')!;
  assert.deepEqual(https.options.tls?.alpn, ['http/1.1']);
  assert.equal(https.options.idleTimeoutMs, 5000);
  assert.equal(t.ports.get(6000)?.options.proxyProto, 'v2');
  assert.equal(t.ports.get(7001)?.options.tls?.minVersion, 'TLSv1.2');
  // Reported once (not per machine, not per port of the range), where it was written.
  assert.deepEqual(
    t.diagnostics.filter((d) => d.includes('TLSv9')),
    ["machine m1 services[0].ports[2]: tls_options.versions: unknown TLS version 'TLSv9'"],
  );
  // Ports with the tls handler get TLS listeners (opened only with a TLS module plugged in).
  assert.deepEqual(
    t.listeners.filter((l) => l.publicPort !== 80).map((l) => [l.publicPort, l.kind, l.tls === true]),
    [[6000, 'http-port', false], [7000, 'tcp', true], [7001, 'tcp', true], [7002, 'tcp', true]],
  );
});
