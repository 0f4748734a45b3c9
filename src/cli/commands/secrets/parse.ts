/**
 * `NAME=VALUE` arguments and `secrets import` text, as flyctl reads them: one `NAME=VALUE` per
 * line, blank lines and `#` comments skipped, and a value opened with `"""` running until the
 * line that ends with `"""` (for certificates and keys).
 */
import { HangarError } from '../../../core/errors.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(name: string, where: string): void {
  if (!NAME.test(name)) {
    throw new HangarError('HANGAR_ERR_USAGE', `invalid secret name "${name}"${where}: use letters, digits and _, not starting with a digit`);
  }
}

/** `NAME=VALUE` arguments to a map (the value may contain `=`). */
export function parseSecretArgs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new HangarError('HANGAR_ERR_USAGE', `invalid secret "${pair}": expected NAME=VALUE`);
    const name = pair.slice(0, eq);
    checkName(name, '');
    out[name] = pair.slice(eq + 1);
  }
  return out;
}

/** The text of `secrets import` to a map; errors name the line. */
export function parseSecretsText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new HangarError('HANGAR_ERR_USAGE', `line ${i + 1}: expected NAME=VALUE`);
    const name = line.slice(0, eq).trim();
    checkName(name, ` on line ${i + 1}`);
    let value = line.slice(eq + 1);
    if (value.startsWith('"""')) {
      const start = i + 1;
      const parts = [value.slice(3)];
      while (!(parts[parts.length - 1] ?? '').endsWith('"""')) {
        i += 1;
        if (i >= lines.length) throw new HangarError('HANGAR_ERR_USAGE', `line ${start}: the """ value of ${name} is never closed`);
        parts.push(lines[i] ?? '');
      }
      const joined = parts.join('\n');
      value = joined.slice(0, -3);
    }
    out[name] = value;
  }
  return out;
}
