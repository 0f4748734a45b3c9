/**
 * Warm containers: containers made before any machine asks for them, per kind (an image's rootfs
 * and a 6PN network), so that a start of a machine of that kind does none of the container's
 * set-up on its path. Each one is a whole cold start minus the machine: a monitor (monitor.sh
 * `warm`) in its mount namespace and in a cgroup of its own, the overlay root over the image,
 * a netns of the machine's network (a prepared one, src/net/pool.ts), and `crun run` whose
 * container already runs its init, hangar-init (init.ts), waiting on stdin.
 *
 * A start takes one of its kind: the cgroup is renamed to the machine's (spares.ts explains why
 * a rename), its limits written, the /etc files and config.json rewritten for the machine, the
 * network configured; then the machine's process (argv, env, user, cwd, hostname) goes to the
 * init, which applies it and execs. What stays per machine therefore stays exact: its own
 * container, root filesystem (a fresh upper dir), netns, cgroup and limits.
 *
 * Only machines without volumes or a persistent root use them (their bundle needs the machine
 * before the runtime runs; `files[]` the init writes); the others, and hosts where spares cannot
 * be used (any cgroup v2 controller, runc), start cold.
 *
 * Names (STYLE.md habit 10): container, bundle (`<dataDir>/crun/<name>`) and cgroup
 * `hangar-warm-<owner>-<pid>-<n>`, `<owner>` hashing the data dir as for spares. A taken
 * container keeps its container id and bundle (they are in the machine's handle) and is
 * destroyed like any other. One not taken whose agent went away reads EOF: its init exits and its
 * monitor removes its bundle and cgroup (a file `machine` in the bundle marks a taken one);
 * `sweep` removes what one killed outright left, and server start-up cleanup its netns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStat } from '../process/procfs.js';
import { enterCgroupAsync, killCgroup, machineCgroup, removeMachineCgroup, renameCgroup, type CgroupLayout, type MachineCgroup } from './cgroups.js';
import { INIT_ONLY_CAPABILITIES, INIT_PATH, STATUS_PATH } from './init.js';
import { removeNetns, netnsPath } from './netns.js';
import { buildOciSpec } from './oci-spec.js';
import { prepareLayers } from './rootfs.js';
import { runArgv, runtimeDelete, type Runtime } from './runtime.js';

/** What warm containers of one kind share. */
export interface WarmKind {
  /** The image's unpacked rootfs and the machine's network: containers serve only starts of the same key. */
  readonly key: string;
  readonly lower: string;
  /**
   * A netns for one more container of this kind, marked for `container` (netns.ts markers) and
   * made by the container's monitor: its name and the `ip -batch` texts that make it (host, then
   * inside it); undefined when none can be had now.
   */
  readonly netns: (container: string) => WarmNetns | undefined;
}

export interface WarmNetns {
  readonly netns: string;
  readonly host: string;
  readonly inside: string;
}

/** A taken warm container: the caller's now, like a container it started itself. */
export interface WarmContainer {
  readonly name: string;
  readonly bundle: string;
  readonly netns: string;
  readonly child: ChildProcess;
  readonly monitorPid: number;
  readonly monitorStartTicks: number;
  readonly exited: Promise<number>;
  /** The FIFO hangar-init reports on (init.ts `readInitStatus`). */
  readonly status: string;
}

interface Member extends WarmContainer {
  readonly key: string;
  readonly cgroup: MachineCgroup;
  ready: boolean;
  gone: boolean;
}

