/**
 * Routing gates from check statuses, for the proxy's route table (reference §1c: service-level
 * checks gate routing; top-level checks are informational unless `kind: readiness`, which takes
 * the machine out of the pool, `machine_types.go: MachineCheckKind`).
 */
import type { MachineConfig } from '../fly/machine-config.js';
import type { CheckStatus } from '../machine/types.js';
import { checksOf } from './spec.js';

/**
 * - `passing`: every gating check of the service passes (or it has none): route to it;
 * - `failing`: some gating check is `critical`: do not route;
 * - `pending`: no failure, but some gating check has no result since the machine started
 *   (`warning`, or no entry yet): do not route yet (Fly: machines are ready before traffic).
 */
export type ServiceHealth = 'passing' | 'failing' | 'pending';

/**
 * The health of the service on `internalPort` of a started machine: its service checks (named
 * `servicecheck-NN-<type>-<internalPort>`, see `spec.ts`) plus the machine's `readiness`
 * top-level checks. Checks of other services do not count, so one failing service does not
 * take the machine's other services out of routing.
 */
export function serviceHealth(machine: { config: Pick<MachineConfig, 'services' | 'checks'>; checks?: readonly CheckStatus[] | null | undefined }, internalPort: number): ServiceHealth {
  const gating = checksOf(machine.config).filter((s) => s.gates && (s.origin === 'top-level' || s.servicePort === internalPort));
  if (gating.length === 0) return 'passing';
  const byName = new Map((machine.checks ?? []).map((c) => [c.name, c.status]));
  let pending = false;
  for (const s of gating) {
    const status = byName.get(s.name);
    if (status === 'critical') return 'failing';
    if (status !== 'passing') pending = true;
  }
  return pending ? 'pending' : 'passing';
}
