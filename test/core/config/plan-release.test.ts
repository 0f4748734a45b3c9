import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMachineConfigs, RELEASE_COMMAND_GROUP } from '../../../src/core/config/plan.js';
import { appConfig } from './app-config.js';

const makeConfig = appConfig;

test('no release_command → no release machine', () => {
  assert.equal(planMachineConfigs(makeConfig(), { image: 'i' }).release_command, undefined);
  assert.equal(planMachineConfigs(makeConfig({ deploy: { release_command: '' } }), { image: 'i' }).release_command, undefined);
});

test('the release-command machine', () => {
  const plan = planMachineConfigs(
    makeConfig({
      primary_region: 'iad',
      env: { A: '1', RELEASE_COMMAND: '0' },
      deploy: { release_command: "bin/migrate --tag 'v 2'" },
      processes: { web: 'server' },
      http_service: { internal_port: 80, processes: [], checks: [], machine_checks: [] },
      checks: { c: { type: 'tcp', port: 1, headers: {}, processes: [] } },
      mounts: [{ source: 'd', destination: '/d', processes: [] }],
      metrics: [{ port: 1, path: '/m', processes: [] }],
      statics: [{ guest_path: '/s', url_prefix: '/' }],
      restart: [{ policy: 'always', processes: [] }],
      vm: [{ size: 'performance-4x', processes: [] }],
      swap_size_mb: 256,
      kill_signal: 'SIGTERM',
      experimental: { entrypoint: ['/entry'], exec: ['/not-used'], cmd: ['not-used'] },
    }),
    { image: 'reg/app:2', flyctlVersion: '1.2.3' },
  );
  assert.deepEqual(plan.diagnostics, []);
  assert.deepEqual(plan.release_command, {
    image: 'reg/app:2',
    env: { A: '1', FLY_PROCESS_GROUP: RELEASE_COMMAND_GROUP, PRIMARY_REGION: 'iad', RELEASE_COMMAND: '1' },
    init: { cmd: ['bin/migrate', '--tag', 'v 2'], entrypoint: ['/entry'], swap_size_mb: 256 },
    guest: { cpu_kind: 'shared', cpus: 2, memory_mb: 512 },
    restart: { policy: 'no' },
    auto_destroy: true,
    dns: { skip_registration: true },
    stop_config: { signal: 'SIGTERM' },
    metadata: { fly_flyctl_version: '1.2.3', fly_platform_version: 'v2', fly_process_group: 'fly_app_release_command' },
  });
});

test('release guest from release_command_vm, with the app host dedication', () => {
  const plan = planMachineConfigs(
    makeConfig({
      host_dedication_id: 'h',
      deploy: { release_command: 'x', release_command_vm: { size: 'performance-2x', memory: '8gb', processes: [] } },
    }),
    { image: 'i' },
  );
  assert.deepEqual(plan.release_command?.guest, { cpu_kind: 'performance', cpus: 2, memory_mb: 8192, host_dedication_id: 'h' });
  const dflt = planMachineConfigs(makeConfig({ host_dedication_id: 'h', deploy: { release_command: 'x' } }), { image: 'i' });
  assert.deepEqual(dflt.release_command?.guest, { cpu_kind: 'shared', cpus: 2, memory_mb: 512, host_dedication_id: 'h' });
});

test('release_command_vm errors are plan errors of the release group', () => {
  const plan = planMachineConfigs(
    makeConfig({ deploy: { release_command: 'x', release_command_vm: { size: 'tiny', processes: [] } } }),
    { image: 'i' },
  );
  assert.deepEqual(plan.diagnostics, [
    {
      severity: 'error',
      code: 'plan-vm',
      path: 'deploy.release_command_vm',
      message:
        "Converting to machine in process group 'fly_app_release_command' will fail because of: invalid machine preset requested, 'tiny', expected to start with 'shared' or 'performance'",
    },
  ]);
  assert.equal(plan.release_command?.guest, undefined);
});

test('a release command that does not split: error, no release machine', () => {
  const plan = planMachineConfigs(makeConfig({ deploy: { release_command: 'migrate "oops' } }), { image: 'i' });
  assert.equal(plan.release_command, undefined);
  assert.deepEqual(plan.diagnostics, [
    {
      severity: 'error',
      code: 'plan-release-command',
      path: 'deploy.release_command',
      message: "Converting to machine in process group 'fly_app_release_command' will fail because of: EOF found when expecting closing quote",
    },
  ]);
});

test('release machine gets the app-wide files; a failed read is reported once', () => {
  let reads = 0;
  const plan = planMachineConfigs(
    makeConfig({
      processes: { web: 'w', worker: 'k' },
      deploy: { release_command: 'x' },
      files: [
        { guest_path: '/all', raw_value: 'a', processes: [] },
        { guest_path: '/worker', raw_value: 'b', processes: ['worker'] },
        { guest_path: '/gone', local_path: 'gone', processes: [] },
      ],
    }),
    {
      image: 'i',
      readLocalFile: () => {
        reads += 1;
        return undefined;
      },
    },
  );
  assert.deepEqual(plan.release_command?.files, [{ guest_path: '/all', raw_value: 'YQ==' }]);
  assert.deepEqual(plan.groups.web?.files, [{ guest_path: '/all', raw_value: 'YQ==' }]);
  assert.deepEqual(plan.groups.worker?.files, [{ guest_path: '/worker', raw_value: 'Yg==' }]);
  assert.equal(reads, 1);
  assert.deepEqual(
    plan.diagnostics.map((d) => [d.code, d.path]),
    [['plan-file-unreadable', 'files[2].local_path']],
  );
});
