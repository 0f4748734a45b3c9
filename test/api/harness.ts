/**
 * A control plane API on a real SQLite store (temp dir) and the in-process bus, with the
 * `personal` org bootstrapped and one loopback host registered. The agent is simulated by
 * writing observed state into the store (`observe`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApi } from '../../src/api/app.js';
import { MemoryBus } from '../../src/bus/memory/bus.js';
import { bootstrap } from '../../src/control/bootstrap.js';
import { KINDS, type HostRecord } from '../../src/core/model.js';
import type { MachineRecord } from '../../src/core/machine/types.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';

export interface Harness {
  app: FastifyInstance;
  store: SqliteStore;
  bus: MemoryBus;
  dir: string;
  token: string;
  /** inject with the admin token (or `token`) and a JSON body. */
  call(method: InjectOptions['method'], url: string, body?: unknown, opts?: { token?: string | null; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  /** Writes the agent's side of a machine record (compare-and-set, retried). */
  observe(id: string, patch: Partial<MachineRecord> & Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export function hostRecord(id: string, region: string, range = '127.77.0.0/16', extra: Partial<HostRecord> = {}): HostRecord {
  return {
    id, region, driver: 'fake', address_mode: 'loopback', address_range: range, heartbeat_at: Date.now(),
    capabilities: { suspend: false, exec: true, isolation: 'none' }, started_at: new Date().toISOString(), ...extra,
  };
}

export async function harness(opts: { logger?: object; hosts?: HostRecord[] } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-api-'));
  const store = new SqliteStore({ path: join(dir, 'state.db'), synchronous: 'normal', pollIntervalMs: 20 });
  const bus = new MemoryBus();
  const { adminToken } = await bootstrap(store, dir);
  for (const h of opts.hosts ?? [hostRecord('host1', 'ams')]) await store.put(KINDS.host, h.id, h, { scope: h.region });
  const app = buildApi({ store, bus, dataDir: dir, logger: opts.logger ?? false, region: 'ams' });
  await app.ready();
  const token = adminToken as string;
  return {
    app, store, bus, dir, token,
    call(method, url, body, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      const tok = o.token === undefined ? token : o.token;
      if (tok !== null) headers['authorization'] = `Bearer ${tok}`;
      const req: InjectOptions = { method, url, headers };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        req.payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      return app.inject(req);
    },
    async observe(id, patch) {
      for (;;) {
        const ent = await store.get<MachineRecord>(KINDS.machine, id);
        if (ent === undefined) throw new Error(`no machine ${id}`);
        try {
          await store.put(KINDS.machine, id, { ...ent.value, ...patch }, { expectedVersion: ent.version });
          return;
        } catch (err) {
          if (!(err instanceof Error && err.name === 'StoreConflictError')) throw err;
        }
      }
    },
    async close() {
      await app.close();
      await bus.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const json = (res: LightMyRequestResponse): Record<string, unknown> => res.json() as Record<string, unknown>;
