/**
 * The `crun` runtime driver (ARCHITECTURE.md "Interfaces"): each machine is an OCI container in
 * its own pid/mount/ipc/uts/net namespaces, inside a Hangar-owned cgroup (cgroups.ts), on an
 * overlay root over the image's unpacked rootfs (rootfs.ts), owned by one monitor process
 * (monitor.ts) that outlives the agent and records the exit status.
 *
 * Names (STYLE.md habit 10): container `hangar-<machine>-<instance suffix>`, cgroup
 * `<controller>/hangar/<container>`, bundle `<dataDir>/crun/<container>`, netns `hangar-<machine>`.
 * Destroy removes exactly those, after checking the `hangar-` label.
 *
 * A machine of a kind (image and network) started before takes a warm container (warm.ts),
 * set up ahead with hangar-init waiting in it: the start writes the limits, the /etc files and
 * config.json, and hands the init the machine's process, files and eth0 (README.md "Warm
 * containers"). Other starts are cold.
 *
 * Cold start path, three strands at once (README.md "The start path"): the monitor, a spare one
 * already in its namespace and cgroup or a fresh `unshare` → sh, which mounts the overlay root as
 * soon as the machine's files[] are in the upper dir; the network hook's `ip` batches (on another
 * core); and the rest of the bundle (/etc files, config.json). A spare's monitor gets its "go"
 * once config.json is written, and the runtime sets the container up to its start gate while the
 * network is configured; otherwise "go" waits for the network and the cgroup move.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineFile } from '../../core/fly/machine-config.js';
import { ImageStore } from '../../images/store.js';
import type { ExecOptions, ExecResult, ExitResult, Fingerprint, LogFollowOptions, LogSubscription, ProcessStat, RuntimeDriver, StopOptions, TaskHandle, TaskInspection, TaskSpec } from '../types.js';
import { DriverError, killedBy, signalName } from '../types.js';
import { stopWithTimeout } from '../stop.js';
import { TaskTable, type Task as TableTask } from '../tasks.js';
import { rotatedPath } from '../process/logs.js';
import { readStat } from '../process/procfs.js';
import { createMachineCgroup, describeLayout, detectCgroups, enterCgroupAsync, killCgroup, limitWrites, machineCgroup, oomKills, removeMachineCgroup, until, type CgroupLayout, type MachineCgroup } from './cgroups.js';
import { execInMachine } from './exec.js';
import { containerId, netnsName, parseCrunHandle, type CrunHandle } from './handle.js';
import { exitFileOf, gateFileOf, go, installMonitor, openGate, readExitFile, spawnMonitor } from './monitor.js';
import { encodeInitSpec, initBinary, readInitStatus, type InitEth0, type InitFile } from './init.js';
import { ensureNetns, markNetns, netnsOwnedBy, netnsPath, removeNetns } from './netns.js';
import { nofileLimit, parseNofileHard } from './oci-spec.js';
import { prepareRootfs, resolveImage, writeBundle, type CrunTaskSpec, type ResolvedImage } from './prepare.js';
import { keepsRootfs, layerPaths } from './rootfs.js';
import { spareInput, SpareMonitors, sparesSupported } from './spares.js';
import { WarmContainers, type WarmContainer, type WarmKind, type WarmNetns } from './warm.js';
import { machineProcessStats } from './ps.js';
import { DEFAULT_ROOTS, findBinary, PID_FILE, RUNTIME_LOG, runArgv, runtimeDelete, runtimeState, type Runtime, type RuntimeKind } from './runtime.js';

export interface CrunDriverOptions {
  /** Hangar's data dir: bundles live in `<dataDir>/crun`, images in `<dataDir>/images`. */
  readonly dataDir: string;
  /** The image store to resolve image references with (opened on `dataDir` when not given). */
  readonly images?: ImageStore;
  /** Which OCI runtime: `auto` (default) prefers crun and falls back to runc. */
  readonly runtime?: RuntimeKind | 'auto';
  /** Poll interval for recovered machines and log files (ms). Default 200. */
  readonly pollMs?: number;
  /** pids.max of each machine (tasks, i.e. threads, count). Default 4096. */
  readonly pidsLimit?: number;
  /** Called after the netns exists and before the container starts (src/net/ adds the 6PN veth here). */
  readonly networkSetup?: (netnsPath: string, spec: CrunTaskSpec) => Promise<void>;
  /** The `networkSetup` hook creates the netns itself when it is missing (saves an `ip` process per start). */
  readonly networkCreatesNetns?: boolean;
  /**
   * A prepared netns for this machine, by name (src/net/pool.ts: made ahead, labelled `hangar-`),
   * now the machine's; undefined: the driver uses `hangar-<machine id>`. Asked only when the
   * machine has no netns of its own yet. The name goes into the handle, so teardown and recovery
   * use the netns the machine actually got.
   */
  readonly networkNetns?: (spec: CrunTaskSpec) => string | undefined;
  /** Called before destroy deletes the netns. */
  readonly networkTeardown?: (netnsPath: string, handle: TaskHandle) => Promise<void>;
  /**
   * Monitors kept ready for the next starts (spares.ts), on hosts whose cgroups are all v1.
   * Default 3, like the netns pool (src/net/machine.ts): the refill waits 200 ms, and creates back
   * to back found 2 used up about one time in four; 0 turns them off.
   */
  readonly spareMonitors?: number;
  /**
   * Warm containers kept ready per kind (image and network; warm.ts), where spares can be used,
   * the runtime is crun and hangar-init was built. Default 3, like the spares; 0 turns them off.
   */
  readonly warmContainers?: number;
  /**
   * The network side of warm containers (warm.ts): without it, and with `networkSetup`, every
   * start is cold; without either, warm containers get a netns with loopback only.
   */
  readonly networkWarm?: WarmNetwork;
}

