/**
 * The server's Prometheus registry (`GET /metrics`): Node's process metrics, machines by app and
 * state read from the store at scrape time, and whatever the embedded proxy registers. One
 * registry per server process, so each metric name has one owner.
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { KINDS } from '../core/model.js';
import type { MachineRecord } from '../core/machine/types.js';
import type { StateStore } from '../store/types.js';

export function serverRegistry(store: StateStore): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'hangar_machines',
    help: 'Machines by app and state, as the store has them.',
    labelNames: ['app', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const e of await store.list<MachineRecord>(KINDS.machine)) {
        const key = `${e.value.app}\0${e.value.state}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [key, n] of counts) {
        const [app, state] = key.split('\0');
        this.set({ app: app ?? '', state: state ?? '' }, n);
      }
    },
  });
  return registry;
}
