/**
 * `hangar config validate [-c path] [--strict] [--json]`: checks fly.toml as `fly config validate`
 * does and prints every problem at once (reference §1b "Validation and messages").
 *
 * Output: `Validating <path>`, each warning as written (flyctl's warnings carry their own
 * `WARN`/`WARNING:` prefix), then `✓ Configuration is valid` (exit 0) or one `✘ <message>` line
 * per error (exit 1). With `--strict`, keys Fly does not recognise are listed after that, in
 * flyctl's format, and make the command fail even when the config is otherwise valid.
 *
 * Besides the decoder's and `validateAppConfig`'s diagnostics, the errors of the machine planner
 * are reported too: flyctl means to (its `validateMachineConversion`) but never does, so those
 * problems otherwise only show up at deploy time.
 */
import type { CommandContext } from '../../registry.js';
import type { Output } from '../../output.js';
import type { AppConfig, Diagnostic, StrictFinding } from '../../../core/config/types.js';
import { readConfigFile } from '../../config-file.js';
import { normalizeAppConfig } from '../../../core/config/normalize.js';
import { strictFindings } from '../../../core/config/strict.js';
import { planMachineConfigs } from '../../../core/config/plan.js';

interface ValidateOptions {
  strict?: boolean;
}

/** The image named in the throw-away plan; only the plan's diagnostics are used. */
const PLAN_IMAGE = 'validate';

/** Drops exact repeats (the decoder and the rules can both see one problem at one key). */
function dedupe(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.severity}\u0000${d.path ?? ''}\u0000${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Whether a planner error repeats one already reported. The planner re-finds some problems
 * (unsplittable commands, bad check types, restart policies) at the same key, in other words.
 */
function alreadyReported(planError: Diagnostic, errors: Diagnostic[]): boolean {
  return errors.some(
    (e) =>
      e.message === planError.message ||
      (planError.path !== undefined && (e.path === planError.path || (planError.code === 'plan-check-type' && e.path === `${planError.path}.type`))),
  );
}

/** The planner's errors that add something; a planner failure must not break validation. */
function planErrors(config: AppConfig, errors: Diagnostic[]): Diagnostic[] {
  let diagnostics: Diagnostic[];
  try {
    diagnostics = planMachineConfigs(config, { image: PLAN_IMAGE }).diagnostics;
  } catch {
    return [];
  }
  return diagnostics.filter((d) => d.severity === 'error' && !alreadyReported(d, errors));
}

/**
 * `--strict` findings. A file too broken to read as TOML has its syntax error reported already,
 * so a strict pass that cannot read it adds nothing rather than crashing the command.
 */
function strictOrNone(text: string): StrictFinding[] {
  try {
    return strictFindings(text);
  } catch {
    return [];
  }
}

function printText(out: Output, path: string, errors: Diagnostic[], warnings: Diagnostic[], strict: StrictFinding[] | undefined): void {
  out.line(`Validating ${path}`);
  for (const w of warnings) out.line(w.message);
  if (errors.length === 0) out.line('✓ Configuration is valid');
  for (const e of errors) out.line(`✘ ${e.message}`);
  if (strict && strict.length > 0) {
    out.line();
    out.line('Strict validation found unrecognised sections or keys:');
    for (const f of strict) out.line(`  - ${f.path}${f.note ? ` (${f.note})` : ''}`);
  }
}

/** Runs the command; returns 1 when there are errors (or, with --strict, findings). */
export async function run(ctx: CommandContext<ValidateOptions>): Promise<number> {
  const { out, globals } = ctx;
  // A missing or unreadable file throws a coded error; the top-level handler prints it (exit 1).
  const file = readConfigFile(globals.config);
  const normalized = normalizeAppConfig(file.text, { path: file.displayPath });
  const diagnostics = dedupe(normalized.diagnostics);
  let errors = diagnostics.filter((d) => d.severity === 'error');
  const warnings = diagnostics.filter((d) => d.severity === 'warning');
  if (normalized.config) errors = [...errors, ...planErrors(normalized.config, errors)];
  const strict = ctx.options.strict ? strictOrNone(file.text) : undefined;
  const failed = errors.length > 0 || (strict?.length ?? 0) > 0;

  if (out.json) {
    out.printJson({ path: file.displayPath, valid: !failed, errors, warnings, ...(strict ? { strict } : {}) });
  } else {
    printText(out, file.displayPath, errors, warnings, strict);
  }
  return failed ? 1 : 0;
}
