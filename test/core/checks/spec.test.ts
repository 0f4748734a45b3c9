import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_DEFAULTS, checkDurationMs, checksOf, parseServiceCheckName, serviceCheckName } from '../../../src/core/checks/spec.js';
import type { MachineConfig } from '../../../src/core/fly/machine-config.js';

const config: Pick<MachineConfig, 'services' | 'checks'> = {
  services: [
    {
      protocol: 'tcp',
      internal_port: 8080,
      checks: [
        { type: 'tcp', interval: '15s', timeout: '2s', grace_period: '5s' },
        {
          type: 'http',
          interval: '10s',
          timeout: '3s',
          method: 'post',
          path: 'health',
          protocol: 'https',
          tls_skip_verify: true,
          tls_server_name: 'web.example',
          headers: [{ name: 'X-Probe', values: ['a', 'b'] }],
        },
      ],
    },
    { protocol: 'tcp', internal_port: 9000, checks: [{ type: 'tcp', port: 9001 }] },
  ],
  checks: { alive: { type: 'http', port: 7000, path: '/alive' }, ready: { type: 'tcp', port: 7001, kind: 'readiness' } },
};

test('service checks are named servicecheck-NN-<type>-<internal_port> over all services; top-level keep their key', () => {
  const specs = checksOf(config);
  assert.deepEqual(
    specs.map((s) => [s.name, s.origin, s.servicePort, s.gates, s.port]),
    [
      ['servicecheck-00-tcp-8080', 'service', 8080, true, 8080],
      ['servicecheck-01-http-8080', 'service', 8080, true, 8080],
      ['servicecheck-02-tcp-9000', 'service', 9000, true, 9001],
      ['alive', 'top-level', undefined, false, 7000],
      ['ready', 'top-level', undefined, true, 7001],
    ],
  );
  assert.deepEqual(parseServiceCheckName('servicecheck-02-tcp-9000'), { index: 2, type: 'tcp', internalPort: 9000 });
  assert.deepEqual(parseServiceCheckName(serviceCheckName(123, 'http', 80)), { index: 123, type: 'http', internalPort: 80 });
  for (const bad of ['alive', 'servicecheck-1-tcp-80', 'servicecheck-01-udp-80', 'servicecheck-01-tcp-', 'bg_deployment']) assert.equal(parseServiceCheckName(bad), undefined, bad);
});

test('durations, method, path, protocol, TLS and headers are read; defaults fill the gaps', () => {
  const [tcp, http, , alive] = checksOf(config);
  assert.deepEqual([tcp!.intervalMs, tcp!.timeoutMs, tcp!.graceMs, tcp!.http], [15_000, 2_000, 5_000, undefined]);
  assert.deepEqual(http!.http, {
    method: 'POST',
    path: '/health',
    protocol: 'https',
    tlsSkipVerify: true,
    tlsServerName: 'web.example',
    headers: [['X-Probe', ['a', 'b']]],
  });
  assert.equal(http!.timeoutMs, 3_000);
  assert.deepEqual([alive!.intervalMs, alive!.timeoutMs, alive!.graceMs], [CHECK_DEFAULTS.intervalMs, CHECK_DEFAULTS.timeoutMs, CHECK_DEFAULTS.graceMs]);
  assert.deepEqual(alive!.http, { method: 'GET', path: '/alive', protocol: 'http', tlsSkipVerify: false, tlsServerName: undefined, headers: [] });
});

test('durations accept Go strings and integer nanoseconds; junk falls back', () => {
  assert.equal(checkDurationMs('1m30s', 1), 90_000);
  assert.equal(checkDurationMs(2_000_000_000, 1), 2_000);
  assert.equal(checkDurationMs('soon', 7), 7);
  assert.equal(checkDurationMs(-5, 7), 7);
  assert.equal(checkDurationMs(undefined, 7), 7);
});

test('service check durations are clamped to [1s, 1m] (flyctl: raised/lowered), zero grace stays zero; the floor is an option', () => {
  const c: Pick<MachineConfig, 'services' | 'checks'> = {
    services: [{ protocol: 'tcp', internal_port: 80, checks: [{ type: 'tcp', interval: '100ms', timeout: '5m', grace_period: '0s' }, { type: 'tcp', grace_period: '200ms' }] }],
    checks: { slow: { type: 'tcp', port: 80, interval: '10m' } },
  };
  const [a, b, top] = checksOf(c);
  assert.deepEqual([a!.intervalMs, a!.timeoutMs, a!.graceMs, b!.graceMs], [1_000, 60_000, 0, 1_000]);
  assert.equal(top!.intervalMs, 600_000, 'top-level checks have no ceiling');
  const [fast] = checksOf(c, { floorMs: 50 });
  assert.equal(fast!.intervalMs, 100);
});

test('a check type is inferred from http-only fields; a top-level check without port takes the first service port or reports the problem', () => {
  const [svc, top] = checksOf({ services: [{ protocol: 'tcp', internal_port: 3000, checks: [{ path: '/up' }] }], checks: { x: { type: 'tcp' } } });
  assert.equal(svc!.name, 'servicecheck-00-http-3000');
  assert.equal(top!.port, 3000);
  const [lonely] = checksOf({ checks: { x: { type: 'tcp' } } });
  assert.equal(lonely!.port, undefined);
  assert.match(lonely!.problem!, /no port/);
  assert.deepEqual(checksOf({}), []);
});