export interface WarmOptions {
  readonly script: string;
  readonly layout: CgroupLayout;
  /** The driver's crun dir: bundles go here, and its hash labels this driver's containers. */
  readonly root: string;
  readonly runtime: Runtime;
  readonly initBinary: string;
  /** The driver's netns marker dir. */
  readonly markers: string;
  /** RLIMIT_NOFILE of machines (oci-spec.ts `nofileLimit`). */
  readonly nofile: number;
  /** Containers kept ready per kind. */
  readonly size: number;
  /** Delay before replacing a taken container, so its set-up does not compete with the start that took it (ms). */
  readonly refillDelayMs: number;
  /** A kind not asked for this long loses its containers (ms). */
  readonly idleMs: number;
  /** As spares.ts: crun bound read-only in the monitor's namespace, so it does not copy itself. */
  readonly readonlyRuntime?: { readonly path: string; readonly copy: string };
}

/** The label of one data dir's warm containers: `hangar-warm-<8 hex>-`. Pure. */
export function warmPrefix(root: string): string {
  return `hangar-warm-${createHash('sha256').update(root).digest('hex').slice(0, 8)}-`;
}

/** The bundle file that marks a warm container as taken by a machine (it holds the machine's id). */
export const TAKEN_FILE = 'machine';

let warmCounter = 0;

/** How soon a refill that found no netns looks again (ms). */
const RETRY_MS = 50;

export class WarmContainers {
  private readonly opts: WarmOptions;
  private readonly prefix: string;
  private readonly pool: Member[] = [];
  private readonly kinds = new Map<string, { kind: WarmKind; lastWanted: number; broken: boolean; filling: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private closed = false;

  constructor(opts: WarmOptions) {
    this.opts = opts;
    this.prefix = warmPrefix(opts.root);
    this.sweep();
  }

  /**
   * A ready container of `kind` with its cgroup renamed to `target` (which must not exist), or
   * undefined (none ready, or the rename failed). Either way the kind is wanted: a refill follows.
   */
  take(kind: WarmKind, target: MachineCgroup, machineId: string): WarmContainer | undefined {
    const k = this.kinds.get(kind.key);
    if (k) {
      k.kind = kind;
      k.lastWanted = Date.now();
    } else this.kinds.set(kind.key, { kind, lastWanted: Date.now(), broken: false, filling: false });
    this.schedule();
    const i = this.pool.findIndex((m) => m.key === kind.key && m.ready && !m.gone);
    if (i < 0) return undefined;
    const m = this.pool.splice(i, 1)[0] as Member;
    let moved = renameCgroup(m.cgroup, target);
    if (moved === 'renamed') {
      try {
        writeFileSync(join(m.bundle, TAKEN_FILE), machineId);
        return m;
      } catch {
        moved = renameCgroup(target, m.cgroup) === 'renamed' ? 'restored' : 'partial';
      }
    }
    // The machine's cgroup is still there (busy): the container stays ready for another start.
    if (moved === 'restored') this.pool.push(m);
    else void this.discard(m);
    return undefined;
  }

  /** Ends every container not taken and removes what it had. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(this.pool.splice(0).map((m) => this.discard(m)));
  }

  /** Refills in `delayMs`, unless one is due sooner (the idle check is due much later: it is moved up). */
  private schedule(delayMs = this.opts.refillDelayMs): void {
    if (this.closed) return;
    const due = Date.now() + delayMs;
    if (this.timer) {
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refill();
    }, delayMs);
    this.timer.unref();
  }

  private async refill(): Promise<void> {
    const now = Date.now();
    let starved = false;
    for (const [key, k] of this.kinds) {
      if (now - k.lastWanted > this.opts.idleMs) {
        this.kinds.delete(key);
        await Promise.all(this.pool.filter((m) => m.key === key).map((m) => this.discard(m)));
        continue;
      }
      if (k.broken || k.filling) continue;
      k.filling = true;
      try {
        while (!this.closed && this.kinds.get(key) === k && this.pool.filter((m) => m.key === key).length < this.opts.size) {
          const m = await this.makeOne(k.kind);
          if (!m) {
            // No netns can be had for the network now: look again soon.
            starved = true;
            break;
          }
          this.pool.push(m);
        }
      } catch {
        k.broken = true;
      } finally {
        k.filling = false;
      }
    }
    // Idle kinds are dropped on the next refill: keep one coming while any kind is known.
    if (starved) this.schedule(RETRY_MS);
    else if (this.kinds.size > 0) this.schedule(Math.max(this.opts.idleMs, this.opts.refillDelayMs));
  }

