/**
 * The operations the agent performs on one machine: start, stop, destroy, and what follows an
 * exit. Each runs inside the machine's queue job (agent.ts), reads what it needs, acts through
 * the driver and records the outcome with compare-and-set writes (records.ts).
 */
import type { Bus } from '../bus/types.js';
import { parseGoDuration, NS_PER_MS } from '../core/duration.js';
import { KINDS, type AddressMode, type MachineRouting, type VolumeRecord } from '../core/model.js';
import { signalName, type ExitResult, type RuntimeDriver, type TaskHandle } from '../drivers/types.js';
import type { StateStore } from '../store/types.js';
import type { AgentLogger } from './logger.js';
import { internalPorts } from './env.js';
import type { HandleStore } from './handles.js';
import { forwardLogs } from './logs.js';
import { loopbackAddress, type PortAllocator } from './ports.js';
import { exitMachineEvent, updateMachine, withEvent } from './records.js';
import { decideAfterExit, type BackoffOptions, type RestartDecision } from './restart-policy.js';
import type { Slot } from './slot.js';
import { buildTaskSpec, type SpecContext } from './spec.js';
import type { MachineRecord } from '../core/machine/types.js';

/** Fly's stop defaults (reference §1a: POST /stop, signal default SIGINT); timeout as flyd's 5 s. */
export const DEFAULT_STOP_SIGNAL = 'SIGINT';
export const DEFAULT_STOP_TIMEOUT_MS = 5000;

export interface RunnerDeps {
  readonly store: StateStore;
  readonly bus: Bus;
  readonly driver: RuntimeDriver;
  readonly handles: HandleStore;
  readonly ports: PortAllocator;
  readonly spec: SpecContext;
  readonly addressMode: AddressMode;
  readonly backoff: BackoffOptions;
  readonly defaultMaxRetries: number;
  readonly log: AgentLogger;
  /** Loopback addresses in use on this host (to keep machines' addresses distinct). */
  readonly usedAddresses: () => Set<string>;
  /** Reserves an address picked for a machine before its record says so. */
  readonly noteAddress: (machineId: string, address: string) => void;
  /** Called when a restart's backoff is over. */
  readonly onRestartDue: (slot: Slot) => void;
  /** Called when a machine needs another converge pass (e.g. a request arrived during an exit). */
  readonly reschedule: (id: string) => void;
}

/**
 * The user request the agent is carrying out, if the newest user lifecycle event is a stop or a
 * restart: its `signal`/`timeout` (POST /stop body, POST /restart query or body, reference §1a)
 * win over `stop_config`. The API records them in the event's `request` (control/machine-actions.ts).
 */
function requestedStop(rec: MachineRecord): Record<string, unknown> | undefined {
  const ev = rec.events.find((e) => e.source === 'user' && ['start', 'stop', 'restart', 'update', 'launch'].includes(e.type));
  if (!ev || (ev.type !== 'stop' && ev.type !== 'restart')) return undefined;
  return ev.request;
}

/** How to stop the machine: the user's stop/restart request, else `stop_config`, else Fly's defaults. */
export function stopOptions(rec: MachineRecord): { signal: string; timeoutMs: number } {
  const sc = rec.config.stop_config ?? {};
  const req = requestedStop(rec);
  let signal: string = DEFAULT_STOP_SIGNAL;
  for (const candidate of [sc.signal, req?.['signal']]) {
    if (typeof candidate !== 'string' && typeof candidate !== 'number') continue;
    try {
      signal = signalName(candidate);
    } catch {
      // an unknown signal name: keep the previous choice rather than a machine that cannot stop
    }
  }
  let timeoutMs = DEFAULT_STOP_TIMEOUT_MS;
  for (const candidate of [sc.timeout, req?.['timeout']]) {
    if (typeof candidate !== 'string') continue;
    const ns = parseGoDuration(/^\d+$/.test(candidate) ? `${candidate}s` : candidate);
    if (ns !== undefined && ns >= 0) timeoutMs = Math.round(ns / NS_PER_MS);
  }
  return { signal, timeoutMs };
}

export class MachineRunner {
  constructor(private readonly d: RunnerDeps) {}

  /** The machine's private address: its record's when it has a usable one, else a fresh loopback one. */
  private addressFor(rec: MachineRecord): string {
    if (this.d.addressMode !== 'loopback') return rec.private_ip;
    if (/^127\.\d+\.\d+\.\d+$/.test(rec.private_ip ?? '')) return rec.private_ip;
    const address = loopbackAddress(rec.id, this.d.usedAddresses());
    this.d.noteAddress(rec.id, address);
    return address;
  }

