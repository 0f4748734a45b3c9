import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildMachineEnv, internalPorts, machineMemoryMb, type MachineEnvInput } from '../../src/agent/env.js';

const base: MachineEnvInput = {
  app: 'web',
  machineId: '1857156b526dd8',
  instanceId: '01HMVXC16ED6SHK9452AF029Y7',
  region: 'ams',
  privateIp: '127.77.1.2',
  config: { image: 'dir:/srv/app', guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 512 } },
  secrets: {},
};

describe('buildMachineEnv', () => {
  test('platform variables (reference §1d)', () => {
    const env = buildMachineEnv(base);
    assert.deepEqual(env, {
      FLY_APP_NAME: 'web',
      FLY_MACHINE_ID: '1857156b526dd8',
      FLY_ALLOC_ID: '1857156b526dd8',
      FLY_REGION: 'ams',
      FLY_PRIVATE_IP: '127.77.1.2',
      FLY_PROCESS_GROUP: 'app',
      FLY_IMAGE_REF: 'dir:/srv/app',
      FLY_MACHINE_VERSION: '01HMVXC16ED6SHK9452AF029Y7',
      FLY_VM_MEMORY_MB: '512',
      PRIMARY_REGION: 'ams',
    });
  });

  test('process group from metadata; PRIMARY_REGION from config env wins', () => {
    const env = buildMachineEnv({ ...base, config: { ...base.config, metadata: { fly_process_group: 'worker' }, env: { PRIMARY_REGION: 'fra' } } });
    assert.equal(env.FLY_PROCESS_GROUP, 'worker');
    assert.equal(env.PRIMARY_REGION, 'fra');
  });

  test('precedence: host defaults < config env < secrets < platform < ports', () => {
    const env = buildMachineEnv({
      ...base,
      hostDefaults: { PATH: '/bin', KEEP: 'host', A: 'host' },
      config: { ...base.config, env: { A: 'config', B: 'config', FLY_APP_NAME: 'spoofed', PORT: '1' } },
      secrets: { B: 'secret', FLY_REGION: 'spoofed', C: 'secret' },
      ports: [[3000, 41000]],
    });
    assert.equal(env.KEEP, 'host');
    assert.equal(env.PATH, '/bin');
    assert.equal(env.A, 'config');
    assert.equal(env.B, 'secret');
    assert.equal(env.C, 'secret');
    assert.equal(env.FLY_APP_NAME, 'web');
    assert.equal(env.FLY_REGION, 'ams');
    assert.equal(env.PORT, '41000');
  });

  test('PORT is the first service port; PORT_<internal> for each', () => {
    const env = buildMachineEnv({ ...base, ports: [[8080, 40001], [9090, 40002]] });
    assert.equal(env.PORT, '40001');
    assert.equal(env.PORT_8080, '40001');
    assert.equal(env.PORT_9090, '40002');
  });

  test('memory default and internal ports', () => {
    assert.equal(machineMemoryMb({ image: 'x' }), 256);
    assert.deepEqual(internalPorts({ image: 'x' }), [8080]);
    assert.deepEqual(
      internalPorts({ image: 'x', services: [{ protocol: 'tcp', internal_port: 3000 }, { protocol: 'udp', internal_port: 3000 }, { protocol: 'tcp', internal_port: 9000 }] }),
      [3000, 9000],
    );
  });
});
