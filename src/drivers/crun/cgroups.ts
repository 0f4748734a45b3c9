/**
 * Machine cgroups, owned by the driver (STYLE.md habits 2 and 10).
 *
 * Why the driver and not crun: crun deletes its cgroup the moment the container exits, taking
 * the OOM-kill counter with it, and refuses to run at all on hybrid hosts whose cgroup2 mount
 * holds a controller ("cgroups in hybrid mode not supported"). So the driver creates
 * `<controller mount>/hangar/<container id>` for memory, pids and cpu, writes the limits, moves
 * the machine's monitor process in before crun starts, and runs crun with
 * `--cgroup-manager=disabled`: everything crun forks inherits the cgroup. The cgroup outlives the
 * container, so the OOM counter is read after the exit (even by an agent that restarted), and is
 * removed at the next start or on destroy. The same code serves v1, v2 and hybrid hosts: each
 * controller is used where it is mounted.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MachineGuest } from '../../core/fly/machine-config.js';

export type CgroupMode = 'v1' | 'v2' | 'hybrid';
export type Controller = 'memory' | 'pids' | 'cpu';
export const CONTROLLERS: readonly Controller[] = ['memory', 'pids', 'cpu'];
/** The parent every machine cgroup lives under; the label that proves a cgroup is Hangar's. */
export const CGROUP_PARENT = 'hangar';

export interface CgroupMount {
  readonly path: string;
  readonly version: 1 | 2;
  /** v1: the controllers of the hierarchy (from the super options); v2: filled from cgroup.controllers. */
  readonly controllers: readonly string[];
}

export interface CgroupLayout {
  readonly mode: CgroupMode;
  /** Where each controller is mounted (absent: not available on this host). */
  readonly controllers: Partial<Record<Controller, CgroupMount>>;
  /** The cgroup2 mount crun must not see on a hybrid host (unmounted in the monitor's namespace). */
  readonly hybridUnified?: string;
}

/** The cgroup mounts listed in a /proc/self/mountinfo text (v2 controllers left empty). Pure. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const fstype = post[0];
    const mountPoint = pre[4];
    if (!mountPoint || (fstype !== 'cgroup' && fstype !== 'cgroup2')) continue;
    const path = mountPoint.replace(/\\040/g, ' ');
    if (fstype === 'cgroup2') out.push({ path, version: 2, controllers: [] });
    else out.push({ path, version: 1, controllers: (post[2] ?? '').split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.includes('=')) });
  }
  return out;
}

/**
 * Which controller to use where. A v1 hierarchy wins over cgroup2 for a controller both claim
 * (on hybrid hosts v1 holds the real controllers). Pure.
 */
export function cgroupLayout(mounts: readonly CgroupMount[], root = '/sys/fs/cgroup'): CgroupLayout {
  const v1 = mounts.filter((m) => m.version === 1);
  const v2 = mounts.find((m) => m.version === 2);
  const controllers: Partial<Record<Controller, CgroupMount>> = {};
  for (const c of CONTROLLERS) {
    const m = v1.find((x) => x.controllers.includes(c)) ?? (v2?.controllers.includes(c) ? v2 : undefined);
    if (m) controllers[c] = m;
  }
  if (v2 && v2.path === root && v1.length === 0) return { mode: 'v2', controllers };
  if (v2 && v1.length > 0) return { mode: 'hybrid', controllers, hybridUnified: v2.path };
  return { mode: v2 ? 'v2' : 'v1', controllers };
}

/** Reads the host's layout (mountinfo plus each cgroup2 mount's cgroup.controllers). */
export function detectCgroups(mountinfoPath = '/proc/self/mountinfo'): CgroupLayout {
  const mounts = parseCgroupMounts(readFileSync(mountinfoPath, 'utf8')).map((m) => {
    if (m.version !== 2) return m;
    let text = '';
    try {
      text = readFileSync(join(m.path, 'cgroup.controllers'), 'utf8');
    } catch {
      // an unreadable cgroup2 mount offers nothing
    }
    return { ...m, controllers: text.split(/\s+/).filter(Boolean) };
  });
  return cgroupLayout(mounts);
}

