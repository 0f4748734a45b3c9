import type { AppConfig } from '../../../src/core/config/types.js';

/** A normalized AppConfig with every list section empty, overridden by `fields` (for rule tests). */
export function appConfig(fields: Partial<AppConfig> = {}): AppConfig {
  return {
    env: {},
    services: [],
    checks: {},
    processes: {},
    mounts: [],
    vm: [],
    restart: [],
    metrics: [],
    statics: [],
    files: [],
    machine_checks: [],
    ...fields,
  };
}
