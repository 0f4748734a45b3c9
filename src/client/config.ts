/**
 * Where the CLI finds the API and its token. Precedence (like flyctl's flag > env > file,
 * reference §1a "What flyctl needs beyond flaps"):
 *   token:   `-t/--access-token` flag, then HANGAR_API_TOKEN, then the config file's `token`;
 *   api url: HANGAR_API_URL, then the config file's `api_url`, then http://127.0.0.1:4280.
 * The config file is `$HANGAR_CONFIG`, else `~/.hangar/config.json`, holding `{api_url, token}`.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { HangarError } from '../core/errors.js';
import { ENV, type Env } from '../env.js';


/** 4280 is the port Fly's Machines API answers on inside 6PN (`_api.internal:4280`, reference §1a). */
export const DEFAULT_API_URL = 'http://127.0.0.1:4280';

/** The CLI config file's contents. */
export interface ClientConfigFile {
  api_url?: string;
  token?: string;
}

export interface ClientSettings {
  apiUrl: string;
  token: string | undefined;
  /** Where the token came from, for `auth whoami` and error messages. */
  tokenSource: 'flag' | 'env' | 'config' | undefined;
  configPath: string;
}


/** The config file path: `$HANGAR_CONFIG`, else `~/.hangar/config.json`. */
export function clientConfigPath(env: Env = process.env): string {
  const fromEnv = env[ENV.configPath];
  return fromEnv ? fromEnv : join(homedir(), '.hangar', 'config.json');
}

/** Reads the config file; a missing file is empty, a malformed one is a coded error. */
export function readClientConfig(path: string): ClientConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new HangarError('HANGAR_ERR_CONFIG_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HangarError('HANGAR_ERR_CONFIG_UNREADABLE', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HangarError('HANGAR_ERR_CONFIG_UNREADABLE', `${path} must hold a JSON object like {"api_url": "...", "token": "..."}`);
  }
  const obj = parsed as Record<string, unknown>;
  const out: ClientConfigFile = {};
  if (typeof obj.api_url === 'string' && obj.api_url !== '') out.api_url = obj.api_url;
  if (typeof obj.token === 'string' && obj.token !== '') out.token = obj.token;
  return out;
}

/**
 * Writes the config file, merging `update` into what is there. The file holds a token, so it
 * is created readable by its owner only.
 */
export function writeClientConfig(path: string, update: ClientConfigFile): ClientConfigFile {
  const merged = { ...readClientConfig(path), ...update };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(merged, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return merged;
}

/** Resolves the API URL and token for one CLI invocation. */
export function resolveClientSettings(opts: { accessToken?: string | undefined; env?: Env } = {}): ClientSettings {
  const env = opts.env ?? process.env;
  const configPath = clientConfigPath(env);
  const envUrl = env[ENV.apiUrl];
  const envToken = env[ENV.apiToken];
  // The file is read only when env and flag leave something open, so a broken file does not
  // stop a fully env-configured CLI.
  const needFile = !envUrl || (!opts.accessToken && !envToken);
  const file = needFile ? readClientConfig(configPath) : {};
  const apiUrl = stripSlash(envUrl || file.api_url || DEFAULT_API_URL);
  if (opts.accessToken) return { apiUrl, token: opts.accessToken, tokenSource: 'flag', configPath };
  if (envToken) return { apiUrl, token: envToken, tokenSource: 'env', configPath };
  if (file.token) return { apiUrl, token: file.token, tokenSource: 'config', configPath };
  return { apiUrl, token: undefined, tokenSource: undefined, configPath };
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