/** One line for the operator: the mode and what the driver does about it. */
export function describeLayout(layout: CgroupLayout, runtime: 'crun' | 'runc' = 'crun'): string {
  const where = CONTROLLERS.map((c) => `${c}: ${layout.controllers[c] ? `${layout.controllers[c]?.path} (v${layout.controllers[c]?.version})` : 'missing'}`).join(', ');
  const owner = runtime === 'crun' ? 'cgroups owned by Hangar, crun runs with --cgroup-manager=disabled' : 'cgroups owned by Hangar, runc makes its own inside each machine cgroup';
  const workaround =
    layout.mode === 'hybrid'
      ? `; hybrid host: ${runtime} runs in a private mount namespace with ${layout.hybridUnified} unmounted (it refuses hybrid hosts otherwise), ${owner}`
      : `; ${owner}`;
  return `cgroups ${layout.mode} (${where})${workaround}`;
}

/** One file write in a machine cgroup: `<controller dir>/<file>` ← value. */
export interface CgroupWrite {
  readonly controller: Controller;
  readonly file: string;
  readonly value: string;
  /** Skip silently when the file does not exist (e.g. swap accounting off). */
  readonly optional?: boolean;
}

const CPU_PERIOD_US = 100_000;
/** Fly's shared vCPUs get a 1/16 baseline of a performance vCPU; weights keep that ratio under contention. */
const SHARES_PER_PERFORMANCE_CPU = 1024;
const SHARES_PER_SHARED_CPU = 64;
/** The guest Fly gives a machine that names none (shared-cpu-1x, 256 MB). */
export const DEFAULT_GUEST: MachineGuest = { cpu_kind: 'shared', cpus: 1, memory_mb: 256 };

/** cgroup v1 cpu.shares → v2 cpu.weight (the conversion runc and crun use). */
export function sharesToWeight(shares: number): number {
  return Math.max(1, Math.min(10_000, Math.round(1 + ((shares - 2) * 9999) / 262_142)));
}

/** The limit writes for a guest, in the order they must happen. Pure. */
export function limitWrites(guest: MachineGuest | undefined, pidsLimit: number, versions: Partial<Record<Controller, 1 | 2>>): CgroupWrite[] {
  const g = guest ?? DEFAULT_GUEST;
  const bytes = String(Math.max(1, Math.round(g.memory_mb)) * 1024 * 1024);
  const cpus = g.cpus > 0 ? g.cpus : 1;
  const quota = String(Math.round(cpus * CPU_PERIOD_US));
  const shares = Math.round(cpus * (g.cpu_kind === 'performance' ? SHARES_PER_PERFORMANCE_CPU : SHARES_PER_SHARED_CPU));
  const out: CgroupWrite[] = [];
  if (versions.memory === 1) {
    out.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: bytes });
    // No swapping past the limit: the machine is OOM-killed, as a VM without swap would be.
    out.push({ controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: bytes, optional: true });
  } else if (versions.memory === 2) {
    out.push({ controller: 'memory', file: 'memory.max', value: bytes });
    out.push({ controller: 'memory', file: 'memory.swap.max', value: '0', optional: true });
  }
  if (versions.pids !== undefined) out.push({ controller: 'pids', file: 'pids.max', value: String(pidsLimit) });
  if (versions.cpu === 1) {
    out.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(CPU_PERIOD_US) });
    out.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: quota });
    out.push({ controller: 'cpu', file: 'cpu.shares', value: String(shares) });
  } else if (versions.cpu === 2) {
    out.push({ controller: 'cpu', file: 'cpu.max', value: `${quota} ${CPU_PERIOD_US}` });
    out.push({ controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(shares)) });
  }
  return out;
}

