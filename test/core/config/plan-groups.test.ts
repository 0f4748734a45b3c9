import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMachineConfigs } from '../../../src/core/config/plan.js';
import { computeForGroup, defaultGroupName, processGroupNames, sectionAppliesTo } from '../../../src/core/config/groups.js';
import type { Compute } from '../../../src/core/config/types.js';
import { appConfig } from './app-config.js';

const makeConfig = appConfig;

const vm = (size: string, processes: string[] = [], origin?: string): Compute => ({ size, processes, ...(origin ? { origin } : {}) });

test('without [processes] the only group is app', () => {
  const config = makeConfig();
  assert.deepEqual(processGroupNames(config), ['app']);
  assert.equal(defaultGroupName(config), 'app');
  assert.deepEqual(Object.keys(planMachineConfigs(config, { image: 'i' }).groups), ['app']);
});

test('groups are sorted; the default is app when present, else the first name', () => {
  assert.deepEqual(processGroupNames(makeConfig({ processes: { worker: 'w', web: 'x', app: 'a' } })), ['app', 'web', 'worker']);
  assert.equal(defaultGroupName(makeConfig({ processes: { worker: 'w', web: 'x', app: 'a' } })), 'app');
  assert.equal(defaultGroupName(makeConfig({ processes: { worker: 'w', web: 'x' } })), 'web');
  // byte order, as Go sorts: upper case before lower case
  assert.equal(defaultGroupName(makeConfig({ processes: { worker: 'w', Web: 'x' } })), 'Web');
  const plan = planMachineConfigs(makeConfig({ processes: { worker: 'w', web: 'x' } }), { image: 'i' });
  assert.deepEqual(Object.keys(plan.groups), ['web', 'worker']);
  assert.equal(plan.groups.worker?.metadata?.fly_process_group, 'worker');
  assert.equal(plan.groups.worker?.env?.FLY_PROCESS_GROUP, 'worker');
});

test('sectionAppliesTo: empty list → default group only; names; "" means the default group', () => {
  assert.equal(sectionAppliesTo([], 'web', 'web'), true);
  assert.equal(sectionAppliesTo([], 'worker', 'web'), false);
  assert.equal(sectionAppliesTo(['worker'], 'worker', 'web'), true);
  assert.equal(sectionAppliesTo(['worker'], 'web', 'web'), false);
  assert.equal(sectionAppliesTo([''], 'web', 'web'), true);
  assert.equal(sectionAppliesTo([''], 'worker', 'web'), false);
});

test('sections without processes attach to the default group only', () => {
  const config = makeConfig({
    processes: { web: 'w', worker: 'k' },
    http_service: { internal_port: 8080, processes: [], checks: [], machine_checks: [] },
    services: [{ protocol: 'tcp', internal_port: 1, processes: [], ports: [], tcp_checks: [], http_checks: [], machine_checks: [] }],
    checks: { c: { type: 'tcp', port: 1, headers: {}, processes: [] } },
    mounts: [{ source: 'd', destination: '/d', processes: [] }],
    files: [{ guest_path: '/f', raw_value: 'x', processes: [] }],
    metrics: [{ port: 9, path: '/m', processes: [] }],
    restart: [{ policy: 'always', processes: [] }],
  });
  const plan = planMachineConfigs(config, { image: 'i' });
  const web = plan.groups.web;
  const worker = plan.groups.worker;
  assert.equal(web?.services?.length, 2);
  assert.ok(web?.checks?.c);
  assert.equal(web?.mounts?.length, 1);
  assert.equal(web?.files?.length, 1);
  assert.ok(web?.metrics);
  assert.ok(web?.restart);
  for (const key of ['services', 'checks', 'mounts', 'files', 'metrics', 'restart'] as const) {
    assert.equal(worker?.[key], undefined, `worker.${key}`);
  }
});

test('sections naming groups go to those groups', () => {
  const plan = planMachineConfigs(
    makeConfig({
      processes: { web: 'w', worker: 'k', cron: 'c' },
      services: [{ protocol: 'tcp', internal_port: 1, processes: ['worker', 'cron'], ports: [], tcp_checks: [], http_checks: [], machine_checks: [] }],
      restart: [
        { policy: 'always', processes: ['web'] },
        { policy: 'never', processes: ['worker'] },
        { policy: 'on-failure', processes: ['worker'], retries: 2 },
      ],
    }),
    { image: 'i' },
  );
  assert.equal(plan.groups.web?.services, undefined);
  assert.equal(plan.groups.worker?.services?.length, 1);
  assert.equal(plan.groups.cron?.services?.length, 1);
  assert.deepEqual(plan.groups.web?.restart, { policy: 'always' });
  assert.deepEqual(plan.groups.worker?.restart, { policy: 'on-failure', max_retries: 2 }, 'last matching [[restart]] wins');
  assert.equal(plan.groups.cron?.restart, undefined);
});

