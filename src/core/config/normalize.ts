/**
 * fly.toml text → normalized `AppConfig` + every diagnostic of the file at once (STYLE.md habit
 * 6): parse (`parse.ts`), flyctl's back-compat patches (`patches.ts`), typed decoding
 * (`decode.ts`), then the rule-level checks (`validate.ts`).
 */
import { decodeAppConfig } from './decode.js';
import { parseFlyToml } from './parse.js';
import { applyPatches } from './patches.js';
import { cleanDiagnostic } from './raw.js';
import type { Diagnostic, NormalizeResult } from './types.js';
import { validateAppConfig } from './validate.js';

/**
 * Reads a fly.toml the way flyctl does and returns its normalized form with all its problems.
 * Never throws. `config` is null only when the text is not a TOML document. `opts.path` names
 * the file in syntax-error messages (default `fly.toml`).
 */
export function normalizeAppConfig(text: string, opts: { path?: string } = {}): NormalizeResult {
  const path = opts?.path ?? 'fly.toml';
  let diagnostics: Diagnostic[] = [];
  let result: NormalizeResult;
  try {
    const parsed = parseFlyToml(text, path);
    if (!parsed.ok) return { config: null, diagnostics: [parsed.diagnostic] };
    diagnostics = parsed.diagnostics;
    const patched = applyPatches(parsed.raw, diagnostics);
    const config = decodeAppConfig(patched, diagnostics);
    result = { config, diagnostics };
  } catch (err) {
    return { config: null, diagnostics: [...diagnostics, internalError('reading', err)] };
  }
  try {
    const config = result.config;
    if (config) diagnostics.push(...validateAppConfig(config));
  } catch (err) {
    diagnostics.push(internalError('validating', err));
  }
  return { config: result.config, diagnostics: diagnostics.map(cleanDiagnostic) };
}

function internalError(stage: string, err: unknown): Diagnostic {
  const what = err instanceof Error ? err.message : String(err);
  return { severity: 'error', code: 'internal', message: `internal error while ${stage} the app config (a bug in Hangar): ${what}` };
}