/** The `oom_kill` count of a memory.oom_control (v1) or memory.events (v2) text. Pure. */
export function parseOomKills(text: string): number {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** The machine's cgroup directories, one per controller, as stored in its handle. */
export interface MachineCgroup {
  readonly dirs: Partial<Record<Controller, string>>;
  /** memory.oom_control (v1) or memory.events (v2). */
  readonly oomFile?: string;
}

/** The directories of `name`'s cgroup in this layout (nothing is created). Pure. */
export function machineCgroup(layout: CgroupLayout, name: string): MachineCgroup {
  const dirs: Partial<Record<Controller, string>> = {};
  for (const c of CONTROLLERS) {
    const m = layout.controllers[c];
    if (m) dirs[c] = join(m.path, CGROUP_PARENT, name);
  }
  const mem = layout.controllers.memory;
  const oomFile = dirs.memory && mem ? join(dirs.memory, mem.version === 1 ? 'memory.oom_control' : 'memory.events') : undefined;
  return oomFile ? { dirs, oomFile } : { dirs };
}

function uniqueDirs(cg: MachineCgroup): string[] {
  return [...new Set(Object.values(cg.dirs))];
}

/** Creates the machine's cgroup and writes its limits. v2 first enables the controllers for children of `hangar`. */
export function createMachineCgroup(layout: CgroupLayout, cg: MachineCgroup, writes: readonly CgroupWrite[]): void {
  const v2 = CONTROLLERS.filter((c) => layout.controllers[c]?.version === 2);
  const v2mount = v2[0] ? layout.controllers[v2[0]] : undefined;
  if (v2mount) {
    mkdirSync(join(v2mount.path, CGROUP_PARENT), { recursive: true });
    writeFileSync(join(v2mount.path, CGROUP_PARENT, 'cgroup.subtree_control'), v2.map((c) => `+${c}`).join(' '));
  }
  for (const dir of uniqueDirs(cg)) mkdirSync(dir, { recursive: true });
  for (const w of writes) {
    const dir = cg.dirs[w.controller];
    if (!dir) continue;
    const file = join(dir, w.file);
    if (w.optional && !existsSync(file)) continue;
    try {
      writeFileSync(file, w.value);
    } catch (err) {
      if (!w.optional) throw err;
    }
  }
}

/** Moves a process into every directory of the machine's cgroup. */
export function enterCgroup(cg: MachineCgroup, pid: number): void {
  for (const dir of uniqueDirs(cg)) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
}

/**
 * {@link enterCgroup} off the event loop. A write to `cgroup.procs` takes the kernel's global
 * threadgroup lock for writing, which waits for an RCU grace period when the lock was idle:
 * 5–15 ms on a busy host, during which a synchronous write would stall the agent (and the
 * machine's network setup, which runs at the same time). The writes go to the thread pool
 * together, so one grace period usually covers them all.
 */
export async function enterCgroupAsync(cg: MachineCgroup, pid: number): Promise<void> {
  await Promise.all(uniqueDirs(cg).map((dir) => writeFile(join(dir, 'cgroup.procs'), String(pid))));
}

/** The pids in the machine's cgroup (from the memory, else any, controller). */
export function cgroupPids(cg: MachineCgroup): number[] {
  const dir = cg.dirs.memory ?? uniqueDirs(cg)[0];
  if (!dir) return [];
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** How many times the kernel OOM-killed a process of this cgroup (0 when unknown). */
export function oomKills(cg: MachineCgroup): number {
  if (!cg.oomFile) return 0;
  try {
    return parseOomKills(readFileSync(cg.oomFile, 'utf8'));
  } catch {
    return 0;
  }
}

/**
 * Removes the machine's cgroup directories (they must be empty of processes). Only paths under a
 * `hangar/` parent are touched: anything else in a handle is not ours.
 */
export function removeMachineCgroup(cg: MachineCgroup): string[] {
  const failed: string[] = [];
  for (const dir of uniqueDirs(cg)) {
    if (!isOurs(dir)) continue;
    try {
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed.push(`${dir}: ${(err as Error).message}`);
    }
  }
  return failed;
}

/** true when `dir` is `<something>/hangar/hangar-<...>`: a machine cgroup this driver names. */
export function isOurs(dir: string): boolean {
  return /\/hangar\/hangar-[a-z0-9-]+$/.test(dir);
}

/** SIGKILLs everything in a machine's cgroup (Hangar's own, by its name) until it is empty, for at most 5 s. */
export async function killCgroup(cg: MachineCgroup): Promise<void> {
  await until(() => {
    for (const pid of cgroupPids(cg)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    return cgroupPids(cg).length === 0;
  }, 5000);
}

/** Polls `pred` every 10 ms until it holds or `maxMs` passed. */
export async function until(pred: () => boolean, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/**
 * Renames the cgroup `from` to `to`, directory by directory (cgroup v1 allows it within a
 * parent; `to` must not exist; spares.ts says why a rename), and on a failure renames back what
 * it did. 'renamed'; 'restored': nothing changed; 'partial': a rename back failed, and some
 * directories are left under `to`'s name, for its removal (destroy, the next start) to take.
 */
export function renameCgroup(from: MachineCgroup, to: MachineCgroup): 'renamed' | 'restored' | 'partial' {
  const done: [string, string][] = [];
  try {
    for (const [c, dir] of Object.entries(from.dirs)) {
      const target = to.dirs[c as Controller];
      if (target === undefined) throw new Error(`no ${c} directory in the target cgroup`);
      if (done.some(([f]) => f === dir)) continue; // co-mounted controllers share a directory
      renameSync(dir, target);
      done.push([dir, target]);
    }
    return 'renamed';
  } catch {
    let restored = true;
    for (const [a, b] of done.reverse()) {
      try {
        renameSync(b, a);
      } catch {
        restored = false;
      }
    }
    return restored ? 'restored' : 'partial';
  }
}
