/**
 * The runtime drivers Hangar ships, by name (ARCHITECTURE.md "Interfaces": RuntimeDriver).
 * `microvm` joins this table when it exists. `crun` needs its options (the data dir, and the
 * 6PN hooks for networked machines); without them it uses `$HANGAR_DATA_DIR` and no network.
 */
import { resolveDataDir } from '../env.js';
import { CrunDriver, type CrunDriverOptions } from './crun/index.js';
import { FakeDriver, type FakeDriverOptions } from './fake/index.js';
import { ProcessDriver, type ProcessDriverOptions } from './process/index.js';
import { DriverError, type RuntimeDriver } from './types.js';

export interface DriverOptions {
  readonly process?: ProcessDriverOptions;
  readonly fake?: FakeDriverOptions;
  readonly crun?: CrunDriverOptions;
}

const FACTORIES = {
  process: (opts: DriverOptions) => new ProcessDriver(opts.process),
  fake: (opts: DriverOptions) => new FakeDriver(opts.fake),
  crun: (opts: DriverOptions) => new CrunDriver(opts.crun ?? { dataDir: resolveDataDir(undefined) }),
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
