import type { MachineService } from '../../../src/core/fly/machine-config.js';
import type { RouteMachine } from '../../../src/core/proxy/table.js';

/** A started machine with one HTTP service on 80/443 (internal 8080) unless told otherwise. */
export function machine(id: string, over: Partial<RouteMachine> & { services?: MachineService[]; port?: number } = {}): RouteMachine {
  const services: MachineService[] = over.services ?? [
    { protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }, { port: 443, handlers: ['tls', 'http'] }], concurrency: { type: 'requests', soft_limit: 2, hard_limit: 4 } },
  ];
  return {
    id,
    app: over.app ?? 'web',
    region: over.region ?? 'local',
    state: over.state ?? 'started',
    cordoned: over.cordoned ?? false,
    checks: over.checks ?? [],
    routing: over.routing === undefined ? { address: '127.0.0.1', ports: { '8080': over.port ?? 9000, '7000': over.port ?? 9001 } } : over.routing,
    config: { services },
  };
}
