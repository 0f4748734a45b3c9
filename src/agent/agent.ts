/**
 * The host agent ("flyd", ARCHITECTURE.md "Data flow"): watches the `machine` records placed on
 * its host and converges each toward its desired state through the runtime driver, reporting the
 * observed state back with compare-and-set writes.
 *
 * The agent acts when a request is pending (`generation` > `applied_generation`), when a machine
 * must be destroyed, or when a machine that should run has no task (after a restart of the agent).
 * Work is serialized per machine (queue.ts) and concurrent across machines. On start it first
 * re-attaches to the tasks of its persisted handles (STYLE.md habit 4), so a restarted agent
 * neither loses nor duplicates running machines.
 */
import { join } from 'node:path';
import type { Bus, Subscription } from '../bus/types.js';
import { createSecretBox, loadSecretKey, type SecretBox } from '../control/secrets/crypto.js';
import type { MachineState } from '../core/machine/types.js';
import { KINDS, type AddressMode } from '../core/model.js';
import type { RuntimeDriver } from '../drivers/types.js';
import type { StateStore, StoreWatcher } from '../store/types.js';
import { HandleStore, type TaskHandleRecord } from './handles.js';
import { silentLogger, type AgentLogger } from './logger.js';
import { PortAllocator } from './ports.js';
import { KeyedQueue } from './queue.js';
import { updateMachine, withEvent } from './records.js';
import { DEFAULT_BACKOFF, DEFAULT_MAX_RETRIES, type BackoffOptions } from './restart-policy.js';
import { registerResponders } from './responders.js';
import { MachineRunner } from './runner.js';
import { newSlot, type Slot } from './slot.js';
import { DEFAULT_LOG_MAX_BYTES, type ImageResolver } from './spec.js';
import type { MachineRecord } from '../core/machine/types.js';

export interface AgentOptions {
  readonly store: StateStore;
  readonly bus: Bus;
  readonly driver: RuntimeDriver;
  readonly hostId: string;
  /** Machines' state dirs go under `<dataDir>/machines`; the secrets key is `<dataDir>/secrets.key`. */
  readonly dataDir: string;
  /** `loopback` (process driver: 127.77.x.y + allocated PORTs) or `6pn`. Default `loopback`. */
  readonly addressMode?: AddressMode;
  readonly backoff?: BackoffOptions;
  /** `max_retries` of an on-failure policy that sets none. */
  readonly defaultMaxRetries?: number;
  readonly logger?: AgentLogger;
  readonly logMaxBytes?: number;
  /** Variables every machine gets unless its config sets them; default: the agent's PATH. */
  readonly hostEnv?: Readonly<Record<string, string>>;
  /** Resolves OCI image references (crun); without it only `dir:` images run. */
  readonly images?: ImageResolver;
}

/** States in which a machine that wants to run should have a task. */
const SHOULD_RUN: ReadonlySet<MachineState> = new Set<MachineState>(['created', 'starting', 'started', 'restarting', 'updating', 'replacing']);

export class Agent {
  readonly hostId: string;
  private readonly store: StateStore;
  private readonly driver: RuntimeDriver;
  private readonly bus: Bus;
  private responders: Subscription[] = [];
  private readonly log: AgentLogger;
  private readonly handles: HandleStore;
  private readonly ports = new PortAllocator();
  private readonly queue: KeyedQueue;
  private readonly runner: MachineRunner;
  private readonly slots = new Map<string, Slot>();
  /** machine id → its private address, from every record seen. */
  private readonly knownAddresses = new Map<string, string>();
  private watcher: StoreWatcher<MachineRecord> | undefined;
  private watchDone: Promise<void> | undefined;
  private closed = false;
  private suspendCapable = false;
  /** The driver mounts volumes inside machines (set from its fingerprint at start). */
  private driverMounts = false;

