/**
 * Spare monitors: a monitor (monitor.ts) started ahead of need, already in its private mount
 * namespace (cgroup2 unmounted on hybrid hosts) and already inside a cgroup of its own, waiting
 * on stdin for the machine it will run. A start that takes one renames that cgroup to the
 * machine's and sends the paths; it then owns the container exactly like a monitor spawned for
 * it (STYLE.md habit 2), so nothing else in the driver changes.
 *
 * Why: moving a process into a cgroup (a write to `cgroup.procs`) takes the kernel's global
 * threadgroup lock for writing, which waits for an RCU grace period: 5–18 ms measured on a busy
 * 2-core host, the longest single step of a start once the network and the bundle overlap it.
 * Renaming a cgroup directory moves no process and takes no such lock. cgroup v1 hierarchies
 * allow renaming a cgroup within its parent; cgroup v2 does not (it has CLONE_INTO_CGROUP
 * instead, which Node cannot use), so spares are used only where every controller is v1.
 *
 * Names (STYLE.md habit 10): `<controller>/hangar/hangar-spare-<owner>-<n>`, where `<owner>`
 * hashes the driver's data dir, so two Hangar servers on one host never touch each other's
 * spares. A spare whose agent died reads EOF, moves itself out of its cgroup, removes it and
 * exits; `sweep` removes what a spare killed meanwhile left, for the next driver of the same data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readStat } from '../process/procfs.js';
import { enterCgroupAsync, machineCgroup, removeMachineCgroup, renameCgroup, type CgroupLayout, type MachineCgroup } from './cgroups.js';
import type { MonitorParams } from './monitor.js';

/** A ready spare, handed to one start. */
export interface Spare {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startTicks: number;
  readonly exited: Promise<number>;
  /** Its start gate's FIFO (monitor.ts `openGate`), now the caller's to move into the bundle; unset without gates. */
  readonly gate?: string;
}

interface Pending {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startTicks: number;
  readonly cgroup: MachineCgroup;
  readonly exited: Promise<number>;
  readonly gate?: string;
  ready: boolean;
  gone: boolean;
}

export interface SparesOptions {
  readonly script: string;
  readonly layout: CgroupLayout;
  /** The driver's data dir: its hash labels this driver's spare cgroups. */
  readonly owner: string;
  /** How many spares to keep ready. */
  readonly size: number;
  /** Delay before replacing a taken spare, so its start-up does not compete with the start that took it (ms). */
  readonly refillDelayMs: number;
  /**
   * crun's binary, and an empty file to bind it onto read-only in the spare's namespace, so crun
   * skips copying itself on the start path (monitor.ts explains why that is safe). Unset for runc.
   */
  readonly readonlyRuntime?: { readonly path: string; readonly copy: string };
  /**
   * Where each spare makes the FIFO of its machine's start gate (oci-spec.ts `gateHook`), named
   * like its cgroup; unset: spares make none and their machines start without a gate.
   */
  readonly gateDir?: string;
}

/** Whether spares can be used with this cgroup layout: every controller on cgroup v1 (renamable). */
export function sparesSupported(layout: CgroupLayout): boolean {
  const mounts = Object.values(layout.controllers);
  return mounts.length > 0 && mounts.every((m) => m.version === 1);
}

/** The label of one data dir's spare cgroups: `hangar-spare-<8 hex>-`. Pure. */
export function sparePrefix(owner: string): string {
  return `hangar-spare-${createHash('sha256').update(owner).digest('hex').slice(0, 8)}-`;
}

/** Per process, not per instance: two drivers of one data dir in one process must not share a name. */
let spareCounter = 0;

export class SpareMonitors {
  private readonly opts: SparesOptions;
  private readonly prefix: string;
  private readonly pool: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** A spare died before it was taken (e.g. its unmount failed): stop making them; fresh monitors report why. */
  private broken = false;

  constructor(opts: SparesOptions) {
    this.opts = opts;
    this.prefix = sparePrefix(opts.owner);
    this.sweep();
  }

  /**
   * A ready spare with its cgroup renamed to `target` (which must not exist), or undefined (none
   * ready, or the rename failed: the caller then spawns a monitor itself). Schedules a refill.
   */
  take(target: MachineCgroup): Spare | undefined {
    this.schedule();
    const i = this.pool.findIndex((p) => p.ready && !p.gone && (p.gate === undefined || isFifo(p.gate)));
    if (i < 0) return undefined;
    const p = this.pool.splice(i, 1)[0] as Pending;
    if (renameCgroup(p.cgroup, target) !== 'renamed') {
      this.discard(p);
      return undefined;
    }
    return { child: p.child, pid: p.pid, startTicks: p.startTicks, exited: p.exited, ...(p.gate === undefined ? {} : { gate: p.gate }) };
  }

