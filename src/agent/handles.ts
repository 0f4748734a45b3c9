/**
 * The agent's persisted driver handles (STYLE.md habit 4): store kind `task_handle`, id = machine
 * id, scope = host id. A record holds a handle only while the machine's task is believed to run;
 * after its exit is recorded the handle is cleared (in the same store batch as the exit event, so
 * a restarted agent never reports one exit twice). The record also keeps the machine's host ports,
 * so a restart hands the same ones out again.
 */
import { KINDS } from '../core/model.js';
import type { TaskHandle } from '../drivers/types.js';
import type { BatchOp, StateStore } from '../store/types.js';

export interface TaskHandleRecord {
  machine_id: string;
  host: string;
  /** The running task's handle; null once its exit was recorded. */
  handle: TaskHandle | null;
  /** The machine version the handle (or the last run) belongs to. */
  instance_id: string;
  /** `internal_port` → host port of the last run (process driver). */
  ports: Record<string, number>;
  updated_at: string;
}

export class HandleStore {
  constructor(
    private readonly store: StateStore,
    private readonly hostId: string,
  ) {}

  /** Every handle record of this host. */
  async list(): Promise<TaskHandleRecord[]> {
    const out: TaskHandleRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list<TaskHandleRecord>(KINDS.taskHandle, { scope: this.hostId, limit: 1000, ...(after === undefined ? {} : { after }) });
      for (const e of page) out.push(e.value);
      const last = page[page.length - 1];
      if (page.length < 1000 || !last) return out;
      after = last.id;
    }
  }

  async get(machineId: string): Promise<TaskHandleRecord | undefined> {
    return (await this.store.get<TaskHandleRecord>(KINDS.taskHandle, machineId))?.value;
  }

  /** The batch op that writes a record (unconditional: only this agent writes its handles). */
  putOp(rec: Omit<TaskHandleRecord, 'host' | 'updated_at'>): BatchOp {
    const value: TaskHandleRecord = { ...rec, host: this.hostId, updated_at: new Date().toISOString() };
    return { op: 'put', kind: KINDS.taskHandle, id: rec.machine_id, value, scope: this.hostId };
  }

  async put(rec: Omit<TaskHandleRecord, 'host' | 'updated_at'>): Promise<void> {
    await this.store.apply([this.putOp(rec)]);
  }

  async remove(machineId: string): Promise<void> {
    await this.store.delete(KINDS.taskHandle, machineId);
  }
}