/** How warm containers get the machine's network (src/server/networking.ts supplies the 6PN one). */
export interface WarmNetwork {
  /** Machines with the same key can use each other's warm containers; undefined: this one starts cold. */
  key(spec: CrunTaskSpec): string | undefined;
  /** A new netns for a warm container of `spec`'s network (WarmNetns), or undefined. */
  member(spec: CrunTaskSpec): WarmNetns | undefined;
  /** The netns becomes `spec`'s: what its init gives eth0, and the host side to run once eth0 is up. */
  take(spec: CrunTaskSpec): Promise<{ eth0: InitEth0; neighbour: () => Promise<void> }>;
}

/** `fingerprint()` with the operator-facing notes (cgroup mode, workaround, runtime). */
export interface CrunFingerprint extends Fingerprint {
  readonly notes: readonly string[];
}

type Task = TableTask<CrunHandle>;

const START_TIMEOUT_MS = 60_000;
const CAPABILITIES = { suspend: false, exec: true, isolation: 'container', mounts: true, oomDetection: true } as const;

export class CrunDriver implements RuntimeDriver {
  readonly name = 'crun';
  private readonly opts: CrunDriverOptions;
  private readonly root: string;
  private readonly table: TaskTable<CrunHandle>;
  private layout: CgroupLayout | undefined;
  private runtimeChoice: Runtime | undefined;
  private images: Promise<ImageStore> | undefined;
  private closed = false;
  private spareMonitors: SpareMonitors | null | undefined;
  private warmContainers: WarmContainers | null | undefined;

  constructor(opts: CrunDriverOptions) {
    this.opts = opts;
    this.root = join(opts.dataDir, 'crun');
    if (opts.images) this.images = Promise.resolve(opts.images);
    this.table = new TaskTable({ driver: 'crun', pollMs: opts.pollMs ?? 200, parse: parseCrunHandle, keyOf: (h) => h.container_id, checkAlive: (t) => this.checkAlive(t) });
  }

  private get monitorScript(): string {
    return join(this.root, 'monitor.sh');
  }

  async fingerprint(): Promise<CrunFingerprint> {
    const notes: string[] = [];
    if (process.platform !== 'linux') return { available: false, reason: 'crun needs Linux', capabilities: CAPABILITIES, notes };
    if (process.getuid?.() !== 0) return { available: false, reason: 'the crun driver needs root (namespaces, cgroups, overlayfs)', capabilities: CAPABILITIES, notes };
    const rt = this.pickRuntime();
    if (!rt) return { available: false, reason: 'neither crun nor runc is installed (apt-get install crun)', capabilities: CAPABILITIES, notes };
    for (const tool of ['unshare', 'ip', 'mount']) {
      if (!findBinary(tool)) return { available: false, reason: `${tool} is not installed (util-linux / iproute2)`, capabilities: CAPABILITIES, notes };
    }
    const layout = this.cgroups();
    if (!layout.controllers.memory) return { available: false, reason: 'no memory cgroup controller on this host', capabilities: CAPABILITIES, notes: [describeLayout(layout)] };
    const how = layout.mode === 'hybrid' ? ' with the hybrid-cgroup workaround (private mount namespace)' : '';
    notes.push(`runtime: ${rt.kind} (${rt.path})${how}${rt.kind === 'runc' ? '; crun not found: runc fallback' : ''}`, describeLayout(layout, rt.kind), this.warmNote(rt, layout));
    return { available: true, reason: notes.join('; '), capabilities: CAPABILITIES, notes };
  }

