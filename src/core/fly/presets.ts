/**
 * Fly's VM size presets and the guest a fly.toml `[[vm]]` entry turns into.
 *
 * The table follows fly-go's `MachinePresets` as listed in reference §1a "Machine config
 * fields" (guest): shared sizes get 256 MB per CPU, performance sizes 2048 MB per CPU, and the
 * GPU presets 8 performance CPUs, 32768 MB and one GPU. `[[vm]]` → guest follows flyctl's
 * `computeToGuest` (reference §1b `[[vm]]`): start from the preset named by `size` (default
 * `shared-cpu-1x`, or `performance-8x` when a `gpu_kind` is given), apply `memory`, then let every
 * explicitly set guest field override the preset.
 */
import type { Compute } from '../config/types.js';
import type { MachineGuest } from './machine-config.js';
import { parseMemoryMb } from '../units.js';

const SHARED_MB_PER_CPU = 256;
const PERFORMANCE_MB_PER_CPU = 2048;

/** flyctl's size for a `[[vm]]` without `size` (`fly.DefaultVMSize`). */
export const DEFAULT_VM_SIZE = 'shared-cpu-1x';
/** flyctl's size for a `[[vm]]` with a `gpu_kind` but no `size` (`fly.DefaultGPUVMSize`). */
export const DEFAULT_GPU_VM_SIZE = 'performance-8x';
/** The size flyctl gives a release-command machine when nothing else says (`inferReleaseCommandGuest`). */
export const RELEASE_COMMAND_VM_SIZE = 'shared-cpu-2x';

function shared(cpus: number): MachineGuest {
  return { cpu_kind: 'shared', cpus, memory_mb: cpus * SHARED_MB_PER_CPU };
}

function performance(cpus: number): MachineGuest {
  return { cpu_kind: 'performance', cpus, memory_mb: cpus * PERFORMANCE_MB_PER_CPU };
}

function gpu(gpuKind: string): MachineGuest {
  return { cpu_kind: 'performance', cpus: 8, memory_mb: 16 * PERFORMANCE_MB_PER_CPU, gpus: 1, gpu_kind: gpuKind };
}

/** Every preset name → its guest. Read-only: callers get copies from `presetGuest`. */
export const MACHINE_PRESETS: Readonly<Record<string, Readonly<MachineGuest>>> = Object.freeze({
  'shared-cpu-1x': shared(1),
  'shared-cpu-2x': shared(2),
  'shared-cpu-4x': shared(4),
  'shared-cpu-6x': shared(6),
  'shared-cpu-8x': shared(8),
  'performance-1x': performance(1),
  'performance-2x': performance(2),
  'performance-4x': performance(4),
  'performance-6x': performance(6),
  'performance-8x': performance(8),
  'performance-10x': performance(10),
  'performance-12x': performance(12),
  'performance-14x': performance(14),
  'performance-16x': performance(16),
  'a100-40gb': gpu('a100-pcie-40gb'),
  'a100-80gb': gpu('a100-sxm4-80gb'),
  l40s: gpu('l40s'),
  a10: gpu('a10'),
});

export type GuestResult = { ok: true; guest: MachineGuest } | { ok: false; error: string };

/** Byte-wise string order, as Go's sort.Strings (so `performance-10x` sorts before `performance-1x`). */
function goStringCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The guest of a preset name, or fly-go's `MachineGuest.SetSize` error: names starting with
 * `shared`/`performance` list the same family's sizes sorted as Go sorts strings, printed as Go
 * prints a string slice (`[a b c]`); anything else gets the "expected to start with" message.
 */
export function presetGuest(size: string): GuestResult {
  const preset = Object.prototype.hasOwnProperty.call(MACHINE_PRESETS, size) ? MACHINE_PRESETS[size] : undefined;
  if (preset) return { ok: true, guest: { ...preset } };
  const family = size.startsWith('shared') ? 'shared' : size.startsWith('performance') ? 'performance' : undefined;
  if (!family) {
    return { ok: false, error: `invalid machine preset requested, '${size}', expected to start with 'shared' or 'performance'` };
  }
  const valid = Object.keys(MACHINE_PRESETS)
    .filter((name) => name.startsWith(family))
    .sort(goStringCompare);
  return { ok: false, error: `'${size}' is an invalid machine size, choose one of: [${valid.join(' ')}]` };
}

/**
 * The guest for one `[[vm]]` entry (flyctl `computeToGuest`). `hostDedicationId` is the app's
 * top-level `host_dedication_id`; the entry's own one wins. Errors use flyctl's wording:
 * an unknown size (see `presetGuest`), `invalid size: '<memory>'`, `memory cannot be zero`.
 */
export function computeGuest(compute: Compute, hostDedicationId?: string): GuestResult {
  const size = compute.size ? compute.size : compute.gpu_kind ? DEFAULT_GPU_VM_SIZE : DEFAULT_VM_SIZE;
  const base = presetGuest(size);
  if (!base.ok) return base;
  const guest = base.guest;
  if (hostDedicationId) guest.host_dedication_id = hostDedicationId;

  // `memory` is applied before the explicit fields, so `memory_mb` wins over it; an unreadable
  // or zero `memory` still fails even when `memory_mb` is set, as in flyctl.
  if (compute.memory !== undefined && compute.memory !== '') {
    const mb = parseMemoryMb(compute.memory);
    if (mb === undefined) return { ok: false, error: `invalid size: '${compute.memory}'` };
    if (mb === 0) return { ok: false, error: 'memory cannot be zero' };
    guest.memory_mb = mb;
  }

  // flyctl copies the entry's guest fields over the preset ignoring empty values (copier's
  // IgnoreEmpty): zero numbers, empty strings and empty lists leave the preset's value.
  if (compute.cpu_kind) guest.cpu_kind = compute.cpu_kind;
  if (compute.cpus) guest.cpus = compute.cpus;
  if (compute.memory_mb) guest.memory_mb = compute.memory_mb;
  if (compute.max_memory_mb) guest.max_memory_mb = compute.max_memory_mb;
  if (compute.gpus) guest.gpus = compute.gpus;
  if (compute.gpu_kind) guest.gpu_kind = compute.gpu_kind;
  if (compute.host_dedication_id) guest.host_dedication_id = compute.host_dedication_id;
  if (compute.kernel_args && compute.kernel_args.length > 0) guest.kernel_args = [...compute.kernel_args];
  if (compute.persist_rootfs) guest.persist_rootfs = compute.persist_rootfs;
  return { ok: true, guest };
}
