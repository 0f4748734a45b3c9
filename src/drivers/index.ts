/**
 * The runtime drivers Hangar ships, by name (ARCHITECTURE.md "Interfaces": RuntimeDriver).
 * `crun` and `microvm` join this table when they exist.
 */
import { FakeDriver, type FakeDriverOptions } from './fake/index.js';
import { ProcessDriver, type ProcessDriverOptions } from './process/index.js';
import { DriverError, type RuntimeDriver } from './types.js';

export interface DriverOptions {
  readonly process?: ProcessDriverOptions;
  readonly fake?: FakeDriverOptions;
}

const FACTORIES = {
  process: (opts: DriverOptions) => new ProcessDriver(opts.process),
  fake: (opts: DriverOptions) => new FakeDriver(opts.fake),
} as const satisfies Record<string, (opts: DriverOptions) => RuntimeDriver>;

export type DriverName = keyof typeof FACTORIES;

/** The names `createDriver` accepts. Whether a driver works on this host is `fingerprint()`'s answer. */
export function availableDrivers(): DriverName[] {
  return Object.keys(FACTORIES) as DriverName[];
}

/** Creates a driver by name; throws HANGAR_ERR_DRIVER_UNKNOWN for a name it does not know. */
export function createDriver(name: string, opts: DriverOptions = {}): RuntimeDriver {
  if (!Object.hasOwn(FACTORIES, name)) {
    throw new DriverError('HANGAR_ERR_DRIVER_UNKNOWN', `unknown runtime driver "${name}"; known drivers: ${availableDrivers().join(', ')}`);
  }
  return FACTORIES[name as DriverName](opts);
}

export * from './types.js';
