/**
 * flyctl's `[[mounts]]` rules (reference §1b `[[mounts]]` and "Validation and messages"; flyctl
 * `validation.go: validateMounts`), with its exact messages and its exact quirks:
 * - sizes are read with flyctl's size parser (`validate-size.ts`);
 * - the auto-extend checks run once any of threshold/increment/limit is non-zero, and then the
 *   threshold (50–99) and the increment (1–100 GB) are both required; the limit stays optional;
 * - "must be all defined or none" is only said when the threshold is set and both sizes are not.
 */
import { errorAt } from './validate-common.js';
import { parseFlyctlSizeGb } from './validate-size.js';
import type { AppConfig, Diagnostic, Mount } from './types.js';

type SizeKey = 'auto_extend_size_increment' | 'auto_extend_size_limit';

/** Reads one auto-extend size; 0 when unset or unreadable, as flyctl's zero value. */
function autoExtendSize(m: Mount, key: SizeKey, path: string, out: Diagnostic[]): number {
  const text = m[key];
  if (text === undefined || text === '') return 0;
  const code = key === 'auto_extend_size_increment' ? 'mount-auto-extend-increment' : 'mount-auto-extend-limit';
  const parsed = parseFlyctlSizeGb(text);
  if (!parsed.ok) {
    out.push(errorAt(`${code}-invalid`, `${path}.${key}`, `mount '${m.source}' with ${key} '${text}' will fail because of: ${parsed.error}`));
    return 0;
  }
  if (parsed.gb < 1) {
    out.push(errorAt(`${code}-too-small`, `${path}.${key}`, `mount '${m.source}' has an ${key} '${text}' value which is smaller than 1GB`));
  }
  return parsed.gb;
}

function validateMount(m: Mount, path: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (m.initial_size !== undefined && m.initial_size !== '') {
    const parsed = parseFlyctlSizeGb(m.initial_size);
    if (!parsed.ok) {
      out.push(
        errorAt('mount-initial-size-invalid', `${path}.initial_size`, `mount '${m.source}' with initial_size '${m.initial_size}' will fail because of: ${parsed.error}`),
      );
    } else if (parsed.gb < 1) {
      out.push(
        errorAt('mount-initial-size-too-small', `${path}.initial_size`, `mount '${m.source}' has an initial_size '${m.initial_size}' value which is smaller than 1GB`),
      );
    }
  }
  const retention = m.snapshot_retention;
  if (retention !== undefined && (retention < 1 || retention > 60)) {
    out.push(
      errorAt(
        'mount-snapshot-retention-range',
        `${path}.snapshot_retention`,
        `mount '${m.source}' has a snapshot_retention value which is not between 1 and 60 days inclusive`,
      ),
    );
  }
  const increment = autoExtendSize(m, 'auto_extend_size_increment', path, out);
  const limit = autoExtendSize(m, 'auto_extend_size_limit', path, out);
  const threshold = m.auto_extend_size_threshold ?? 0;
  if (threshold !== 0 || increment !== 0 || limit !== 0) {
    if (threshold !== 0 && increment === 0 && limit === 0) {
      out.push(
        errorAt(
          'mount-auto-extend-incomplete',
          path,
          `mount '${m.source}' auto_extend_size_threshold, auto_extend_size_increment and auto_extend_size_limit must be all defined or none`,
        ),
      );
    }
    if (threshold < 50 || threshold > 99) {
      out.push(
        errorAt('mount-auto-extend-threshold-range', `${path}.auto_extend_size_threshold`, `mount '${m.source}' auto_extend_size_threshold must be between 50 and 99`),
      );
    }
    if (increment < 1 || increment > 100) {
      out.push(
        errorAt('mount-auto-extend-increment-range', `${path}.auto_extend_size_increment`, `mount '${m.source}' auto_extend_size_increment must be between 1GB and 100GB`),
      );
    }
    if (limit !== 0 && (limit < 1 || limit > 500)) {
      out.push(errorAt('mount-auto-extend-limit-range', `${path}.auto_extend_size_limit`, `mount '${m.source}' auto_extend_size_limit must be between 1GB and 500GB`));
    }
  }
  return out;
}

/** Every `[[mounts]]` entry's size, snapshot and auto-extend settings. */
export function validateMounts(config: AppConfig): Diagnostic[] {
  return config.mounts.flatMap((m, i) => validateMount(m, `mounts[${i}]`));
}
