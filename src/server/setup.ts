/**
 * The small decisions `hangar server` makes before anything runs: the data dir, the host id, the
 * API address and the runtime driver (with the reason for the choice, printed for the operator).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableDrivers, createDriver, type DriverOptions, type RuntimeDriver } from '../drivers/index.js';
import { ServerError } from './errors.js';


export const DEFAULT_API_ADDR = '127.0.0.1:4280';
export const DEFAULT_REGION = 'local';
/**
 * Drivers tried when none is requested, best first. `crun` is not among them: `npm start`,
 * examples/hello and most development apps use `dir:` images that run the host's `node`, which an
 * isolated machine does not have. Isolated machines are one flag away (`--driver crun`), and the
 * start-up notes say so when crun would work here.
 */
const PREFERENCE: readonly string[] = ['process'];


/** This host's id, stable across restarts: created once in `<data-dir>/host-id`. */
export function loadHostId(dataDir: string): string {
  const path = join(dataDir, 'host-id');
  try {
    const id = readFileSync(path, 'utf8').trim();
    if (/^[a-z0-9-]+$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = `host-${randomBytes(6).toString('hex')}`;
  writeFileSync(path, `${id}\n`, { mode: 0o644 });
  return id;
}

/** Splits `host:port` (`[::1]:4280` for IPv6); throws HANGAR_ERR_SERVER_USAGE when malformed. */
export function parseApiAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ServerError('HANGAR_ERR_SERVER_USAGE', `--api-addr ${JSON.stringify(addr)} is not host:port (e.g. 127.0.0.1:4280)`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/** URL host part of an address (IPv6 in brackets). */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export interface DriverChoice {
  readonly driver: RuntimeDriver;
  /** Lines saying which driver runs and why the better ones do not. */
  readonly notes: string[];
}

/**
 * The requested driver, or the best one that works here; throws HANGAR_ERR_SERVER_DRIVER when none
 * does. `optionsFor` supplies a driver's options (crun's data dir and network hooks). The notes
 * carry the driver's own (crun: runtime, cgroup mode, workaround).
 */
export async function chooseDriver(requested: string | undefined, optionsFor: (name: string) => DriverOptions = () => ({})): Promise<DriverChoice> {
  const known = availableDrivers() as string[];
  const notes: string[] = [];
  if (requested !== undefined) {
    if (!known.includes(requested)) {
      throw new ServerError('HANGAR_ERR_SERVER_DRIVER', `driver ${requested} is not available in this build of hangar (available: ${known.join(', ')})`);
    }
    const driver = createDriver(requested, optionsFor(requested));
    const fp = await driver.fingerprint();
    if (!fp.available) {
      await driver.close();
      throw new ServerError('HANGAR_ERR_SERVER_DRIVER', `driver ${requested} cannot run on this host: ${fp.reason ?? 'unknown reason'}`);
    }
    notes.push(`runtime driver: ${requested} (requested with --driver)`, ...(fp.notes ?? []).map((n) => `  ${n}`));
    return { driver, notes };
  }
  for (const name of PREFERENCE) {
    if (!known.includes(name)) {
      notes.push(`${name} not available: not part of this build of hangar yet`);
      continue;
    }
    const driver = createDriver(name, optionsFor(name));
    const fp = await driver.fingerprint();
    if (fp.available) {
      notes.push(`runtime driver: ${name}${fp.capabilities.isolation === 'none' ? ' (machines are host processes, not isolated)' : ''}`, ...(fp.notes ?? []).map((n) => `  ${n}`));
      if (known.includes('crun') && name !== 'crun') notes.push(await crunHint(optionsFor('crun')));
      return { driver, notes };
    }
    notes.push(`${name} not available: ${fp.reason ?? 'unknown reason'}`);
    await driver.close();
  }
  throw new ServerError('HANGAR_ERR_SERVER_DRIVER', `no runtime driver works on this host (${notes.join('; ')}); pass --driver fake to try Hangar without running machines`);
}

/** Whether isolated machines are one flag away here, in words for the operator. */
async function crunHint(opts: DriverOptions): Promise<string> {
  const crun = createDriver('crun', opts);
  try {
    const fp = await crun.fingerprint();
    return fp.available ? 'crun works on this host: pass --driver crun for isolated machines (OCI images, 6PN, .internal DNS)' : `crun not used: ${fp.reason ?? 'unknown reason'}`;
  } finally {
    await crun.close();
  }
}

/** Creates the data dir (owner-only: it holds the database and the secrets key). */
export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(dataDir, 'machines'), { recursive: true, mode: 0o700 });
}
