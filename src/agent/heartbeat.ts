/**
 * The agent's `host` record: written when the agent starts and refreshed periodically, so the
 * API can tell a live host from a dead one (`host_status: unknown` when `heartbeat_at` is stale).
 */
import { KINDS, type HostRecord } from '../core/model.js';
import { isStoreConflict, type StateStore } from '../store/types.js';
import type { AgentLogger } from './logger.js';

/** Default refresh period (ms). */
export const HEARTBEAT_INTERVAL_MS = 5000;

/** Writes the host record (scope = region), keeping `started_at` of this run. */
export async function writeHost(store: StateStore, host: Omit<HostRecord, 'heartbeat_at'>): Promise<HostRecord> {
  for (let attempt = 0; ; attempt++) {
    const cur = await store.get<HostRecord>(KINDS.host, host.id);
    const value: HostRecord = { ...host, heartbeat_at: Date.now() };
    try {
      if (cur && cur.scope !== undefined && cur.scope !== host.region) {
        // Scopes never move: a host that changed region is re-registered.
        await store.apply([
          { op: 'delete', kind: KINDS.host, id: host.id, expectedVersion: cur.version },
          { op: 'put', kind: KINDS.host, id: host.id, value, expectedVersion: 0, scope: host.region },
        ]);
      } else {
        await store.put(KINDS.host, host.id, value, { expectedVersion: cur?.version ?? 0, scope: host.region });
      }
      return value;
    } catch (err) {
      if (!isStoreConflict(err) || attempt >= 20) throw err;
    }
  }
}

export interface Heartbeat {
  stop(): void;
}

/** Registers the host and refreshes `heartbeat_at` every `intervalMs`; the timer does not hold the process open. */
export async function startHeartbeat(store: StateStore, host: Omit<HostRecord, 'heartbeat_at'>, log: AgentLogger, intervalMs = HEARTBEAT_INTERVAL_MS): Promise<Heartbeat> {
  await writeHost(store, host);
  let stopped = false;
  const timer = setInterval(() => {
    writeHost(store, host).catch((err: unknown) => {
      if (!stopped) log.warn({ err: String(err) }, 'host heartbeat failed');
    });
  }, intervalMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
