/**
 * What the crun driver tests share: the test image (busybox and the host's node with its
 * libraries), and how to see what a task left behind on the host.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { parseCrunHandle, type CrunDriver } from '../../src/drivers/crun/index.js';
import { cgroupLayout, parseCgroupMounts, type CgroupLayout } from '../../src/drivers/crun/cgroups.js';
import type { RuntimeDriver, TaskHandle, TaskSpec } from '../../src/drivers/types.js';
import { BUSYBOX, type TarEntry } from '../helpers/images.js';

export const IMAGE_REF = 'hangar-test/crun-node:1';

/** busybox + the host's node binary with its libraries, working dir = the fixture programs (mounted as a volume). */
export function testImageEntries(): TarEntry[] {
  const node = realpathSync(process.execPath);
  const entries: TarEntry[] = [
    { path: 'bin/', type: 'dir' },
    { path: 'bin/busybox', body: readFileSync(BUSYBOX), mode: 0o755 },
    { path: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { path: 'etc/', type: 'dir' },
    { path: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'tmp/', type: 'dir', mode: 0o1777 },
    { path: node.slice(1), body: readFileSync(node), mode: 0o755 },
  ];
  if (process.execPath !== node) entries.push({ path: process.execPath.slice(1), type: 'symlink', linkname: node });
  const seen = new Set<string>();
  for (const m of execFileSync('ldd', [node], { encoding: 'utf8' }).matchAll(/(\/\S+)\s+\(0x/g)) {
    const lib = m[1] as string;
    const real = realpathSync(lib);
    if (!seen.has(real)) entries.push({ path: real.slice(1), body: readFileSync(real), mode: statSync(real).mode & 0o7777 });
    seen.add(real);
    if (real !== lib && !seen.has(lib)) entries.push({ path: lib.slice(1), type: 'symlink', linkname: real });
    seen.add(lib);
  }
  return entries;
}

export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** This host's cgroup layout, as the driver detects it. */
export function hostLayout(): CgroupLayout {
  return cgroupLayout(parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8')));
}

export function crunList(): string {
  try {
    return execFileSync('crun', ['list', '-q'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

/** What a destroyed task left: processes, cgroups, bundle, netns, runtime state, mounts. */
export function leftovers(handle: TaskHandle): string[] {
  const h = parseCrunHandle(handle);
  const out: string[] = [];
  for (const [pid, ticks] of [[h.pid, h.start_ticks], [h.monitor_pid, h.monitor_start_ticks]] as const) {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const st = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // A zombie is gone but for its pid, which its parent reaps: for a monitor whose agent was
      // killed that is PID 1, and this VM's PID 1 reaps late.
      if (Number(st[19]) === ticks && st[0] !== 'Z') out.push(`process ${pid}`);
    } catch {
      // gone
    }
  }
  for (const dir of Object.values(h.cgroup.dirs)) if (existsSync(dir)) out.push(`cgroup ${dir}`);
  if (existsSync(h.bundle)) out.push(`bundle ${h.bundle}`);
  if (existsSync(`/run/netns/${h.netns}`)) out.push(`netns ${h.netns}`);
  if (crunList().split('\n').includes(h.container_id)) out.push(`crun container ${h.container_id}`);
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(h.bundle)) out.push('mount under the bundle');
  for (const p of [h.stdout_path, h.stderr_path]) if (existsSync(p)) out.push(`file ${p}`);
  return out;
}

/** The driver, with every start's spec passed through `adapt` first (the conformance suite's specs, made to suit a crun test image). */
export function adaptedDriver(d: CrunDriver, adapt: (spec: TaskSpec) => TaskSpec): RuntimeDriver {
  return new Proxy(d, {
    get(target, prop, receiver) {
      if (prop === 'start') return (spec: TaskSpec) => target.start(adapt(spec));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
