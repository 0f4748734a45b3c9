import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeGuest, presetGuest, MACHINE_PRESETS, DEFAULT_GPU_VM_SIZE, DEFAULT_VM_SIZE } from '../../../src/core/fly/presets.js';
import type { Compute } from '../../../src/core/config/types.js';

const vm = (fields: Partial<Compute>): Compute => ({ processes: [], ...fields });

test('shared presets: 256 MB per CPU', () => {
  for (const cpus of [1, 2, 4, 6, 8]) {
    assert.deepEqual(presetGuest(`shared-cpu-${cpus}x`), { ok: true, guest: { cpu_kind: 'shared', cpus, memory_mb: cpus * 256 } });
  }
});

test('performance presets: 2048 MB per CPU', () => {
  for (const cpus of [1, 2, 4, 6, 8, 10, 12, 14, 16]) {
    assert.deepEqual(presetGuest(`performance-${cpus}x`), { ok: true, guest: { cpu_kind: 'performance', cpus, memory_mb: cpus * 2048 } });
  }
});

test('GPU presets: 8 performance CPUs, 32 GB and one GPU of the named kind', () => {
  const kinds: Record<string, string> = { 'a100-40gb': 'a100-pcie-40gb', 'a100-80gb': 'a100-sxm4-80gb', l40s: 'l40s', a10: 'a10' };
  for (const [size, gpuKind] of Object.entries(kinds)) {
    assert.deepEqual(presetGuest(size), {
      ok: true,
      guest: { cpu_kind: 'performance', cpus: 8, memory_mb: 32768, gpus: 1, gpu_kind: gpuKind },
    });
  }
  assert.equal(Object.keys(MACHINE_PRESETS).length, 5 + 9 + 4);
});

test('presetGuest returns a copy the caller may change', () => {
  const a = presetGuest('shared-cpu-1x');
  assert.ok(a.ok);
  a.guest.memory_mb = 9999;
  assert.equal(MACHINE_PRESETS['shared-cpu-1x']?.memory_mb, 256);
});

test('unknown shared size lists the shared family in Go string order', () => {
  assert.deepEqual(presetGuest('shared-cpu-3x'), {
    ok: false,
    error: "'shared-cpu-3x' is an invalid machine size, choose one of: [shared-cpu-1x shared-cpu-2x shared-cpu-4x shared-cpu-6x shared-cpu-8x]",
  });
});

test('unknown performance size lists the performance family in Go string order (10x before 1x)', () => {
  assert.deepEqual(presetGuest('performance-3x'), {
    ok: false,
    error:
      "'performance-3x' is an invalid machine size, choose one of: [performance-10x performance-12x performance-14x performance-16x performance-1x performance-2x performance-4x performance-6x performance-8x]",
  });
});

test('a name of neither family gets the "expected to start with" message', () => {
  for (const size of ['dedicated-cpu-1x', 'a100', 'Shared-cpu-1x', '']) {
    assert.deepEqual(presetGuest(size), {
      ok: false,
      error: `invalid machine preset requested, '${size}', expected to start with 'shared' or 'performance'`,
    });
  }
});

test('prototype keys are not presets', () => {
  assert.equal(presetGuest('toString').ok, false);
  assert.equal(presetGuest('constructor').ok, false);
});

test('computeGuest: no size means shared-cpu-1x, or performance-8x with a gpu_kind', () => {
  assert.equal(DEFAULT_VM_SIZE, 'shared-cpu-1x');
  assert.equal(DEFAULT_GPU_VM_SIZE, 'performance-8x');
  assert.deepEqual(computeGuest(vm({})), { ok: true, guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 } });
  assert.deepEqual(computeGuest(vm({ gpu_kind: 'l40s' })), {
    ok: true,
    guest: { cpu_kind: 'performance', cpus: 8, memory_mb: 16384, gpu_kind: 'l40s' },
  });
});

test('computeGuest: memory strings use binary units, a bare number is MB', () => {
  const mb = (memory: string): number | undefined => {
    const r = computeGuest(vm({ memory }));
    return r.ok ? r.guest.memory_mb : undefined;
  };
  assert.equal(mb('1g'), 1024);
  assert.equal(mb('1gb'), 1024);
  assert.equal(mb('8GB'), 8192);
  assert.equal(mb('512'), 512);
  assert.equal(mb('512mb'), 512);
});

test('computeGuest: memory_mb wins over memory; explicit cpus/cpu_kind override the preset', () => {
  assert.deepEqual(computeGuest(vm({ size: 'shared-cpu-2x', memory: '2gb', memory_mb: 4096 })), {
    ok: true,
    guest: { cpu_kind: 'shared', cpus: 2, memory_mb: 4096 },
  });
  assert.deepEqual(computeGuest(vm({ size: 'shared-cpu-1x', cpus: 4, cpu_kind: 'performance' })), {
    ok: true,
    guest: { cpu_kind: 'performance', cpus: 4, memory_mb: 256 },
  });
});

test('computeGuest: zero-valued fields leave the preset alone (flyctl copies non-empty fields only)', () => {
  assert.deepEqual(computeGuest(vm({ size: 'performance-2x', cpus: 0, memory_mb: 0, cpu_kind: '', kernel_args: [] })), {
    ok: true,
    guest: { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 },
  });
});

test('computeGuest: other guest fields are copied', () => {
  assert.deepEqual(
    computeGuest(vm({ size: 'a100-40gb', gpus: 2, max_memory_mb: 65536, kernel_args: ['quiet'], persist_rootfs: 'always' })),
    {
      ok: true,
      guest: {
        cpu_kind: 'performance',
        cpus: 8,
        memory_mb: 32768,
        gpus: 2,
        gpu_kind: 'a100-pcie-40gb',
        max_memory_mb: 65536,
        kernel_args: ['quiet'],
        persist_rootfs: 'always',
      },
    },
  );
});

test("computeGuest: host_dedication_id from the app, the entry's own wins", () => {
  const fromApp = computeGuest(vm({}), 'app-host');
  assert.ok(fromApp.ok);
  assert.equal(fromApp.guest.host_dedication_id, 'app-host');
  const own = computeGuest(vm({ host_dedication_id: 'vm-host' }), 'app-host');
  assert.ok(own.ok);
  assert.equal(own.guest.host_dedication_id, 'vm-host');
});

test('computeGuest errors: zero memory, unreadable memory, bad size', () => {
  assert.deepEqual(computeGuest(vm({ memory: '0' })), { ok: false, error: 'memory cannot be zero' });
  assert.deepEqual(computeGuest(vm({ memory: '0gb', memory_mb: 1024 })), { ok: false, error: 'memory cannot be zero' });
  assert.deepEqual(computeGuest(vm({ memory: 'lots' })), { ok: false, error: "invalid size: 'lots'" });
  const bad = computeGuest(vm({ size: 'huge' }));
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.error, /^invalid machine preset requested, 'huge'/);
});