  constructor(opts: AgentOptions) {
    this.hostId = opts.hostId;
    this.store = opts.store;
    this.driver = opts.driver;
    this.bus = opts.bus;
    this.log = opts.logger ?? silentLogger;
    this.handles = new HandleStore(opts.store, opts.hostId);
    this.queue = new KeyedQueue((id, err) => this.log.error({ machine: id, err: err instanceof Error ? err.stack : String(err) }, 'machine operation failed'));
    let box: SecretBox | undefined;
    const secretBox = () => (box ??= createSecretBox(loadSecretKey(join(opts.dataDir, 'secrets.key'))));
    this.runner = new MachineRunner({
      store: opts.store,
      bus: opts.bus,
      driver: opts.driver,
      handles: this.handles,
      ports: this.ports,
      spec: {
        store: opts.store,
        dataDir: opts.dataDir,
        secretBox,
        hostDefaults: opts.hostEnv ?? { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' },
        logMaxBytes: opts.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES,
        ...(opts.images === undefined ? {} : { images: opts.images }),
        driverMounts: () => this.driverMounts,
      },
      addressMode: opts.addressMode ?? 'loopback',
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      defaultMaxRetries: opts.defaultMaxRetries ?? DEFAULT_MAX_RETRIES,
      log: this.log,
      usedAddresses: () => this.usedAddresses(),
      noteAddress: (id, address) => void this.knownAddresses.set(id, address),
      onRestartDue: (slot) => void this.queue.run(slot.id, () => this.restartDue(slot)),
      reschedule: (id) => this.schedule(id),
    });
    this.runner.noticeExit = (slot, token, exit) => {
      if (slot.stopping || slot.token !== token || this.closed) return;
      void this.queue.run(slot.id, () => this.runner.handleExit(slot, token, exit));
    };
  }

  /**
   * Re-attaches to the machines of the persisted handles, then follows the store and answers
   * `agent.<host>.exec|ps|signal` requests.
   */
  async start(): Promise<void> {
    const fp = await this.driver.fingerprint();
    this.suspendCapable = fp.capabilities.suspend;
    this.driverMounts = fp.capabilities.mounts === true;
    const recs = await this.handles.list();
    await Promise.all(recs.map((h) => this.queue.run(h.machine_id, () => this.recoverOne(h))));
    this.log.info({ host: this.hostId, handles: recs.length }, 'agent recovered persisted machines');
    const watcher = await this.store.watch<MachineRecord>(KINDS.machine);
    this.watcher = watcher;
    this.watchDone = this.follow(watcher);
    this.responders = registerResponders({ bus: this.bus, driver: this.driver, hostId: this.hostId, runningHandle: (id) => this.runningHandle(id) });
  }

  /**
   * Stops following the store and waits for running operations. Machines keep running unless
   * `stopMachines` (then each is stopped as its config asks and recorded `stopped`).
   */
  async close(opts: { stopMachines?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    for (const r of this.responders) r.unsubscribe();
    this.watcher?.close();
    await this.watchDone;
    if (opts.stopMachines) {
      for (const slot of this.slots.values()) {
        void this.queue.run(slot.id, async () => {
          const rec = (await this.store.get<MachineRecord>(KINDS.machine, slot.id))?.value;
          if (rec && slot.task) await this.runner.stop(slot, rec, false);
        });
      }
    }
    this.closed = true;
    for (const slot of this.slots.values()) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
    }
    await this.queue.idle();
    for (const slot of this.slots.values()) slot.task?.logs.close();
  }

  /** The running task of a machine on this host (for exec/ps/signal), or undefined. */
  runningHandle(machineId: string) {
    const slot = this.slots.get(machineId);
    return slot?.task && !slot.suspended ? slot.task.handle : undefined;
  }

  /** Resolves once every queued machine operation has run (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async follow(watcher: StoreWatcher<MachineRecord>): Promise<void> {
    try {
      for await (const ev of watcher) {
        if (ev.type === 'snapshot') for (const e of ev.entities) this.observe(e.value);
        else if (ev.type === 'put') this.observe(ev.entity.value);
        else if (ev.entity.value.host === this.hostId) this.schedule(ev.entity.id);
      }
    } catch (err) {
      if (!this.closed) this.log.error({ err: String(err) }, 'machine watch ended');
    }
  }

  private observe(rec: MachineRecord): void {
    if (rec.host !== this.hostId || this.closed) return;
    if (this.needsWork(rec)) this.schedule(rec.id);
  }

  private needsWork(rec: MachineRecord): boolean {
    const slot = this.slots.get(rec.id);
    if (rec.state === 'destroyed') return slot !== undefined;
    if (rec.desired === 'destroyed' || rec.generation > rec.applied_generation) return true;
    const running = slot?.task !== undefined;
    if (rec.desired === 'started') return !running && SHOULD_RUN.has(rec.state) && slot?.restartTimer === undefined;
    return running && !(rec.desired === 'suspended' && slot?.suspended);
  }

  private schedule(id: string): void {
    if (this.closed) return;
    const slot = this.slots.get(id);
    if (slot?.convergeQueued) return;
    if (slot) slot.convergeQueued = true;
    void this.queue.run(id, async () => {
      const s = this.slots.get(id);
      if (s) s.convergeQueued = false;
      if (!this.closed) await this.converge(id);
    });
  }

  private slotFor(rec: MachineRecord): Slot {
    let slot = this.slots.get(rec.id);
    if (!slot) {
      slot = newSlot(rec.id, rec.app, rec.region);
      this.slots.set(rec.id, slot);
    }
    return slot;
  }

  /** Addresses of this host's machines; each record keeps its own stable once assigned. */
  private usedAddresses(): Set<string> {
    return new Set(this.knownAddresses.values());
  }

  /** One pass of convergence for one machine, from its current record. */
  private async converge(id: string): Promise<void> {
    const ent = await this.store.get<MachineRecord>(KINDS.machine, id);
    const existing = this.slots.get(id);
    if (!ent || ent.value.host !== this.hostId || ent.value.state === 'destroyed') {
      if (existing) {
        await this.runner.forgetTask(existing);
        this.slots.delete(id);
        this.knownAddresses.delete(id);
      }
      return;
    }
    const rec = ent.value;
    if (rec.private_ip) this.knownAddresses.set(id, rec.private_ip);
    const slot = this.slotFor(rec);
    if (rec.desired === 'destroyed') {
      await this.runner.destroy(slot, rec);
      this.slots.delete(id);
      this.knownAddresses.delete(id);
      return;
    }
    const generation = rec.generation;
    const pending = generation > rec.applied_generation;
    if (pending && slot.restartTimer) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
    }
    switch (rec.desired) {
      case 'started':
        return this.convergeStarted(slot, rec, pending);
      case 'stopped':
      case 'created':
        if (slot.task) await this.runner.stop(slot, rec, false, rec.desired === 'created' ? 'created' : 'stopped');
        else if (pending) await this.markApplied(rec, rec.desired === 'created' && rec.state === 'created' ? 'created' : 'stopped');
        return;
      case 'suspended':
        return this.convergeSuspended(slot, rec, pending);
    }
  }

