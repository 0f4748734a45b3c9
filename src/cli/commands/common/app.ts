/**
 * The app a command acts on: `-a/--app`, else `app` in fly.toml (`-c/--config` or ./fly.toml),
 * as flyctl does. The fly.toml modules are imported only when -a is absent, so commands given
 * -a never pay for the TOML parser.
 */
import { HangarError } from '../../../core/errors.js';
import type { GlobalOptions } from '../../output.js';

/** Resolves the app name or throws a usage error that says how to name one. */
export async function resolveApp(globals: GlobalOptions, cwd: string = process.cwd()): Promise<string> {
  if (globals.app) return globals.app;
  const { readConfigFile } = await import('../../config-file.js');
  let file;
  try {
    file = readConfigFile(globals.config, cwd);
  } catch (err) {
    // No fly.toml at all: the useful message is "name the app", not "no config found".
    if (globals.config === undefined && err instanceof HangarError && err.code === 'HANGAR_ERR_CONFIG_NOT_FOUND') {
      throw new HangarError('HANGAR_ERR_USAGE', 'no app given: pass -a/--app <name>, or run the command where fly.toml sets `app`', { cause: err });
    }
    throw err;
  }
  const { normalizeAppConfig } = await import('../../../core/config/normalize.js');
  const { config } = normalizeAppConfig(file.text, { path: file.displayPath });
  if (config?.app) return config.app;
  throw new HangarError('HANGAR_ERR_USAGE', `no app given: ${file.displayPath} does not set \`app\`; pass -a/--app <name>`);
}
