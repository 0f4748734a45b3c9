/**
 * Helpers for the raw TOML value tree that sits between parsing and decoding: type tests, key
 * paths in flyctl's notation, and the wording used to describe a value in a message.
 */
import type { Diagnostic } from './types.js';

/** A TOML table after parsing: plain object, string keys, own properties only. */
export type RawMap = Record<string, unknown>;

/** One step of a key path: a table key or an array index. */
export type PathSegment = string | number;

export function isMap(value: unknown): value is RawMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Own-property test that works on any object, whatever its prototype. */
export function hasKey(map: RawMap, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(map, key);
}

/**
 * Sets an own property, even for the key `__proto__` (a plain assignment would change the
 * object's prototype instead of adding a key).
 */
export function setKey(map: RawMap, key: string, value: unknown): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `services[1].ports[0].handlers`, `checks.alive.interval`, `env.PORT` (flyctl's notation). */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** Describes a value for "expected X, got Y" messages: `string "8080"`, `integer 5`, `table`. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)}`;
  if (typeof value === 'bigint') return `integer ${value.toString()}`;
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return `integer ${value}`;
    return `float ${goFloat(value)}`;
  }
  if (typeof value === 'boolean') return `boolean ${value}`;
  if (value instanceof Date) return `datetime ${dateText(value)}`;
  if (Array.isArray(value)) return 'array';
  if (value === undefined) return 'nothing';
  if (isMap(value)) return 'table';
  return typeof value;
}

/** Go's `%T` for what go-toml v2 decodes a value into, for messages flyctl words with `%T`. */
export function goTypeName(value: unknown): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'bigint') return 'int64';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int64' : 'float64';
  if (typeof value === 'boolean') return 'bool';
  if (value instanceof Date) return 'time.Time';
  if (Array.isArray(value)) return '[]interface {}';
  if (isMap(value)) return 'map[string]interface {}';
  return '<nil>';
}

/** A TOML date/time as it was written (smol-toml's TomlDate keeps the original form). */
export function dateText(value: Date): string {
  try {
    return value.toISOString();
  } catch {
    return String(value);
  }
}

/**
 * Go's `%v` for a float64 (strconv 'g' with shortest digits): the `e` form when the decimal
 * exponent is below -4 or at least 6, so 1.5 → "1.5", 0.00001 → "1e-05", 1234567.5 →
 * "1.2345675e+06". TOML integers never come here (they are int64 in Go and print plainly).
 */
export function goFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (value === 0) return '0';
  const [mantissa, expText] = value.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(value);
}

/** Go's `%v` for a scalar TOML value (flyctl stringifies `[env]` values and `memory` that way). */
export function goValueString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : goFloat(value);
  if (typeof value === 'boolean') return String(value);
  if (value instanceof Date) return dateText(value);
  return undefined;
}

/** Builds a `type` error diagnostic; `bare` messages are flyctl's own text and carry no path prefix. */
export function typeError(path: readonly PathSegment[], message: string, bare = false): Diagnostic {
  const p = formatPath(path);
  return { severity: 'error', code: 'type', path: p || undefined, message: bare || p === '' ? message : `${p}: ${message}` };
}

/** Removes `undefined`-valued `path` so diagnostics for file-level problems have no `path` key. */
export function cleanDiagnostic(d: Diagnostic): Diagnostic {
  if (d.path === undefined) {
    const { path: _path, ...rest } = d;
    return rest;
  }
  return d;
}