  /** Kills the spares not taken and removes their cgroups. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const left = this.pool.splice(0);
    for (const p of left) this.discard(p);
    await Promise.all(left.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000))])));
    for (const p of left) this.removeLeft(p);
  }

  /** Starts making spares (also done by the first `take`). */
  schedule(delayMs = this.opts.refillDelayMs): void {
    if (this.closed || this.broken || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
    }, delayMs);
    this.timer.unref();
  }

  private refill(): void {
    if (this.closed || this.broken) return;
    while (this.pool.length < this.opts.size) {
      const p = this.spawnOne();
      if (!p) {
        this.broken = true;
        return;
      }
      this.pool.push(p);
    }
  }

  private spawnOne(): Pending | undefined {
    const name = `${this.prefix}${process.pid}-${++spareCounter}`;
    const cgroup = machineCgroup(this.opts.layout, name);
    try {
      for (const dir of new Set(Object.values(cgroup.dirs))) mkdirSync(dir, { recursive: true });
    } catch {
      removeMachineCgroup(cgroup);
      return undefined;
    }
    const unmount = this.opts.layout.mode === 'hybrid' ? (this.opts.layout.hybridUnified ?? '') : '';
    const dirs = [...new Set(Object.values(cgroup.dirs))];
    const ro = this.opts.readonlyRuntime;
    let gate: string | undefined;
    if (this.opts.gateDir !== undefined) {
      gate = join(this.opts.gateDir, name);
      try {
        mkdirSync(this.opts.gateDir, { recursive: true, mode: 0o700 });
      } catch {
        gate = undefined; // the spare still saves the cgroup move; its machine starts without a gate
      }
    }
    const child = spawn('unshare', ['-m', '--propagation', 'slave', '--', '/bin/sh', this.opts.script, 'spare', unmount, ro?.path ?? '', ro?.copy ?? '', gate ?? '', ...dirs], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    const pid = child.pid;
    if (pid === undefined) {
      removeMachineCgroup(cgroup);
      return undefined;
    }
    // Idle spares must not keep the agent's event loop alive.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    child.stdin?.on('error', () => {});
    const exited = new Promise<number>((resolve) => child.once('exit', (code: number | null) => resolve(code ?? -1)));
    const p: Pending = { child, pid, startTicks: readStat(pid)?.startTicks ?? 0, cgroup, exited, ready: false, gone: false, ...(gate === undefined ? {} : { gate }) };
    void exited.then(() => {
      p.gone = true;
      const i = this.pool.indexOf(p);
      if (i < 0) return; // taken or discarded: its new owner deals with it
      this.pool.splice(i, 1);
      this.removeLeft(p);
      if (!this.closed) this.broken = true;
    });
    enterCgroupAsync(cgroup, pid).then(
      () => (p.ready = true),
      () => this.discard(p),
    );
    return p;
  }

  private discard(p: Pending): void {
    const i = this.pool.indexOf(p);
    if (i >= 0) this.pool.splice(i, 1);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone already
    }
    void p.exited.then(() => this.removeLeft(p));
  }

  /** What a spare that was never taken leaves once it is gone: its cgroup and its gate. */
  private removeLeft(p: Pending): void {
    removeMachineCgroup(p.cgroup);
    if (p.gate !== undefined) rmSync(p.gate, { force: true });
  }

  /**
   * Removes empty spare cgroups of this data dir left by an agent that died (a live spare's
   * cgroup is busy and stays), and the gates of spares of other agent processes (a live one's
   * spare removes its own when it reads EOF; a taken one's gate was moved into its bundle).
   */
  private sweep(): void {
    // Names this data dir's spares had in another (an earlier) agent process.
    const earlier = (dir: string): string[] => {
      try {
        return readdirSync(dir).filter((n) => n.startsWith(this.prefix) && !n.startsWith(`${this.prefix}${process.pid}-`));
      } catch {
        return []; // none made yet
      }
    };
    if (this.opts.gateDir !== undefined) for (const n of earlier(this.opts.gateDir)) rmSync(join(this.opts.gateDir, n), { force: true });
    for (const dir of new Set(Object.values(machineCgroup(this.opts.layout, 'x').dirs))) {
      const parent = join(dir, '..');
      for (const n of earlier(parent)) {
        try {
          rmdirSync(join(parent, n));
        } catch {
          // in use (EBUSY) or gone
        }
      }
    }
  }
}

/** The stdin text that hands a spare its machine: one value a line, the runtime argv last, then an empty line. Pure. */
export function spareInput(params: MonitorParams, stdoutPath: string, stderrPath: string): string {
  const lines = [params.bundle, params.lower, stdoutPath, stderrPath, ...params.runtimeArgv];
  for (const l of lines) if (l === '' || l.includes('\n')) throw new Error(`a spare monitor cannot take ${JSON.stringify(l)}`);
  return `${lines.join('\n')}\n\n`;
}

function isFifo(path: string): boolean {
  try {
    return lstatSync(path).isFIFO();
  } catch {
    return false;
  }
}
