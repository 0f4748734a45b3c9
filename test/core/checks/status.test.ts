import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceHealth } from '../../../src/core/checks/gate.js';
import { checksOf } from '../../../src/core/checks/spec.js';
import {
  checkTarget,
  firstDueAt,
  httpStatusPasses,
  latestStart,
  mergeChecks,
  nextDueAt,
  notRunningResults,
  pendingResult,
  resultOf,
} from '../../../src/core/checks/status.js';
import type { CheckStatus, MachineEvent } from '../../../src/core/machine/types.js';
import type { MachineConfig } from '../../../src/core/fly/machine-config.js';

const T0 = '2024-01-01T00:00:00.000Z';
const T1 = '2024-01-01T00:00:09.000Z';

test('pending, probe and HTTP-status results', () => {
  const [spec] = checksOf({ services: [{ protocol: 'tcp', internal_port: 80, checks: [{ type: 'tcp', grace_period: '5s' }] }] });
  assert.deepEqual(pendingResult(spec!), { name: 'servicecheck-00-tcp-80', status: 'warning', output: 'waiting for the first check (grace period 5s)' });
  assert.equal(pendingResult({ ...spec!, graceMs: 0 }).output, 'waiting for the first check');
  assert.equal(pendingResult({ ...spec!, problem: 'no port' }).status, 'critical');
  assert.equal(resultOf(spec!, { ok: true, output: 'ok' }).status, 'passing');
  assert.equal(resultOf(spec!, { ok: false, output: 'connection refused' }).status, 'critical');
  assert.deepEqual([200, 204, 299, 301, 404, 500].map(httpStatusPasses), [true, true, true, false, false, false]);
});

test('mergeChecks writes only on change; updated_at moves only with the status', () => {
  const cur: CheckStatus[] = [{ name: 'a', status: 'passing', output: 'HTTP 200 from GET /', updated_at: T0 }];
  assert.equal(mergeChecks(cur, [{ name: 'a', status: 'passing', output: 'HTTP 200 from GET /' }], T1), undefined);
  assert.deepEqual(mergeChecks(cur, [{ name: 'a', status: 'passing', output: 'HTTP 204 from GET /' }], T1), [
    { name: 'a', status: 'passing', output: 'HTTP 204 from GET /', updated_at: T0 },
  ]);
  assert.deepEqual(mergeChecks(cur, [{ name: 'a', status: 'critical', output: 'connection refused' }], T1), [
    { name: 'a', status: 'critical', output: 'connection refused', updated_at: T1 },
  ]);
  // new checks appear, unconfigured ones go, foreign blue-green entries stay
  const bg: CheckStatus = { name: 'bg_deployment', status: 'passing', output: '', updated_at: T0 };
  assert.deepEqual(mergeChecks([...cur, bg, { name: 'old', status: 'passing', output: '', updated_at: T0 }], [{ name: 'b', status: 'warning', output: 'w' }], T1), [
    { name: 'b', status: 'warning', output: 'w', updated_at: T1 },
    bg,
  ]);
  assert.equal(mergeChecks(undefined, [], T1), undefined);
  assert.deepEqual(notRunningResults([...cur, bg]), [{ name: 'a', status: 'warning', output: 'machine is not running' }]);
});

test('schedule: grace after start, interval after the previous probe began, never in the past', () => {
  assert.equal(firstDueAt({ graceMs: 5_000 }, 1_000, 2_000), 6_000);
  assert.equal(firstDueAt({ graceMs: 5_000 }, 1_000, 9_000), 9_000);
  assert.equal(nextDueAt({ intervalMs: 10_000 }, 20_000, 21_000), 30_000);
  assert.equal(nextDueAt({ intervalMs: 10_000 }, 20_000, 35_000), 35_000);
});

test('latestStart takes the newest started start event; checkTarget maps ports through routing', () => {
  const ev = (id: string, type: MachineEvent['type'], status: string, timestamp: number): MachineEvent => ({ id, type, status, source: 'flyd', timestamp });
  assert.deepEqual(latestStart([ev('3', 'exit', 'stopped', 3), ev('2', 'start', 'started', 2), ev('1', 'start', 'started', 1)]), { id: '2', at: 2 });
  assert.equal(latestStart([ev('1', 'start', 'failed', 1)]), undefined);
  assert.equal(latestStart(undefined), undefined);
  const routing = { address: '127.77.1.2', ports: { '8080': 41000 } };
  assert.deepEqual(checkTarget(routing, 8080), { host: '127.77.1.2', port: 41000 });
  assert.deepEqual(checkTarget(routing, 7000), { host: '127.77.1.2', port: 7000 });
  assert.equal(checkTarget(null, 8080), undefined);
});

test('serviceHealth gates per service: its own service checks and readiness checks only; missing or warning = pending', () => {
  const config: Pick<MachineConfig, 'services' | 'checks'> = {
    services: [
      { protocol: 'tcp', internal_port: 8080, checks: [{ type: 'http', path: '/' }] },
      { protocol: 'tcp', internal_port: 9000, checks: [{ type: 'tcp' }] },
      { protocol: 'tcp', internal_port: 5000 },
    ],
    checks: { info: { type: 'tcp', port: 1 } },
  };
  const st = (name: string, status: CheckStatus['status']): CheckStatus => ({ name, status, output: '', updated_at: T0 });
  const checks = [st('servicecheck-00-http-8080', 'critical'), st('servicecheck-01-tcp-9000', 'passing'), st('info', 'critical')];
  assert.equal(serviceHealth({ config, checks }, 8080), 'failing');
  assert.equal(serviceHealth({ config, checks }, 9000), 'passing', 'another service failing does not matter; informational checks neither');
  assert.equal(serviceHealth({ config, checks }, 5000), 'passing', 'a service without checks always passes');
  assert.equal(serviceHealth({ config, checks: [] }, 9000), 'pending');
  assert.equal(serviceHealth({ config, checks: [st('servicecheck-01-tcp-9000', 'warning')] }, 9000), 'pending');
  const ready = { ...config, checks: { r: { type: 'tcp' as const, port: 1, kind: 'readiness' as const } } };
  assert.equal(serviceHealth({ config: ready, checks: [st('servicecheck-01-tcp-9000', 'passing'), st('r', 'critical')] }, 9000), 'failing');
  assert.equal(serviceHealth({ config: ready, checks: [st('r', 'passing')] }, 5000), 'passing');
});