  async start(input: TaskSpec): Promise<TaskHandle> {
    const spec = input as CrunTaskSpec;
    const rt = this.pickRuntime();
    if (!rt) throw new DriverError('HANGAR_ERR_DRIVER_START', 'neither crun nor runc is installed');
    const id = containerId(spec.machineId, spec.instanceId);
    await this.clearPrevious(rt, id, spec.machineId);
    const cg = machineCgroup(this.cgroups(), id);
    const warm = this.warmEligible(spec) ? this.warm() : undefined;
    if (!warm) return this.startCold(spec, rt, id, cg);
    let image: ResolvedImage;
    try {
      image = await resolveImage(spec.image, () => this.imageStore());
    } catch (err) {
      if (err instanceof DriverError) throw err;
      throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot start machine ${spec.machineId}: ${(err as Error).message}`, { cause: err });
    }
    const kind = this.warmKind(spec, image, rt);
    const container = kind === undefined ? undefined : warm.take(kind, cg, spec.machineId);
    return container ? this.startWarm(spec, rt, cg, image, container) : this.startCold(spec, rt, id, cg, image);
  }

  /**
   * A start in a warm container (warm.ts): its limits, network and /etc files, then the
   * machine's process to its init, which execs it. Everything of the container's own set-up
   * happened before the machine was asked for.
   */
  private async startWarm(spec: CrunTaskSpec, rt: Runtime, cg: MachineCgroup, image: ResolvedImage, w: WarmContainer): Promise<TaskHandle> {
    const layout = this.cgroups();
    const nsPath = netnsPath(w.netns);
    let network: Promise<Awaited<ReturnType<WarmNetwork['take']>> | undefined> = Promise.resolve(undefined);
    try {
      const versions = Object.fromEntries(Object.entries(layout.controllers).map(([c, m]) => [c, m.version]));
      createMachineCgroup(layout, cg, limitWrites(spec.config.guest, this.opts.pidsLimit ?? 4096, versions));
      const net = this.opts.networkWarm?.take(spec);
      network = net ?? Promise.resolve(undefined);
      network.catch(() => undefined); // awaited (and its error thrown) before the process goes to the init
      const files = initFiles(spec.config.files ?? []);
      const layers = { ...layerPaths(w.bundle), lower: image.lower };
      // config.json now describes the machine (exec reads its process from there); the runtime read the warm one long ago.
      const proc = writeBundle({ spec, image, bundle: w.bundle, netnsPath: nsPath, nofile: nofileLimit(hostNofileHard()) }, layers);
      const taken = await network;
      const payload = encodeInitSpec({ hostname: proc.hostname, uid: proc.uid, gid: proc.gid, groups: [], cwd: proc.cwd, argv: proc.argv, env: proc.env, files, ...(taken ? { eth0: taken.eth0 } : {}) });
      w.child.stdin?.end(payload);
      const outcome = await readInitStatus(w.status, w.exited);
      if (outcome !== '') {
        const why = outcome ?? (readText(join(w.bundle, RUNTIME_LOG)).trim() || readText(join(w.bundle, 'stderr.log')).trim().split('\n').slice(-3).join('\n') || 'the warm container exited before its init ran');
        throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot start machine ${spec.machineId}: ${why}`);
      }
      // eth0 is up: the host's neighbour entry may be set now (not waited for: it only spares the
      // first packet a neighbour solicitation).
      if (taken) void taken.neighbour().catch(() => undefined);
      const pid = await waitForPid(join(w.bundle, PID_FILE), w.exited);
      if (pid === undefined) throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot start machine ${spec.machineId}: the warm container ${w.name} exited`);
      const handle: CrunHandle = {
        driver: 'crun',
        version: 1,
        machine_id: spec.machineId,
        instance_id: spec.instanceId,
        container_id: w.name,
        runtime: rt.path,
        runtime_root: rt.root,
        bundle: w.bundle,
        pid,
        start_ticks: readStat(pid)?.startTicks ?? 0,
        monitor_pid: w.monitorPid,
        monitor_start_ticks: w.monitorStartTicks,
        started_at: new Date().toISOString(),
        cgroup: cg,
        netns: w.netns,
        state_dir: spec.stateDir,
        created_state_dir: false,
        stdout_path: join(w.bundle, 'stdout.log'),
        stderr_path: join(w.bundle, 'stderr.log'),
        log_max_bytes: spec.logs.maxBytes,
      };
      const task = this.table.track(handle, false);
      void w.exited.then((status) => this.finish(task, readExitFile(exitFileOf(w.bundle)) ?? (status >= 0 ? status : undefined)));
      return handle;
    } catch (err) {
      killQuietly(w.monitorPid);
      await network.catch(() => undefined);
      await Promise.race([w.exited, new Promise((r) => setTimeout(r, 2000))]);
      await killCgroup(cg);
      if (existsSync(join(rt.root, w.name))) await runtimeDelete(rt, w.name).catch(() => undefined);
      removeMachineCgroup(cg);
      await removeNetns(w.netns, w.name, join(this.root, 'netns'));
      rmSync(w.bundle, { recursive: true, force: true });
      if (err instanceof DriverError) throw err;
      throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot start machine ${spec.machineId}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** A cold start: the monitor mounts the root and runs the runtime for this machine (module comment). */
  private async startCold(spec: CrunTaskSpec, rt: Runtime, id: string, cg: MachineCgroup, resolved?: ResolvedImage): Promise<TaskHandle> {
    const bundleDir = join(this.root, id);
    const layout = this.cgroups();
    const createdBundle = !existsSync(bundleDir);
    const markers = join(this.root, 'netns');
    const ownNs = netnsName(spec.machineId);
    const nsName = (!existsSync(netnsPath(ownNs)) ? this.opts.networkNetns?.(spec) : undefined) ?? ownNs;
    const nsPath = netnsPath(nsName);
    let network: Promise<void> = Promise.resolve();
    let entered: Promise<void> = Promise.resolve();
    let exitedEarly: Promise<number> | undefined;
    const undo = async (): Promise<void> => {
      await network.catch(() => undefined);
      await entered.catch(() => undefined);
      // A killed monitor leaves the cgroup only once it is gone.
      if (exitedEarly) await Promise.race([exitedEarly, new Promise((r) => setTimeout(r, 2000))]);
      // A runtime that got "go" (it may have run ahead to its gate) and the container's init are
      // in the cgroup too; the runtime's directory exists only once this start's runtime ran
      // (clearPrevious removed any earlier one).
      await killCgroup(cg);
      if (existsSync(join(rt.root, id))) await runtimeDelete(rt, id).catch(() => undefined);
      removeMachineCgroup(cg);
      await removeNetns(nsName, id, markers);
      if (createdBundle) rmSync(bundleDir, { recursive: true, force: true });
    };
    let child: ChildProcess | undefined;
    try {
      const hookCreates = this.opts.networkSetup !== undefined && this.opts.networkCreatesNetns === true;
      // The network strand: the netns, then the 6PN hook (`ip` processes, on the other core).
      // Without a hook nothing else configures the netns, so ensureNetns brings loopback up itself.
      const kickNetwork = async (): Promise<void> => {
        network = (async () => {
          // Synchronous when the hook makes the netns, so that with a prepared netns the hook has
          // handed its lines to the waiting `ip` processes before this call returns.
          if (hookCreates) markNetns(nsName, id, markers);
          else await ensureNetns(nsName, id, markers, { loopback: !this.opts.networkSetup });
          if (this.opts.networkSetup) await this.opts.networkSetup(nsPath, spec);
        })();
        network.catch(() => undefined); // awaited (and its error thrown) before the handshake
        // The file work that follows never yields: let the network strand get its first `ip`
        // process running before it, or the two strands would run one after the other. A
        // prepared netns needs no new process, and the turn of the event loop would only cost time.
        if (nsName === ownNs || !hookCreates) await new Promise((r) => setImmediate(r));
      };
      const image = resolved ?? (await resolveImage(spec.image, () => this.imageStore()));
      installMonitor(this.monitorScript);
      const createdStateDir = !existsSync(spec.stateDir);
      mkdirSync(spec.stateDir, { recursive: true });
      const stdoutPath = join(spec.stateDir, 'stdout.log');
      const stderrPath = join(spec.stateDir, 'stderr.log');
      const pidFile = join(bundleDir, PID_FILE);
      const exitFile = exitFileOf(bundleDir);
      const logFile = join(bundleDir, RUNTIME_LOG);
      // What the overlay mount needs first, so that the monitor mounts while the rest is written.
      const layers = prepareRootfs({ spec, image, bundle: bundleDir });
      for (const f of [pidFile, exitFile, logFile]) rmSync(f, { force: true });
      const params = { bundle: bundleDir, lower: image.lower, runtimeArgv: runArgv(rt, id) };
      // A spare monitor (spares.ts) is already in its namespace and its cgroup, which becomes
      // the machine's by a rename; else one is spawned now.
      const spare = this.spares()?.take(cg);
      const versions = Object.fromEntries(Object.entries(layout.controllers).map(([c, m]) => [c, m.version]));
      // The limits, before the runtime may start ("go"); with a spare, after its hand-over.
      const limit = (): void => createMachineCgroup(layout, cg, limitWrites(spec.config.guest, this.opts.pidsLimit ?? 4096, versions));
      let monitorPid: number;
      let monitorStartTicks: number;
      let exited: Promise<number>;
      // A spare's gate lets the runtime run ahead as soon as config.json is written, up to the
      // container's last steps, while the network is still being set up (oci-spec.ts `gateHook`).
      // Only into a netns that exists already: a prepared one (src/net/pool.ts) does, one the
      // network strand makes now may still be half made. Without a gate "go" waits for the network.
      let gate: string | undefined;
      if (spare) {
        if (spare.gate !== undefined && nsName !== ownNs) {
          try {
            renameSync(spare.gate, gateFileOf(bundleDir));
            gate = gateFileOf(bundleDir);
          } catch {
            // started without a gate
          }
        }
        if (spare.gate !== undefined && gate === undefined) rmSync(spare.gate, { force: true });
        child = spare.child;
        monitorPid = spare.pid;
        monitorStartTicks = spare.startTicks;
        exited = spare.exited;
        // The monitor's overlay mount (its own process) is the head of the longest strand now:
        // it goes first, the network's `ip` batches after it.
        child.stdin?.write(spareInput(params, stdoutPath, stderrPath));
        limit();
        await kickNetwork();
      } else {
        // The network first: its `ip` processes run while the monitor is spawned (which blocks
        // this thread for the fork). The monitor's move into the cgroup waits for a kernel grace
        // period (cgroups.ts enterCgroupAsync) and its unmount and mount are processes of their
        // own: all run alongside the rest of the bundle and the network setup.
        limit();
        await kickNetwork();
        const fresh = spawnMonitor({ script: this.monitorScript, unmount: layout.mode === 'hybrid' ? (layout.hybridUnified ?? '') : '', ...params }, stdoutPath, stderrPath);
        child = fresh;
        if (fresh.pid === undefined) throw new DriverError('HANGAR_ERR_DRIVER_START', 'cannot spawn unshare for the machine monitor');
        monitorPid = fresh.pid;
        fresh.unref();
        monitorStartTicks = readStat(monitorPid)?.startTicks ?? 0;
        exited = new Promise<number>((resolve) => fresh.once('exit', (code: number | null) => resolve(code ?? -1)));
        entered = enterCgroupAsync(cg, monitorPid);
        entered.catch(() => undefined); // awaited before the handshake
      }
      const monitor = child;
      exitedEarly = exited;
      writeBundle(
        {
          spec,
          image,
          bundle: bundleDir,
          netnsPath: nsPath,
          nofile: nofileLimit(hostNofileHard()),
          // runc cannot leave cgroups alone: give it a child of the machine's cgroup, so our limits still hold.
          ...(rt.kind === 'runc' ? { cgroupsPath: `/hangar/${id}/runc` } : {}),
          ...(gate === undefined ? {} : { gate }),
        },
        layers,
      );
      // With a gate (a spare: already in the machine's cgroup) the runtime starts now.
      if (gate !== undefined) go(monitor);
      await network;
      await entered;
      if (gate === undefined) go(monitor);
      else if (await openGate(gate, exited)) rmSync(gate, { force: true });
      const pid = await waitForPid(pidFile, exited);
      if (pid === undefined) {
        const why = readText(logFile).trim() || readText(stderrPath).trim().split('\n').slice(-3).join('\n') || 'the runtime exited before the container started';
        throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot start machine ${spec.machineId}: ${why}`);
      }
      const handle: CrunHandle = {
        driver: 'crun',
        version: 1,
        machine_id: spec.machineId,
        instance_id: spec.instanceId,
        container_id: id,
        runtime: rt.path,
        runtime_root: rt.root,
        bundle: bundleDir,
        pid,
        start_ticks: readStat(pid)?.startTicks ?? 0,
        monitor_pid: monitorPid,
        monitor_start_ticks: monitorStartTicks,
        started_at: new Date().toISOString(),
        cgroup: cg,
        netns: nsName,
        state_dir: spec.stateDir,
        created_state_dir: createdStateDir,
        stdout_path: stdoutPath,
        stderr_path: stderrPath,
        log_max_bytes: spec.logs.maxBytes,
      };
      const task = this.table.track(handle, false);
      void exited.then((status) => this.finish(task, readExitFile(exitFile) ?? (status >= 0 ? status : undefined)));
      return handle;
    } catch (err) {
      if (child?.pid !== undefined) killQuietly(child.pid);
      await undo();
      if (err instanceof DriverError) throw err;
      throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot start machine ${spec.machineId}: ${(err as Error).message}`, { cause: err });
    }
  }

  wait(handle: TaskHandle): Promise<ExitResult> {
    return this.table.wait(handle);
  }

  async stop(handle: TaskHandle, opts: StopOptions): Promise<ExitResult> {
    const task = this.table.attach(handle);
    if (task.exit) return task.exit;
    return stopWithTimeout(() => this.wait(handle), (sig) => this.kill(task, sig), signalName(opts.signal), opts.timeoutMs);
  }

  async signal(handle: TaskHandle, sig: string | number): Promise<void> {
    const task = this.table.attach(handle);
    const name = signalName(sig);
    if (!this.checkAlive(task)) throw notRunning(task);
    this.kill(task, name);
  }

  async destroy(handle: TaskHandle): Promise<void> {
    const task = this.table.attach(handle);
    const h = task.handle;
    if (!task.exit) await this.stop(handle, { signal: 'SIGKILL', timeoutMs: 5000 });
    const problems: string[] = [];
    await until(() => !sameProcess(h.monitor_pid, h.monitor_start_ticks), 5000);
    const rt: Runtime = { kind: h.runtime.endsWith('runc') ? 'runc' : 'crun', path: h.runtime, root: h.runtime_root };
    if (existsSync(join(h.runtime_root, h.container_id))) {
      const r = await runtimeDelete(rt, h.container_id);
      if (r.code !== 0 && existsSync(join(h.runtime_root, h.container_id))) problems.push(`runtime delete: ${r.stderr.trim()}`);
    }
    // Whatever still sits in the machine's cgroup (an exec helper, a monitor stuck in its handshake) is the machine's.
    await killCgroup(h.cgroup);
    problems.push(...removeMachineCgroup(h.cgroup));
    const markers = join(this.root, 'netns');
    if (this.opts.networkTeardown && netnsOwnedBy(h.netns, h.container_id, markers)) await this.opts.networkTeardown(join('/run/netns', h.netns), handle);
    const nsProblem = await removeNetns(h.netns, h.container_id, markers);
    if (nsProblem) problems.push(nsProblem);
    if (h.bundle === join(this.root, h.container_id)) rmSync(h.bundle, { recursive: true, force: true });
    this.table.forget(h.container_id);
    for (const p of [h.stdout_path, h.stderr_path, rotatedPath(h.stdout_path), rotatedPath(h.stderr_path)]) rmSync(p, { force: true });
    if (h.created_state_dir) {
      try {
        rmdirSync(h.state_dir); // only when empty: anything else in it is not ours
      } catch {
        // not empty or already gone
      }
    }
    // No driver error code fits a failed cleanup yet (reported to the lead: HANGAR_ERR_DRIVER_CLEANUP).
    if (problems.length > 0) throw new DriverError('HANGAR_ERR_DRIVER_CLEANUP', `destroy of ${h.container_id} left: ${problems.join('; ')}`);
  }

  async inspect(handle: TaskHandle): Promise<TaskInspection> {
    const task = this.table.attach(handle);
    this.checkAlive(task);
    return { running: task.exit === undefined, pid: task.handle.pid, started_at: task.handle.started_at, ...(task.exit ? { exit: task.exit } : {}) };
  }

  async recover(handle: TaskHandle): Promise<'running' | 'exited'> {
    return this.checkAlive(this.table.attach(handle)) ? 'running' : 'exited';
  }

  async exec(handle: TaskHandle, opts: ExecOptions): Promise<ExecResult> {
    const task = this.table.attach(handle);
    if (!this.checkAlive(task)) throw notRunning(task);
    const h = task.handle;
    installMonitor(this.monitorScript);
    const runtime: Runtime = { kind: h.runtime.endsWith('runc') ? 'runc' : 'crun', path: h.runtime, root: h.runtime_root };
    return execInMachine({ runtime, containerId: h.container_id, bundle: h.bundle, cgroup: h.cgroup, monitorScript: this.monitorScript }, opts);
  }

  async ps(handle: TaskHandle): Promise<ProcessStat[]> {
    const task = this.table.attach(handle);
    if (!this.checkAlive(task)) return [];
    return machineProcessStats(task.handle.cgroup, task.handle.pid);
  }

  logs(handle: TaskHandle, opts: LogFollowOptions): LogSubscription {
    return this.table.follow(handle, opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.warmContainers?.close();
    await this.spareMonitors?.close();
    this.table.close();
  }

  private pickRuntime(): Runtime | undefined {
    if (this.runtimeChoice) return this.runtimeChoice;
    const want = this.opts.runtime ?? 'auto';
    for (const kind of want === 'auto' ? (['crun', 'runc'] as const) : [want]) {
      const path = findBinary(kind);
      if (path) return (this.runtimeChoice = { kind, path, root: DEFAULT_ROOTS[kind] });
    }
    return undefined;
  }

  /** The spare monitors, made on first use; null where they cannot or should not be used. */
  private spares(): SpareMonitors | undefined {
    if (this.spareMonitors === undefined) {
      const size = this.opts.spareMonitors ?? 3;
      const layout = this.cgroups();
      if (size <= 0 || this.closed || process.getuid?.() !== 0 || !sparesSupported(layout)) this.spareMonitors = null;
      else {
        installMonitor(this.monitorScript);
        const rt = this.pickRuntime();
        let readonlyRuntime: { path: string; copy: string } | undefined;
        if (rt?.kind === 'crun') {
          // The mount point of the spares' read-only bind of crun (monitor.ts): an empty file of ours.
          readonlyRuntime = { path: rt.path, copy: join(this.root, 'crun.ro') };
          if (!existsSync(readonlyRuntime.copy)) writeFileSync(readonlyRuntime.copy, '', { mode: 0o500 });
        }
        // The refill waits until the machine that took a spare is likely past its own start-up,
        // so the new spare's processes do not compete with it for the CPU.
        this.spareMonitors = new SpareMonitors({
          script: this.monitorScript,
          layout,
          owner: this.root,
          size,
          refillDelayMs: 200,
          gateDir: join(this.root, 'gates'),
          ...(readonlyRuntime ? { readonlyRuntime } : {}),
        });
      }
    }
    return this.spareMonitors ?? undefined;
  }

  /**
   * Whether a start may use a warm container: its bundle must not need the machine before the
   * runtime runs (volumes are mounts in config.json, a persistent root is the machine's own
   * upper dir). `files[]` are written by the init.
   */
  private warmEligible(spec: CrunTaskSpec): boolean {
    return spec.mounts.length === 0 && !keepsRootfs(spec.config.rootfs?.persist);
  }

  /** The warm kind of a start (image and network), or undefined when its network cannot say which. */
  private warmKind(spec: CrunTaskSpec, image: ResolvedImage, rt: Runtime): WarmKind | undefined {
    if (rt.kind !== 'crun') return undefined;
    const markers = join(this.root, 'netns');
    const net = this.opts.networkWarm;
    if (net) {
      const key = net.key(spec);
      if (key === undefined) return undefined;
      return {
        key: `${image.lower}|${key}`,
        lower: image.lower,
        // A member of the machine's network (this spec stands for any machine of it), marked before it is made.
        netns: (container) => {
          const made = net.member(spec);
          if (made !== undefined) markNetns(made.netns, container, markers);
          return made;
        },
      };
    }
    if (this.opts.networkSetup) return undefined;
    return {
      key: `${image.lower}|`,
      lower: image.lower,
      netns: (container) => {
        markNetns(container, container, markers);
        return { netns: container, host: `netns add ${container}\n`, inside: 'link set lo up\n' };
      },
    };
  }

  /** Why starts cannot use warm containers here, or undefined when they can. */
  private warmOff(rt: Runtime | undefined, layout: CgroupLayout): string | undefined {
    if ((this.opts.warmContainers ?? 3) <= 0) return 'turned off';
    if (rt?.kind !== 'crun') return 'they need crun';
    if (process.getuid?.() !== 0) return 'they need root';
    // a take renames the container's cgroup, as for spares (spares.ts)
    if (!sparesSupported(layout)) return 'a cgroup v2 controller cannot be renamed';
    if (initBinary() === undefined) return 'hangar-init was not built (no C compiler at build time: apt-get install gcc libc6-dev, then npm run build)';
    if (this.opts.networkSetup && !this.opts.networkWarm) return 'the network hook has no warm side';
    return undefined;
  }

  /** Whether starts can use warm containers here, and if not why (for `hangar server`'s start-up notes). */
  private warmNote(rt: Runtime, layout: CgroupLayout): string {
    const why = this.warmOff(rt, layout);
    return why === undefined ? 'warm containers: on (starts of a machine kind seen before skip the container set-up)' : `warm containers: off, ${why}; every start is cold`;
  }

  /** The warm containers, made on first use; undefined where they cannot or should not be used. */
  private warm(): WarmContainers | undefined {
    if (this.warmContainers === undefined) {
      const size = this.opts.warmContainers ?? 3;
      const rt = this.pickRuntime();
      const init = initBinary();
      if (this.closed || rt === undefined || init === undefined || this.warmOff(rt, this.cgroups()) !== undefined) this.warmContainers = null;
      else {
        this.warmContainers = new WarmContainers({
          script: this.monitorScript,
          layout: this.cgroups(),
          root: this.root,
          runtime: rt,
          initBinary: init,
          markers: join(this.root, 'netns'),
          nofile: nofileLimit(hostNofileHard()),
          size,
          refillDelayMs: 200,
          idleMs: 10 * 60_000,
          readonlyRuntime: { path: rt.path, copy: join(this.root, 'crun.ro') },
        });
      }
    }
    return this.warmContainers ?? undefined;
  }

  private cgroups(): CgroupLayout {
    return (this.layout ??= detectCgroups());
  }

  private imageStore(): Promise<ImageStore> {
    return (this.images ??= ImageStore.open({ dataDir: this.opts.dataDir }));
  }

  /** Before a start: the previous run of this machine version must be gone (a running one is refused). */
  private async clearPrevious(rt: Runtime, id: string, machineId: string): Promise<void> {
    const cg = machineCgroup(this.cgroups(), id);
    // A warm run is tracked under its warm container's id, in the machine's cgroup.
    const known = this.table.get(id) ?? this.table.find((t) => t.handle.cgroup.dirs.memory !== undefined && t.handle.cgroup.dirs.memory === cg.dirs.memory);
    if (known && this.checkAlive(known)) throw new DriverError('HANGAR_ERR_DRIVER_START', `container ${known.handle.container_id} is already running`);
    if (existsSync(join(rt.root, id))) {
      const state = await runtimeState(rt, id);
      if (state?.status === 'running' || state?.status === 'created') throw new DriverError('HANGAR_ERR_DRIVER_START', `container ${id} is already ${state.status}`);
      // No state: a start that never finished, e.g. an agent killed while the container waited
      // at its gate (the runtime writes the state only after the hook). What is left of it (the
      // monitor, the runtime, the hook, the container's init) is in the machine's cgroup.
      if (state === undefined) await killCgroup(cg);
      await runtimeDelete(rt, id);
    }
    // A machine cgroup that nothing here follows: a start that took a warm container and died
    // (the agent was killed) before its handle was stored. What runs there is that start's and
    // must not run twice.
    if (!known && cg.dirs.memory !== undefined && existsSync(cg.dirs.memory)) {
      await killCgroup(cg);
      await this.warm()?.removeOrphaned(machineId, cg, (name) => this.table.get(name) !== undefined);
    }
    this.table.forget(id);
    // The last run's cgroup was kept for its OOM counter; it is empty now.
    removeMachineCgroup(cg);
  }

  /** true while the machine runs; for a polled task, this is where its exit is noticed. */
  private checkAlive(task: Task): boolean {
    if (task.exit) return false;
    const h = task.handle;
    if (sameProcess(h.pid, h.start_ticks)) return true;
    if (!task.polled) return !task.exit;
    // The init is gone; the monitor records the status once the runtime has cleaned up.
    if (sameProcess(h.monitor_pid, h.monitor_start_ticks)) return true;
    this.finish(task, readExitFile(exitFileOf(h.bundle)));
    return false;
  }

  private finish(task: Task, status: number | undefined): void {
    if (task.exit) return;
    const result = exitResult(status, oomKills(task.handle.cgroup) > 0);
    this.table.flushLogs(task.key);
    this.table.settle(task, result);
  }

  private kill(task: Task, sig: NodeJS.Signals): void {
    if (!sameProcess(task.handle.pid, task.handle.start_ticks)) return;
    killQuietly(task.handle.pid, sig);
  }

}

/**
 * The ExitResult of a runtime exit status: the runtime reports a signal death as 128 + signal
 * (shell convention), so 129..192 is read as a signal. An OOM kill is a SIGKILL in a cgroup whose
 * OOM counter moved.
 */
export function exitResult(status: number | undefined, oomCounted: boolean, at = new Date()): ExitResult {
  if (status === undefined) return { exit_code: -1, exit_code_unknown: true, oom_killed: oomCounted, exited_at: at.toISOString() };
  if (status > 128 && status <= 128 + 64) {
    try {
      const r = killedBy(signalName(status - 128), at);
      return { ...r, oom_killed: oomCounted && r.signal === 'SIGKILL' };
    } catch {
      // not a signal number this host knows: a plain exit code
    }
  }
  return { exit_code: status, oom_killed: false, exited_at: at.toISOString() };
}

function sameProcess(pid: number, startTicks: number): boolean {
  const st = readStat(pid);
  return st !== undefined && st.startTicks === startTicks && st.state !== 'Z' && st.state !== 'X';
}

function killQuietly(pid: number, sig: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone meanwhile
  }
}

function notRunning(task: Task): DriverError {
  return new DriverError('HANGAR_ERR_DRIVER_NOT_RUNNING', `machine ${task.handle.machine_id} (container ${task.handle.container_id}) is not running`);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The machine's `files[]` for its init, checked as a cold start checks them (rootfs.ts `writeMachineFiles`). */
function initFiles(files: readonly MachineFile[]): InitFile[] {
  return files.map((f, i) => {
    if (!f.guest_path || !f.guest_path.startsWith('/')) throw new DriverError('HANGAR_ERR_DRIVER_START', `files[${i}].guest_path must be an absolute path`);
    if (f.raw_value === undefined) throw new DriverError('HANGAR_ERR_DRIVER_START', `files[${i}] (${f.guest_path}) has no raw_value: the agent must resolve secret_name into raw_value`);
    return { path: f.guest_path, mode: (f.mode ?? 0o644) & 0o7777, base64: f.raw_value };
  });
}

function hostNofileHard(): number | undefined {
  return parseNofileHard(readText('/proc/self/limits'));
}

/** The container's pid once the runtime wrote it; undefined when the monitor exited first. */
async function waitForPid(pidFile: string, exited: Promise<number>): Promise<number | undefined> {
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (let delay = 1; Date.now() < deadline; delay = Math.min(delay * 2, 20)) {
    const text = readText(pidFile).trim();
    if (/^\d+$/.test(text)) return Number(text);
    if (done) return undefined;
    await new Promise((r) => setTimeout(r, delay));
  }
  return undefined;
}