  /** One more container of `kind`; undefined when no netns can be had now. @throws when it cannot be set up */
  private async makeOne(kind: WarmKind): Promise<Member | undefined> {
    const { opts } = this;
    const name = `${this.prefix}${process.pid}-${++warmCounter}`;
    const bundle = join(opts.root, name);
    const cgroup = machineCgroup(opts.layout, name);
    const made = kind.netns(name);
    if (made === undefined) return undefined;
    const { netns } = made;
    let child: ChildProcess | undefined;
    try {
      mkdirSync(bundle, { recursive: true, mode: 0o700 });
      writeFileSync(join(bundle, 'netns'), netns);
      const layers = prepareLayers(bundle, false);
      const etc = join(bundle, 'etc');
      mkdirSync(etc, { recursive: true });
      // Rewritten in place (same inode, so the bind mounts see it) when a machine takes the container.
      for (const f of ['hosts', 'resolv.conf', 'hostname']) writeFileSync(join(etc, f), '', { mode: 0o644 });
      const oci = buildOciSpec({
        args: [INIT_PATH],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        cwd: '/',
        uid: 0,
        gid: 0,
        hostname: name.slice(0, 63),
        rootfs: layers.rootfs,
        netnsPath: netnsPath(netns),
        binds: [
          ...['hosts', 'resolv.conf', 'hostname'].map((f) => ({ destination: `/etc/${f}`, source: join(etc, f) })),
          { destination: INIT_PATH, source: opts.initBinary, readonly: true },
          { destination: STATUS_PATH, source: join(bundle, 'status') },
        ],
        nofile: opts.nofile,
        extraCapabilities: INIT_ONLY_CAPABILITIES.map(([c]) => c),
      });
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(oci), { mode: 0o600 });
      for (const dir of new Set(Object.values(cgroup.dirs))) mkdirSync(dir, { recursive: true });
      const unmount = opts.layout.mode === 'hybrid' ? (opts.layout.hybridUnified ?? '') : '';
      const ro = opts.readonlyRuntime;
      const out = openSync(join(bundle, 'stdout.log'), 'a');
      const err = openSync(join(bundle, 'stderr.log'), 'a');
      try {
        // The monitor makes the netns first (`netns` mode, in the host's mount namespace), then
        // execs `unshare`, which execs the monitor proper: one pid, and the agent forks once.
        child = spawn(
          '/bin/sh',
          [opts.script, 'netns', netns, made.host, made.inside, 'unshare', '-m', '--propagation', 'slave', '--', '/bin/sh', opts.script, 'warm', unmount, ro?.path ?? '', ro?.copy ?? '', bundle, kind.lower, [...new Set(Object.values(cgroup.dirs))].join('\n'), ...runArgv(opts.runtime, name)],
          { detached: true, stdio: ['pipe', out, err], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
        );
      } finally {
        closeSync(out);
        closeSync(err);
      }
      const pid = child.pid;
      if (pid === undefined) throw new Error('cannot spawn unshare for a warm container');
      // Idle containers must not keep the agent's event loop alive.
      child.unref();
      (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      child.stdin?.on('error', () => {});
      const spawned = child;
      const exited = new Promise<number>((resolve) => spawned.once('exit', (code: number | null) => resolve(code ?? -1)));
      const m: Member = { key: kind.key, name, bundle, netns, child, monitorPid: pid, monitorStartTicks: readStat(pid)?.startTicks ?? 0, exited, status: join(bundle, 'status'), cgroup, ready: false, gone: false };
      void exited.then(() => {
        m.gone = true;
        const i = this.pool.indexOf(m);
        if (i < 0) return; // taken or discarded: its new owner deals with it
        this.pool.splice(i, 1);
        void this.removeLeft(m);
        // It died untaken: its kind cannot be made ready here (a bad image, a runtime error).
        const k = this.kinds.get(m.key);
        if (k && !this.closed) k.broken = true;
      });
      // The runtime and the init start inside the container's cgroup: "go" once the monitor is in it.
      enterCgroupAsync(cgroup, pid).then(
        () => {
          spawned.stdin?.write('go\n');
          m.ready = true;
        },
        () => void this.discard(m),
      );
      return m;
    } catch (err) {
      if (child?.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      await this.removeLeft({ name, bundle, netns, cgroup });
      throw err;
    }
  }

  /** Ends an untaken container (EOF: its init exits, its monitor cleans up) and removes what is left. */
  private async discard(m: Member): Promise<void> {
    const i = this.pool.indexOf(m);
    if (i >= 0) this.pool.splice(i, 1);
    m.child.stdin?.end();
    await Promise.race([m.exited, new Promise((r) => setTimeout(r, 2000))]);
    await this.removeLeft(m);
  }

  /** What a container not (or no longer) followed leaves once its monitor is gone or killed: processes, runtime state, cgroup, netns, bundle. */
  private async removeLeft(m: Pick<Member, 'name' | 'bundle' | 'netns' | 'cgroup'>): Promise<void> {
    await killCgroup(m.cgroup);
    if (existsSync(join(this.opts.runtime.root, m.name))) await runtimeDelete(this.opts.runtime, m.name).catch(() => undefined);
    removeMachineCgroup(m.cgroup);
    await removeNetns(m.netns, m.name, this.opts.markers);
    rmSync(m.bundle, { recursive: true, force: true });
  }

  /**
   * Removes the containers taken for `machineId` that `tracked` does not name, with everything in
   * `cg`, the machine's cgroup their processes are in: a start that took one and whose agent was
   * killed before it stored the handle (the driver's `clearPrevious`).
   */
  async removeOrphaned(machineId: string, cg: MachineCgroup, tracked: (name: string) => boolean): Promise<void> {
    for (const name of this.bundles((n) => !tracked(n))) {
      const bundle = join(this.opts.root, name);
      if (readText(join(bundle, TAKEN_FILE)) === machineId) await this.removeLeft({ name, bundle, netns: readText(join(bundle, 'netns')), cgroup: cg });
    }
  }

  /** Names of this data dir's warm containers (their bundles) that `keep` accepts. */
  private bundles(keep: (name: string) => boolean): string[] {
    try {
      return readdirSync(this.opts.root).filter((n) => n.startsWith(this.prefix) && keep(n));
    } catch {
      return []; // no crun dir yet
    }
  }

  /**
   * Removes untaken warm containers of this data dir left by another (an earlier) agent process:
   * normally their monitors clean up on EOF; this covers monitors killed outright.
   */
  private sweep(): void {
    const names = this.bundles((n) => !n.startsWith(`${this.prefix}${process.pid}-`));
    // The netns of containers whose bundle is gone already (their monitor cleaned up on EOF, but
    // a netns is not its to remove): the marker names the container that last used it.
    let marked: string[] = [];
    try {
      marked = readdirSync(this.opts.markers);
    } catch {
      // none
    }
    for (const ns of marked) {
      const user = readText(join(this.opts.markers, ns));
      if (user.startsWith(this.prefix) && !user.startsWith(`${this.prefix}${process.pid}-`) && !existsSync(join(this.opts.root, user))) void removeNetns(ns, user, this.opts.markers);
    }
    for (const name of names) {
      const bundle = join(this.opts.root, name);
      if (existsSync(join(bundle, TAKEN_FILE))) continue; // a machine's: its handle owns it
      const netns = readText(join(bundle, 'netns')); // '' when made before its netns was known
      void this.removeLeft({ name, bundle, netns, cgroup: machineCgroup(this.opts.layout, name) });
    }
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
