/**
 * Finding and reading fly.toml for CLI commands: `-c/--config` (a file, or a folder holding
 * fly.toml), else ./fly.toml. Reading is the CLI's I/O edge; everything after is pure
 * (`normalizeAppConfig`).
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HangarError } from '../core/errors.js';

export interface ConfigFile {
  /** The path as shown to the user (as given, or `fly.toml`). */
  displayPath: string;
  absolutePath: string;
  text: string;
}

/** Reads the app config file named by `-c`, or ./fly.toml. Throws coded errors a person can act on. */
export function readConfigFile(configOption: string | undefined, cwd: string = process.cwd()): ConfigFile {
  let displayPath = configOption ?? 'fly.toml';
  let absolutePath = resolve(cwd, displayPath);
  let st;
  try {
    st = statSync(absolutePath);
    if (st.isDirectory()) {
      displayPath = join(displayPath, 'fly.toml');
      absolutePath = join(absolutePath, 'fly.toml');
      st = statSync(absolutePath);
    }
  } catch (err) {
    throw new HangarError('HANGAR_ERR_CONFIG_NOT_FOUND', `no app config found at ${displayPath}`, { cause: err });
  }
  if (!st.isFile()) {
    throw new HangarError('HANGAR_ERR_CONFIG_UNREADABLE', `${displayPath} is not a regular file`);
  }
  try {
    return { displayPath, absolutePath, text: readFileSync(absolutePath, 'utf8') };
  } catch (err) {
    throw new HangarError('HANGAR_ERR_CONFIG_UNREADABLE', `cannot read ${displayPath}: ${(err as Error).message}`, { cause: err });
  }
}
