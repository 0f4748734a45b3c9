/**
 * NATS subject syntax: validation, matching a subject against a pattern, and whether two
 * patterns can match a common subject (JetStream refuses streams with overlapping subjects).
 */
import { BusError } from '../types.js';

const BAD_TOKEN_CHAR = /[\s.*>]/;

function tokens(what: string, s: unknown): string[] {
  if (typeof s !== 'string' || s.length === 0) throw new BusError('HANGAR_ERR_BUS_INVALID', `${what} must be a non-empty string, got ${JSON.stringify(s)}`);
  return s.split('.');
}

/** Throws `HANGAR_ERR_BUS_INVALID` unless `s` is a concrete subject (no wildcards). */
export function checkSubject(s: unknown): string[] {
  const parts = tokens('subject', s);
  for (const t of parts) {
    if (t.length === 0 || BAD_TOKEN_CHAR.test(t)) {
      throw new BusError('HANGAR_ERR_BUS_INVALID', `invalid subject ${JSON.stringify(s)}: tokens are non-empty and contain no whitespace, '.', '*' or '>'`);
    }
  }
  return parts;
}

/** Throws unless `s` is a valid pattern: tokens, `*`, and `>` only as the last token. */
export function checkPattern(s: unknown): string[] {
  const parts = tokens('subject pattern', s);
  parts.forEach((t, i) => {
    const wildcard = t === '*' || (t === '>' && i === parts.length - 1);
    if (!wildcard && (t.length === 0 || BAD_TOKEN_CHAR.test(t))) {
      throw new BusError('HANGAR_ERR_BUS_INVALID', `invalid subject pattern ${JSON.stringify(s)}: use '*' for one token and '>' only as the last token`);
    }
  });
  return parts;
}

/** Whether the concrete `subject` tokens match the `pattern` tokens. */
export function matches(pattern: readonly string[], subject: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '>') return subject.length > i;
    if (i >= subject.length) return false;
    if (p !== '*' && p !== subject[i]) return false;
  }
  return pattern.length === subject.length;
}

/** Whether some subject matches both patterns. */
export function overlaps(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return x === y;
    if (x === '>' || y === '>') return true;
    if (x !== '*' && y !== '*' && x !== y) return false;
  }
}