  private async convergeStarted(slot: Slot, rec: MachineRecord, pending: boolean): Promise<void> {
    const task = slot.task;
    if (task) {
      if (slot.suspended && this.driver.resume) {
        await this.driver.resume(task.handle);
        slot.suspended = false;
        await this.markApplied(rec, 'started', 'start');
        return;
      }
      if (!pending) return;
      // A restart or an update replaces the running task; a start of a running machine is a no-op.
      const replace = task.instanceId !== rec.instance_id || rec.state === 'restarting' || rec.state === 'updating';
      if (!replace) return this.markApplied(rec, 'started');
      await this.runner.stop(slot, rec, true);
      return this.runner.start(slot, rec, rec.generation, true);
    }
    if (!pending && (!SHOULD_RUN.has(rec.state) || slot.restartTimer)) return;
    await this.runner.start(slot, rec, pending ? rec.generation : rec.applied_generation, pending);
  }

  private async convergeSuspended(slot: Slot, rec: MachineRecord, pending: boolean): Promise<void> {
    const task = slot.task;
    if (task && !slot.suspended) {
      if (this.suspendCapable && this.driver.suspend) {
        await this.driver.suspend(task.handle);
        slot.suspended = true;
        return this.markApplied(rec, 'suspended', 'suspend');
      }
      // Without memory snapshots a suspend is a stop (reference §1a: a cold boot follows).
      return this.runner.stop(slot, rec, false);
    }
    if (pending) await this.markApplied(rec, slot.suspended ? 'suspended' : 'stopped');
  }

  /** Records that the pending request needed no driver action (or only a resume/suspend). */
  private async markApplied(rec: MachineRecord, state: MachineState, event?: 'start' | 'suspend'): Promise<void> {
    await updateMachine(this.store, rec.id, (r) => {
      if (r.state === 'destroyed') return undefined;
      if (r.generation <= rec.generation) r.state = state;
      r.applied_generation = Math.max(r.applied_generation, rec.generation);
      return event ? withEvent(r, { type: event, status: state, source: 'flyd' }) : r;
    });
  }

  /** A restart's backoff is over: start again unless a request or a destroy came meanwhile. */
  private async restartDue(slot: Slot): Promise<void> {
    if (this.closed || slot.task) return;
    const rec = (await this.store.get<MachineRecord>(KINDS.machine, slot.id))?.value;
    if (!rec) return;
    if (rec.desired !== 'started' || rec.state === 'destroyed' || rec.generation > rec.applied_generation) {
      this.schedule(slot.id);
      return;
    }
    await this.runner.start(slot, rec, rec.applied_generation, false);
  }

  /** Re-attaches to one persisted handle, or records the exit of a task that ended meanwhile. */
  private async recoverOne(h: TaskHandleRecord): Promise<void> {
    const rec = (await this.store.get<MachineRecord>(KINDS.machine, h.machine_id))?.value;
    if (!rec || rec.host !== this.hostId || rec.state === 'destroyed') {
      // The handle proves we started it; nothing wants it any more.
      const orphan = newSlot(h.machine_id, rec?.app ?? '', rec?.region ?? '');
      if (h.handle) orphan.task = { handle: h.handle, instanceId: h.instance_id, token: 0, logs: { close() {} } };
      await this.runner.forgetTask(orphan);
      return;
    }
    const slot = this.slotFor(rec);
    slot.ports = { ...h.ports };
    if (rec.private_ip) this.knownAddresses.set(rec.id, rec.private_ip);
    if (!h.handle) return;
    let status: 'running' | 'exited' | 'lost';
    try {
      status = await this.driver.recover(h.handle);
    } catch (err) {
      this.log.warn({ machine: rec.id, err: String(err) }, 'cannot recover machine from its handle');
      status = 'lost';
    }
    if (status === 'running') {
      this.ports.claim(rec.id, h.ports);
      this.runner.attach(slot, h.handle, h.instance_id);
      return;
    }
    const exit =
      status === 'exited'
        ? await this.driver.wait(h.handle)
        : { exit_code: -1, exit_code_unknown: true, oom_killed: false, exited_at: new Date().toISOString() };
    // Adopt the task without following it, so its exit goes through the usual path.
    slot.task = { handle: h.handle, instanceId: h.instance_id, token: ++slot.token, logs: { close() {} } };
    await this.runner.handleExit(slot, slot.token, exit);
  }
}