test('statics go to every group (they have no processes key)', () => {
  const plan = planMachineConfigs(makeConfig({ processes: { a: 'x', b: 'y' }, statics: [{ guest_path: '/p', url_prefix: '/' }] }), { image: 'i' });
  assert.deepEqual(plan.groups.a?.statics, plan.groups.b?.statics);
  assert.equal(plan.groups.b?.statics?.length, 1);
});

test('a top-level check takes the port of its own group http_service only', () => {
  const plan = planMachineConfigs(
    makeConfig({
      processes: { web: 'w', worker: 'k' },
      http_service: { internal_port: 8080, processes: ['web'], checks: [], machine_checks: [] },
      checks: { alive: { type: 'http', headers: {}, processes: ['web', 'worker'] } },
    }),
    { image: 'i' },
  );
  assert.equal(plan.groups.web?.checks?.alive?.port, 8080);
  assert.equal(plan.diagnostics.length, 1);
  assert.equal(plan.diagnostics[0]?.path, 'checks.alive');
  assert.match(plan.diagnostics[0]?.message ?? '', /process group 'worker' will fail because of: Check 'alive' for process group 'worker'/);
});

test('[[vm]] without processes applies to every group', () => {
  const plan = planMachineConfigs(makeConfig({ processes: { web: 'w', worker: 'k' }, vm: [vm('shared-cpu-4x')] }), { image: 'i' });
  assert.equal(plan.groups.web?.guest?.cpus, 4);
  assert.equal(plan.groups.worker?.guest?.cpus, 4);
});

test('vm precedence: an entry naming the group beats a global one, wherever it is', () => {
  const config = makeConfig({
    processes: { web: 'w', worker: 'k' },
    vm: [vm('performance-2x', ['worker']), vm('shared-cpu-2x')],
  });
  assert.equal(computeForGroup(config, 'worker')?.index, 0);
  assert.equal(computeForGroup(config, 'web')?.index, 1);
  const reversed = makeConfig({ processes: { web: 'w', worker: 'k' }, vm: [vm('shared-cpu-2x'), vm('performance-2x', ['worker'])] });
  assert.equal(computeForGroup(reversed, 'worker')?.index, 1);
});

test('vm precedence: the last entry naming the group wins; else the first global one', () => {
  const config = makeConfig({
    processes: { web: 'w', worker: 'k' },
    vm: [vm('shared-cpu-1x'), vm('shared-cpu-2x', ['worker']), vm('shared-cpu-4x'), vm('shared-cpu-8x', ['worker', 'web'])],
  });
  assert.equal(computeForGroup(config, 'worker')?.index, 3);
  assert.equal(computeForGroup(config, 'web')?.index, 3);
  const globals = makeConfig({ processes: { web: 'w' }, vm: [vm('shared-cpu-1x'), vm('shared-cpu-4x')] });
  assert.equal(computeForGroup(globals, 'web')?.index, 0);
});

test('vm entries for other groups do not apply; no entry → undefined', () => {
  const config = makeConfig({ processes: { web: 'w', worker: 'k' }, vm: [vm('performance-1x', ['worker'])] });
  assert.equal(computeForGroup(config, 'web'), undefined);
  const plan = planMachineConfigs(config, { image: 'i' });
  assert.deepEqual(plan.groups.web?.guest, { cpu_kind: 'shared', cpus: 1, memory_mb: 256 });
  assert.deepEqual(plan.groups.worker?.guest, { cpu_kind: 'performance', cpus: 1, memory_mb: 2048 });
});

test('[[vm.override]] entries act as [[vm]] entries with processes; errors name their origin', () => {
  const config = makeConfig({
    processes: { web: 'w', worker: 'k' },
    vm: [vm('shared-cpu-2x', [], 'vm[0]'), vm('performance-9x', ['worker'], 'vm.override[0]')],
  });
  const plan = planMachineConfigs(config, { image: 'i' });
  assert.equal(plan.groups.web?.guest?.cpus, 2);
  assert.equal(plan.groups.worker?.guest, undefined);
  assert.equal(plan.diagnostics.length, 1);
  assert.equal(plan.diagnostics[0]?.path, 'vm.override[0]');
  assert.match(plan.diagnostics[0]?.message ?? '', /^Converting to machine in process group 'worker' will fail because of: 'performance-9x' is an invalid machine size/);
});
