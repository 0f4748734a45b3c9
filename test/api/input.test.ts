import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeMachineConfig, signalName, stripNulls } from '../../src/core/fly/api-input.js';
import { appJson, machineJson, volumeJson } from '../../src/core/fly/api-output.js';

describe('api-input', () => {
  it('normalizes signals, durations, autostop and persist', () => {
    assert.equal(signalName(9), 'SIGKILL');
    assert.equal(signalName('term'), 'SIGTERM');
    assert.equal(signalName('15'), 'SIGTERM');
    assert.equal(signalName('SIGBOGUS'), undefined);
    const r = normalizeMachineConfig({ image: 'x', guest: { cpus: 2 }, stop_config: { timeout: 5_000_000_000 }, services: [{ internal_port: 80, autostop: 'suspend' }, { internal_port: 81, autostop: true }], rootfs: { persist: 0 } });
    assert.ok(r.ok);
    assert.deepEqual(r.value.guest, { cpu_kind: 'shared', cpus: 2, memory_mb: 256 });
    assert.equal(r.value.stop_config?.timeout, '5s');
    assert.deepEqual(r.value.services?.map((s) => s.autostop), ['suspend', true]);
    assert.equal(r.value.rootfs?.persist, undefined);
  });

  it('reports problems with the field path', () => {
    const r = normalizeMachineConfig({ image: 'x', services: [{ internal_port: 80, ports: [{ handlers: ['http'] }] }] });
    assert.deepEqual(r, { ok: false, error: 'config.services[0].ports[0]: needs port or start_port and end_port' });
    const r2 = normalizeMachineConfig({ image: 'x', size: 'shared-cpu-1x', guest: { cpus: 1 } });
    assert.ok(!r2.ok && /mutually exclusive/.test(r2.error));
    assert.ok(!normalizeMachineConfig([]).ok);
    assert.ok(!normalizeMachineConfig({ image: '' }).ok);
  });

  it('drops nulls in objects only', () => {
    assert.deepEqual(stripNulls({ a: null, b: [null, { c: null }] }), { b: [null, {}] });
  });
});

describe('api-output', () => {
  it('never leaks record internals except hangar_routing', () => {
    const rec = {
      id: 'm', name: 'n', app: 'a', org: 'o', region: 'ams', host: 'h', instance_id: 'v', state: 'started', desired: 'started', generation: 2,
      applied_generation: 2, config: { image: 'x' }, private_ip: '127.0.0.2', image_ref: { registry: '', repository: '', tag: '', digest: '', labels: {} },
      events: [], checks: [], cordoned: false, lease: { nonce: 'secret', owner: 'o', description: '', expires_at: 1, version: 'v' }, restart_count: 0,
      host_status: 'ok', created_at: '', updated_at: '', routing: { address: '127.0.0.2', ports: {} },
    } as const;
    const out = machineJson(rec as never);
    for (const k of ['host', 'desired', 'generation', 'applied_generation', 'lease', 'restart_count', 'app', 'org', 'routing']) assert.ok(!(k in out), k);
    assert.deepEqual(out['hangar_routing'], { address: '127.0.0.2', ports: {} });
    assert.equal(out['version'], 'v');
    assert.ok(!('nonce' in out));
    assert.equal(machineJson(rec as never, { nonce: 'n1' })['nonce'], 'n1');
    const vol = volumeJson({ id: 'vol_x', name: 'd', app: 'a', region: 'ams', host: 'h', zone: 'z', state: 'created', size_gb: 1, encrypted: true, fstype: 'ext4', snapshot_retention: 5, auto_backup_enabled: true, attached_machine_id: null, attached_alloc_id: null, host_path: '/p', created_at: '' });
    assert.ok(!('host_path' in vol) && vol['blocks'] === 262144);
    assert.equal(appJson({ id: 'i', name: 'a', org: 'o', network: 'n', internal_numeric_id: 1, status: 'pending', created_at: '' }, undefined, { machine_count: 1, volume_count: 0 })['machine_count'], 1);
  });
});
