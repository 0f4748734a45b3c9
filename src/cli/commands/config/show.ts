/**
 * `hangar config show [-c path] [--json]`: prints the normalized fly.toml as JSON, always (like
 * `fly config show`), with every legacy form already folded in. Warnings go to stderr; a file
 * with errors prints them all and exits 1 instead.
 */
import type { CommandContext } from '../../registry.js';
import type { Diagnostic } from '../../../core/config/types.js';
import { readConfigFile } from '../../config-file.js';
import { normalizeAppConfig } from '../../../core/config/normalize.js';
import { HangarError } from '../../../core/errors.js';

/** One line per diagnostic; flyctl-worded messages carry no key, so the key is added after them. */
function describe(d: Diagnostic): string {
  if (d.path === undefined || d.message.includes(d.path)) return d.message;
  return `${d.message} (at ${d.path})`;
}

export async function run({ globals, out }: CommandContext): Promise<number> {
  const file = readConfigFile(globals.config);
  const { config, diagnostics } = normalizeAppConfig(file.text, { path: file.displayPath });
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || config === null) {
    throw new HangarError('HANGAR_ERR_CONFIG_INVALID', `${file.displayPath}: app configuration is not valid`, {
      details: errors.map((d) => `  ✘ ${describe(d)}`),
    });
  }
  // warnings are printed as written, like `hangar config validate` prints them
  for (const w of diagnostics) if (w.severity === 'warning') out.err(w.message);
  out.printJson(config);
  return 0;
}
