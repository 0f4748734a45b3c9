/**
 * Small pieces shared by the validation rules (`validate-*.ts`): diagnostic builders and
 * flyctl's notion of the app's process group names.
 */
import { formatGoDuration, parseGoDuration } from '../duration.js';
import type { AppConfig, Diagnostic } from './types.js';

/** An error diagnostic: it makes `hangar config validate` fail, as flyctl's `ValidationError` does. */
export function errorAt(code: string, path: string | undefined, message: string): Diagnostic {
  return path === undefined ? { severity: 'error', code, message } : { severity: 'error', code, path, message };
}

/** A warning diagnostic: printed, but validation still passes. */
export function warningAt(code: string, path: string | undefined, message: string): Diagnostic {
  return path === undefined ? { severity: 'warning', code, message } : { severity: 'warning', code, path, message };
}

/**
 * The app's process group names as flyctl's `ProcessNames()` sees them: the `[processes]` keys,
 * or just `app` when there is no `[processes]` section (reference §1b `[processes]`).
 */
export function processNames(config: AppConfig): string[] {
  const names = Object.keys(config.processes);
  return names.length > 0 ? names : ['app'];
}

/** A canonical duration string → nanoseconds; undefined when unreadable (the decoder reports those). */
export function durationNs(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseGoDuration(value);
}

/** Nanoseconds as Go's `%v`/`%s` prints a time.Duration ("500ms", "1m30s"). */
export function showDuration(ns: number): string {
  return formatGoDuration(ns);
}
