/**
 * Prepared network namespaces, per 6PN network: each member is a netns with `lo` up and a veth
 * pair whose host end is already a port of the network's bridge (pool-plan.ts), plus two `ip
 * -batch -` processes already started and waiting on stdin, one inside the netns and one on the
 * host. A start takes a member and hands those processes its few per-machine lines (address,
 * MAC, route; the host's neighbour entry), so no `ip` process is forked and no link is created on
 * the start path: forking the agent (a large process) costs 2.5–5 ms per `ip`, and the veth
 * creation and bridge plug were most of the network's share of a start.
 *
 * Members are made after a network's first start and refilled after each take, after a delay so
 * the refill's processes do not compete with the machine that just started (as spares.ts does
 * for monitors). All host changes go through the owner's queue (machine.ts `HostNetwork`).
 *
 * Names and proof of ownership (STYLE.md habit 10): netns `hangar-pool-<owner>-<id>`, host veth
 * `hgr-p<id>` with alias `hangar:pool:<owner>:<id>:net:<n>` (plan.ts), where `<owner>` hashes the
 * server's data dir; before a member is made a marker file `<markerDir>/<netns>` is written (the
 * crun driver's netns markers, which start-up cleanup already trusts). A taken member keeps its
 * names: the driver's handle carries the netns name, and the veth name follows from it, so
 * teardown and recovery after an agent restart find them. Unused members are removed by
 * `close()`, and by start-up cleanup after a crash (their netns is in no machine's handle).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetRunner, Serial, WaitingBatch } from './apply.js';
import { planPoolMember, planPoolRemoval, planPoolTake, type PoolMemberName } from './pool-plan.js';
import { poolNetnsName, type MachineNetSpec, type NetworkSpec } from './plan.js';

export interface NetnsPoolOptions {
  readonly runner: NetRunner;
  /** The owner's queue: every host change of the pool runs through it. */
  readonly serial: Serial;
  /** 8 hex: the label of this server's members (a hash of its data dir). */
  readonly owner: string;
  /** Members kept ready per network. */
  readonly size: number;
  /** Delay before making members after a take (ms). */
  readonly refillDelayMs: number;
  /** Where the marker file of each member goes (the crun driver's netns marker dir). */
  readonly markerDir?: string;
  /** Ensures the network's bridge (called in the queue before members are made). */
  readonly ensureNetwork: (spec: NetworkSpec) => Promise<void>;
}

/** A ready member. */
interface Member extends PoolMemberName {
  readonly netns: string;
  readonly inside: WaitingBatch;
  readonly host: WaitingBatch;
}

/** A member handed to a machine whose networking is not configured yet. */
export interface TakenMember {
  readonly netns: string;
  /** Runs the machine's lines in the waiting processes. @throws NetError */
  configure(spec: MachineNetSpec): Promise<void>;
}

function key(spec: NetworkSpec): string {
  return `${spec.network}|${spec.hostPrefix}`;
}

/** The prepared netns of one server, per network. */
export class NetnsPool {
  private readonly opts: NetnsPoolOptions;
  private readonly ready = new Map<string, Member[]>();
  private readonly networks = new Map<string, NetworkSpec>();
  private readonly taken = new Map<string, Member>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly filling = new Set<string>();
  private closed = false;

  constructor(opts: NetnsPoolOptions) {
    this.opts = opts;
  }

  /**
   * A ready member of `spec`'s network, now the machine's (its netns name goes into the
   * container config), or undefined (none ready: the caller makes the netns itself). The first
   * call for a network and every take schedule a refill.
   */
  take(spec: NetworkSpec): string | undefined {
    if (this.closed) return undefined;
    const k = key(spec);
    this.networks.set(k, { network: spec.network, hostPrefix: spec.hostPrefix });
    this.schedule(k);
    const list = this.ready.get(k) ?? [];
    for (let m = list.shift(); m !== undefined; m = list.shift()) {
      if (m.inside.waiting && m.host.waiting) {
        this.taken.set(m.netns, m);
        return m.netns;
      }
      void this.discard([m]); // a waiting process died: the member cannot be configured fast
    }
    return undefined;
  }

  /** The member handed out under `netns` and not configured yet, once. */
  claim(netns: string): TakenMember | undefined {
    const m = this.taken.get(netns);
    if (!m) return undefined;
    this.taken.delete(netns);
    return {
      netns,
      configure: async (spec) => {
        const plan = planPoolTake(spec, m);
        // The neighbour entry only once eth0 is up with its address: setting it sends the
        // packets the host queued for the address (a client that connects while the machine
        // starts), and any that reach a port still down are lost until TCP retransmits, 1 s on.
        try {
          await m.inside.run(plan.inside);
        } catch (err) {
          await m.host.cancel();
          throw err;
        }
        await m.host.run(plan.host);
      },
    };
  }

