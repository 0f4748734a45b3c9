/**
 * The value casts of flyctl's patches (`patches.go`: ensureArrayOfMap, castToInt, _castDuration),
 * reporting failures as diagnostics (in flyctl's words where it has them) instead of aborting.
 */
import { formatGoDuration } from '../duration.js';
import { describeValue, goTypeName, isMap, typeError, type PathSegment, type RawMap } from './raw.js';
import type { Diagnostic } from './types.js';

/** `ensureArrayOfMap`: a table becomes a one-element list; non-table items are reported and dropped. */
export function ensureArrayOfMap(value: unknown, path: PathSegment[], diags: Diagnostic[]): RawMap[] | undefined {
  if (isMap(value)) return [value];
  if (Array.isArray(value)) {
    const out: RawMap[] = [];
    value.forEach((item, i) => {
      if (isMap(item)) out.push(item);
      else diags.push(typeError([...path, i], `expected a table, got ${describeValue(item)}`));
    });
    return out;
  }
  diags.push(typeError(path, `expected a table or an array of tables, got ${describeValue(value)}`));
  return undefined;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** Go's strconv.Atoi: optional sign and decimal digits only. */
export function atoi(text: string): { ok: true; value: number } | { ok: false; reason: string } {
  if (!/^[+-]?\d+$/.test(text)) return { ok: false, reason: 'invalid syntax' };
  const big = BigInt(text);
  if (big > INT64_MAX || big < INT64_MIN) return { ok: false, reason: 'value out of range' };
  return { ok: true, value: Number(big) };
}

/** Go's strconv.Quote, close enough for the ASCII text fly.toml values hold. */
export function goQuote(text: string): string {
  return JSON.stringify(text);
}

/**
 * flyctl's `castToInt` for `services.internal_port` and `services.ports[].port`: numeric strings
 * become integers, floats are truncated; anything else fails in flyctl's words. Returns
 * undefined (after reporting) when the value cannot be used.
 */
export function castToInt(value: unknown, path: PathSegment[], diags: Diagnostic[]): number | bigint | undefined {
  if (typeof value === 'string') {
    const r = atoi(value);
    if (r.ok) return r.value;
    diags.push(typeError(path, `Can not convert '${value}' to integer: strconv.Atoi: parsing ${goQuote(value)}: ${r.reason}`, true));
    return undefined;
  }
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : value;
  if (typeof value === 'bigint') return value;
  diags.push(typeError(path, `Unknown type for cast: ${goTypeName(value)}`, true));
  return undefined;
}

/**
 * flyctl's `_castDuration`: a number is a count of `unitNs` (truncated to an integer first, as
 * Go's time.Duration(float) does) and becomes a Go duration string; a string is kept for the
 * decoder to parse; "" means unset. flyctl silently drops any other type; Hangar reports it.
 */
export function castDuration(value: unknown, unitNs: number, unitName: string, path: PathSegment[], diags: Diagnostic[]): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return formatGoDuration(Math.trunc(value) * unitNs);
  if (typeof value === 'bigint') return formatGoDuration(Number(value) * unitNs);
  diags.push(typeError(path, `expected a duration such as "10s" or a number of ${unitName}, got ${describeValue(value)}`));
  return undefined;
}
