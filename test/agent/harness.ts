/** A real agent on an in-memory SQLite store, the memory bus and the fake driver, for agent tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import { MemoryBus } from '../../src/bus/memory/bus.js';
import type { MachineConfig } from '../../src/core/fly/machine-config.js';
import { KINDS } from '../../src/core/model.js';
import { FakeDriver, FakeHost, type FakeRule } from '../../src/drivers/fake/index.js';
import type { RuntimeDriver } from '../../src/drivers/types.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import type { MachineRecord } from '../../src/core/machine/types.js';

export const HOST = 'host-test';

let n = 0;
/** A machine record as the API writes it on create: desired started, generation 1, nothing applied. */
export function machineRecord(over: Omit<Partial<MachineRecord>, 'config'> & { config?: Partial<MachineConfig> } = {}): MachineRecord {
  const id = over.id ?? `m${(++n).toString(16).padStart(13, '0')}`;
  const now = new Date().toISOString();
  const { config, ...rest } = over;
  return {
    id,
    name: `machine-${id}`,
    app: 'web',
    org: 'personal',
    region: 'local',
    host: HOST,
    instance_id: '01HZZZZZZZZZZZZZZZZZZZ0001',
    state: 'created',
    desired: 'started',
    generation: 1,
    applied_generation: 0,
    config: { image: 'dir:/tmp', init: { exec: ['/bin/true'] }, ...config },
    private_ip: '',
    image_ref: { registry: '', repository: '', tag: '', digest: '', labels: {} },
    events: [],
    checks: [],
    cordoned: false,
    lease: null,
    restart_count: 0,
    host_status: 'ok',
    created_at: now,
    updated_at: now,
    ...rest,
  };
}

export class Harness {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'hangar-agent-'));
  readonly store = new SqliteStore({ path: ':memory:', pollIntervalMs: 20 });
  readonly bus = new MemoryBus();
  readonly fakeHost: FakeHost;
  readonly agents: Agent[] = [];

  constructor(rules: FakeRule[] = []) {
    this.fakeHost = new FakeHost(rules);
  }

  /** Starts an agent (a new driver instance on the same fake host, as after a restart). */
  async agent(over: Partial<AgentOptions> = {}, driver?: RuntimeDriver): Promise<Agent> {
    const agent = new Agent({
      store: this.store,
      bus: this.bus,
      driver: driver ?? new FakeDriver({ host: this.fakeHost }),
      hostId: HOST,
      dataDir: this.dataDir,
      backoff: { baseMs: 5, maxMs: 20 },
      ...over,
    });
    this.agents.push(agent);
    await agent.start();
    return agent;
  }

  async create(rec: MachineRecord): Promise<MachineRecord> {
    await this.store.put(KINDS.machine, rec.id, rec, { expectedVersion: 0, scope: rec.app });
    return rec;
  }

  async get(id: string): Promise<MachineRecord> {
    const e = await this.store.get<MachineRecord>(KINDS.machine, id);
    if (!e) throw new Error(`machine ${id} not found`);
    return e.value;
  }

  /** Applies a user request as the API does: change desired/state and bump the generation (CAS). */
  async request(id: string, change: (r: MachineRecord) => void): Promise<void> {
    for (;;) {
      const e = await this.store.get<MachineRecord>(KINDS.machine, id);
      if (!e) throw new Error(`machine ${id} not found`);
      const r = structuredClone(e.value);
      change(r);
      r.generation += 1;
      try {
        await this.store.put(KINDS.machine, id, r, { expectedVersion: e.version });
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'HANGAR_ERR_STORE_CONFLICT') throw err;
      }
    }
  }

  /** Polls the record until `pred` holds; fails with the last record after a generous deadline. */
  async waitFor(id: string, pred: (r: MachineRecord) => boolean, what = 'condition'): Promise<MachineRecord> {
    const deadline = Date.now() + 10_000;
    let last: MachineRecord | undefined;
    while (Date.now() < deadline) {
      last = (await this.store.get<MachineRecord>(KINDS.machine, id))?.value;
      if (last && pred(last)) return last;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`machine ${id}: ${what} not reached; last record: ${JSON.stringify(last, null, 1)}`);
  }

  /** Lets queued work and timers run for a while (to show something does NOT happen). */
  async settle(ms = 100): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    for (const a of this.agents) await a.idle();
  }

  async close(): Promise<void> {
    for (const a of this.agents) await a.close();
    await this.bus.close();
    await this.store.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
