/**
 * Every environment variable Hangar reads, in one typed registry (STYLE.md habit 13). Code reads
 * them through these names only; `process.env` is passed in so tests can supply their own.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const ENV = {
  /** Base URL of the Hangar API, without `/v1` (e.g. `http://127.0.0.1:4280`); CLI. */
  apiUrl: 'HANGAR_API_URL',
  /** Access token; wins over the CLI config file, loses to `-t/--access-token`; CLI. */
  apiToken: 'HANGAR_API_TOKEN',
  /** Path of the CLI config file (default `~/.hangar/config.json`); CLI and first server start. */
  configPath: 'HANGAR_CONFIG',
  /** Default of `--data-dir` for `hangar server` and the local `hangar image` commands. */
  dataDir: 'HANGAR_DATA_DIR',
  /** Address of the `.internal` resolver `hangar dig` asks (default `127.0.0.1:5354`). */
  dnsAddr: 'HANGAR_DNS_ADDR',
} as const;

export type Env = Record<string, string | undefined>;

/** `--data-dir`, else `$HANGAR_DATA_DIR`, else `~/.hangar`. */
export function resolveDataDir(flag: string | undefined, env: Env = process.env): string {
  return flag ?? env[ENV.dataDir] ?? join(homedir(), '.hangar');
}