  /**
   * Starts the machine's current version. The handle is stored in the same batch that says
   * `started`, so a state of `started` always has a handle behind it. A start that cannot
   * happen (bad image, driver error) leaves the machine `failed` with the reason in an event.
   */
  async start(slot: Slot, rec: MachineRecord, generation: number, userStart: boolean): Promise<void> {
    const d = this.d;
    let handle: TaskHandle;
    let address: string;
    let routing: MachineRouting;
    let imageRef: MachineRecord['image_ref'] | undefined;
    try {
      address = this.addressFor(rec);
      let pairs: Array<[number, number]> = [];
      if (d.addressMode === 'loopback') {
        pairs = await d.ports.allocate(rec.id, address, internalPorts(rec.config), slot.ports);
        routing = { address, ports: Object.fromEntries(pairs.map(([i, h]) => [String(i), h])) };
      } else {
        routing = { address, ports: Object.fromEntries((rec.config.services ?? []).map((s) => [String(s.internal_port), s.internal_port])) };
      }
      const spec = await buildTaskSpec(d.spec, { rec, address, ports: pairs });
      imageRef = spec.imageRef;
      handle = await d.driver.start(spec);
    } catch (err) {
      d.ports.release(rec.id);
      const message = err instanceof Error ? err.message : String(err);
      d.log.warn({ machine: rec.id, app: rec.app, err: message }, 'machine failed to start');
      await updateMachine(d.store, rec.id, (r) => {
        if (r.state === 'destroyed') return undefined;
        if (r.generation <= generation) r.state = 'failed';
        r.applied_generation = Math.max(r.applied_generation, generation);
        r.routing = null;
        return withEvent(r, { type: 'start', status: 'failed', source: 'flyd', request: { error: message } });
      });
      return;
    }
    slot.ports = { ...routing.ports };
    this.attach(slot, handle, rec.instance_id);
    const written = await updateMachine(
      d.store,
      rec.id,
      (r) => {
        if (r.state === 'destroyed') return undefined;
        if (r.generation <= generation) r.state = 'started';
        r.applied_generation = Math.max(r.applied_generation, generation);
        r.private_ip = address;
        r.routing = routing;
        // the digest the image store verified (reference §1a image_ref), once the image is known
        if (imageRef !== undefined && r.instance_id === rec.instance_id) r.image_ref = imageRef;
        if (userStart) r.restart_count = 0;
        return withEvent(r, { type: 'start', status: 'started', source: 'flyd' });
      },
      [d.handles.putOp({ machine_id: rec.id, handle, instance_id: rec.instance_id, ports: slot.ports })],
    );
    d.log.debug({ machine: rec.id, app: rec.app }, 'machine started');
    // Destroyed while starting: the next pass removes what was just started.
    if (!written) d.reschedule(rec.id);
  }

  /** Follows a task: its logs go to the bus, its exit comes back through `onExit`. */
  attach(slot: Slot, handle: TaskHandle, instanceId: string): void {
    const token = ++slot.token;
    const logs = forwardLogs(this.d.driver, this.d.bus, handle, { app: slot.app, region: slot.region, machineId: slot.id }, (err) =>
      this.d.log.debug({ machine: slot.id, err: String(err) }, 'log line not published'),
    );
    slot.task = { handle, instanceId, token, logs };
    this.d.driver.wait(handle).then(
      (exit) => this.noticeExit(slot, token, exit),
      (err: unknown) => this.d.log.warn({ machine: slot.id, err: String(err) }, 'cannot wait for machine'),
    );
  }

  /** Forgets the current task (its exit notices become stale). */
  detach(slot: Slot): void {
    slot.task?.logs.close();
    slot.task = undefined;
    slot.token++;
  }

  /** Set by the agent: queues `handleExit` on the machine's queue. */
  noticeExit: (slot: Slot, token: number, exit: ExitResult) => void = () => {};

  /** Removes what the driver kept for a finished task (log files); failures are only logged. */
  async cleanup(handle: TaskHandle): Promise<void> {
    try {
      await this.d.driver.destroy(handle);
    } catch (err) {
      this.d.log.debug({ machine: handle.machine_id, err: String(err) }, 'cleanup of finished task failed');
    }
  }