  /** Members ready now (tests, diagnostics). */
  readyCount(spec: NetworkSpec): number {
    return this.ready.get(key(spec))?.length ?? 0;
  }

  /** Removes the unused members of `network` (before its bridge goes); later takes refill. */
  async dropNetwork(network: number): Promise<void> {
    const gone: Member[] = [];
    for (const [k, list] of this.ready) {
      if (!k.startsWith(`${network}|`)) continue;
      gone.push(...list.splice(0));
      const t = this.timers.get(k);
      if (t) clearTimeout(t);
      this.timers.delete(k);
      this.networks.delete(k);
    }
    await this.removeNow(gone);
  }

  /** Stops refilling and removes every unused member (call through the owner's queue). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const gone = [...this.ready.values()].flatMap((l) => l.splice(0));
    // Handed out but never configured (a start that failed before its network step): once the
    // driver rewrote the marker the netns is the driver's, and only the processes end here.
    for (const m of this.taken.values()) {
      if (this.marker(m.netns) === 'pool') gone.push(m);
      else await Promise.all([m.inside.cancel(), m.host.cancel()]);
    }
    this.taken.clear();
    await this.removeNow(gone);
  }

  private schedule(k: string, delayMs = this.opts.refillDelayMs): void {
    if (this.closed || this.timers.has(k)) return;
    const timer = setTimeout(() => {
      this.timers.delete(k);
      void this.fill(k);
    }, delayMs);
    timer.unref();
    this.timers.set(k, timer);
  }

  /** Makes members until the network has `size`; one filling per network at a time. */
  private async fill(k: string): Promise<void> {
    const spec = this.networks.get(k);
    if (!spec || this.filling.has(k)) return;
    this.filling.add(k);
    try {
      for (;;) {
        if (this.closed || !this.networks.has(k) || (this.ready.get(k)?.length ?? 0) >= this.opts.size) return;
        const m = await this.makeMember(spec).catch(() => undefined); // removed again; the next take tries anew
        if (!m) return;
        if (this.closed || !this.networks.has(k)) {
          await this.discard([m]);
          return;
        }
        const list = this.ready.get(k) ?? [];
        list.push(m);
        this.ready.set(k, list);
      }
    } finally {
      this.filling.delete(k);
    }
  }

  private async makeMember(network: NetworkSpec): Promise<Member> {
    const name = { owner: this.opts.owner, id: randomBytes(5).toString('hex'), network };
    const netns = poolNetnsName(name.owner, name.id);
    const plan = planPoolMember(name);
    const undo = (): Promise<void> =>
      this.opts.serial.run(async () => {
        for (const c of planPoolRemoval([name]).commands) await this.opts.runner.ipBatch({ commands: [c] }).catch(() => undefined);
        this.unmark(netns);
      });
    // Only the host half goes through the owner's queue (it adds a port to the bridge), so a
    // start that needs the queue waits for one short batch at most, not for a whole member.
    try {
      await this.opts.serial.run(async () => {
        await this.opts.ensureNetwork(network);
        this.mark(netns);
        await this.opts.runner.ipBatch(plan.host);
      });
      await this.opts.runner.ipBatch(plan.inside);
    } catch (err) {
      await undo();
      throw err;
    }
    return { ...name, netns, inside: this.opts.runner.waitingBatch(netns), host: this.opts.runner.waitingBatch() };
  }

  /** Ends members' processes and deletes their links and netns; failures are left to start-up cleanup. */
  private async removeNow(members: readonly Member[]): Promise<void> {
    if (members.length === 0) return;
    await Promise.all(members.flatMap((m) => [m.inside.cancel(), m.host.cancel()]));
    try {
      await this.opts.runner.ipBatch(planPoolRemoval(members));
    } catch {
      // `ip -batch` stops at the first failing line (a link already gone): go one by one.
      for (const c of planPoolRemoval(members).commands) await this.opts.runner.ipBatch({ commands: [c] }).catch(() => undefined);
    }
    for (const m of members) this.unmark(m.netns);
  }

  private async discard(members: readonly Member[]): Promise<void> {
    await this.opts.serial.run(() => this.removeNow(members)).catch(() => undefined);
  }

  private mark(netns: string): void {
    if (!this.opts.markerDir) return;
    mkdirSync(this.opts.markerDir, { recursive: true });
    writeFileSync(join(this.opts.markerDir, netns), 'pool');
  }

  private marker(netns: string): string | undefined {
    if (!this.opts.markerDir) return 'pool';
    try {
      return readFileSync(join(this.opts.markerDir, netns), 'utf8');
    } catch {
      return undefined;
    }
  }

  private unmark(netns: string): void {
    if (this.opts.markerDir) rmSync(join(this.opts.markerDir, netns), { force: true });
  }
}