  /**
   * Records an exit nobody asked for and applies the restart policy. When a user request is
   * pending the exit is only recorded: the request decides what happens next.
   */
  async handleExit(slot: Slot, token: number, exit: ExitResult): Promise<void> {
    const task = slot.task;
    if (!task || slot.token !== token) return;
    const d = this.d;
    this.detach(slot);
    let decision: RestartDecision | undefined;
    let pending = false;
    await updateMachine(
      d.store,
      slot.id,
      (r) => {
        if (r.state === 'destroyed') return undefined;
        pending = r.generation > r.applied_generation;
        decision = pending
          ? { action: 'rest', state: 'stopped', restartCount: r.restart_count }
          : decideAfterExit(r.config.restart, { exitCode: exit.exit_code, requestedStop: false, desired: r.desired, restartCount: r.restart_count ?? 0 }, d.backoff, d.defaultMaxRetries);
        withEvent(r, exitMachineEvent(exit, false, decision.action === 'restart', decision.restartCount));
        r.restart_count = decision.restartCount;
        if (pending) return r;
        r.state = decision.action === 'restart' ? 'restarting' : decision.state;
        if (decision.action === 'rest') r.routing = null;
        return r;
      },
      [d.handles.putOp({ machine_id: slot.id, handle: null, instance_id: task.instanceId, ports: slot.ports })],
    );
    d.log.info({ machine: slot.id, app: slot.app, exit_code: exit.exit_code, decision }, 'machine exited');
    await this.cleanup(task.handle);
    if (pending) d.reschedule(slot.id);
    else if (decision?.action === 'restart') {
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        d.onRestartDue(slot);
      }, decision.delayMs);
    } else d.ports.release(slot.id);
  }

  /**
   * Stops the running task as its config asks and records a requested exit. With `restarting`
   * the machine is about to start again (restart, update), so its state is left to that start.
   */
  async stop(slot: Slot, rec: MachineRecord, restarting: boolean, finalState: 'stopped' | 'created' = 'stopped'): Promise<void> {
    const task = slot.task;
    if (!task) return;
    const d = this.d;
    slot.stopping = true;
    let exit: ExitResult;
    try {
      exit = await d.driver.stop(task.handle, stopOptions(rec));
    } finally {
      slot.stopping = false;
    }
    this.detach(slot);
    const generation = rec.generation;
    await updateMachine(
      d.store,
      slot.id,
      (r) => {
        if (r.state === 'destroyed') return undefined;
        withEvent(r, exitMachineEvent(exit, true, restarting, r.restart_count ?? 0));
        if (restarting) return r;
        if (r.generation <= generation) r.state = finalState;
        r.applied_generation = Math.max(r.applied_generation, generation);
        r.routing = null;
        return r;
      },
      [d.handles.putOp({ machine_id: slot.id, handle: null, instance_id: task.instanceId, ports: slot.ports })],
    );
    await this.cleanup(task.handle);
    if (!restarting) d.ports.release(slot.id);
  }

  /** Destroys the machine: its task, its handle record, its volume attachments; state `destroyed`. */
  async destroy(slot: Slot, rec: MachineRecord): Promise<void> {
    const d = this.d;
    await this.forgetTask(slot);
    await this.detachVolumes(rec);
    await updateMachine(d.store, rec.id, (r) => {
      if (r.state === 'destroyed') return undefined;
      r.state = 'destroyed';
      r.applied_generation = Math.max(r.applied_generation, rec.generation);
      r.routing = null;
      return withEvent(r, { type: 'destroy', status: 'destroyed', source: 'flyd' });
    });
  }

  /** Kills and removes the task (if any) and the handle record; the machine keeps no trace here. */
  async forgetTask(slot: Slot): Promise<void> {
    if (slot.restartTimer) clearTimeout(slot.restartTimer);
    slot.restartTimer = undefined;
    const task = slot.task;
    this.detach(slot);
    if (task) {
      try {
        await this.d.driver.destroy(task.handle);
      } catch (err) {
        this.d.log.warn({ machine: slot.id, err: String(err) }, 'driver could not destroy the machine task');
      }
    }
    await this.d.handles.remove(slot.id);
    this.d.ports.release(slot.id);
  }

  /** Volumes attached to a destroyed machine become free again (`attached_machine_id` → null). */
  private async detachVolumes(rec: MachineRecord): Promise<void> {
    const vols = await this.d.store.list<VolumeRecord>(KINDS.volume, { scope: rec.app });
    for (const v of vols) {
      if (v.value.attached_machine_id !== rec.id) continue;
      for (let attempt = 0; attempt < 20; attempt++) {
        const cur = await this.d.store.get<VolumeRecord>(KINDS.volume, v.id);
        if (!cur || cur.value.attached_machine_id !== rec.id) break;
        try {
          await this.d.store.put(KINDS.volume, v.id, { ...cur.value, attached_machine_id: null, attached_alloc_id: null }, { expectedVersion: cur.version });
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'HANGAR_ERR_STORE_CONFLICT') throw err;
        }
      }
    }
  }
}
