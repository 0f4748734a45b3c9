/**
 * The zod building blocks the section decoders are made of: one leaf schema per kind of fly.toml
 * value (each with Hangar's "expected X, got Y" wording or flyctl's own), and table/list/map
 * combinators whose shape errors use the same wording.
 *
 * Leaves never coerce silently except where flyctl does (Go's JSON decoding accepts an integral
 * float for an integer field, since flyctl round-trips the patched map through JSON).
 */
import { z } from 'zod';
import { formatGoDuration, parseGoDuration } from '../duration.js';
import { dateText, describeValue, goValueString, isMap } from './raw.js';
import type { AutostopMode } from './types.js';

/** A decoding failure; `bare` marks flyctl's own text, which is reported without a path prefix. */
export class Fail {
  constructor(
    readonly message: string,
    readonly bare = false,
  ) {}
}

const fail = (message: string, bare = false): Fail => new Fail(message, bare);

/** A schema for one value: `convert` returns the decoded value or a Fail. */
export function leaf<T>(convert: (value: unknown) => T | Fail) {
  return z.unknown().transform((value, ctx): T => {
    const r = convert(value);
    if (r instanceof Fail) {
      ctx.issues.push({ code: 'custom', message: r.message, input: value, params: { bare: r.bare } });
      return z.NEVER;
    }
    return r;
  });
}

const got = (value: unknown): string => `got ${describeValue(value)}`;

export const str = leaf((v) => (typeof v === 'string' ? v : fail(`expected a string, ${got(v)}`)));

export const bool = leaf((v) => (typeof v === 'boolean' ? v : fail(`expected a boolean, ${got(v)}`)));

export const int = leaf((v) => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return fail(`integer ${v.toString()} is out of range`);
  return fail(`expected an integer, ${got(v)}`);
});

export const num = leaf((v) => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return fail(`integer ${v.toString()} is out of range`);
  return fail(`expected a number, ${got(v)}`);
});

/**
 * A Go duration: a string is parsed and printed canonically ("60s" → "1m0s"); a bare number is
 * nanoseconds, as fly-go's Duration reads JSON numbers (the patches have already turned the
 * integers that flyctl reads as seconds or milliseconds into strings).
 */
export const duration = leaf((v) => {
  if (typeof v === 'string') {
    const ns = parseGoDuration(v);
    return ns === undefined ? fail(`time: invalid duration ${JSON.stringify(v)}`) : formatGoDuration(ns);
  }
  if (typeof v === 'number' && Number.isFinite(v)) return formatGoDuration(Math.trunc(v));
  if (typeof v === 'bigint') return formatGoDuration(Number(v));
  return fail(`expected a duration such as "10s", ${got(v)}`);
});

/**
 * `auto_stop_machines`: true → "stop", false → "off", or one of the three strings; any other
 * string fails in fly-go's words (`MachineAutostop.UnmarshalJSON`).
 */
export const autostop = leaf((v): AutostopMode | Fail => {
  if (v === true) return 'stop';
  if (v === false) return 'off';
  if (v === 'off' || v === 'stop' || v === 'suspend') return v;
  if (typeof v === 'string') return fail(`invalid autostop string value ${JSON.stringify(v)}`, true);
  return fail(`expected a boolean or one of "off", "stop", "suspend", ${got(v)}`);
});

function listWords(values: readonly string[]): string {
  const quoted = values.map((v) => JSON.stringify(v));
  return quoted.length <= 2 ? quoted.join(' or ') : `one of ${quoted.join(', ')}`;
}

/** One of a fixed set of strings. */
export function oneOf<const T extends string>(values: readonly T[]) {
  return leaf((v): T | Fail => ((values as readonly unknown[]).includes(v) ? (v as T) : fail(`expected ${listWords(values)}, ${got(v)}`)));
}

/** `[[vm]] memory`: a size string as written, or a number of MB kept as its string. */
export const memory = leaf((v) => {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return goValueString(v) as string;
  return fail(`expected a size such as "1gb" or a number of MB, ${got(v)}`);
});

/** `http_options.response.headers` values: a string or list of strings adds, `false` removes. */
export const responseHeader = leaf((v): string | string[] | false | Fail => {
  if (typeof v === 'string' || v === false) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return fail(`expected a string, a list of strings or false, ${got(v)}`);
});

/**
 * Free-form data (`[build.settings]`), made JSON-safe: dates become their TOML text; an integer
 * too large for a JavaScript number cannot be passed on faithfully and fails.
 */
export const plainData = leaf((v) => {
  const copy = (x: unknown): unknown => {
    if (typeof x === 'bigint') throw new Fail(`integer ${x.toString()} is out of range`);
    if (x instanceof Date) return dateText(x);
    if (Array.isArray(x)) return x.map(copy);
    if (isMap(x)) return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, copy(y)]));
    return x;
  };
  try {
    return copy(v);
  } catch (err) {
    if (err instanceof Fail) return err;
    throw err;
  }
});

/** A table with known keys; other keys are ignored (flyctl ignores them; `--strict` lists them). */
export function table<S extends z.ZodRawShape>(shape: S) {
  return z.object(shape, { error: (iss) => (iss.code === 'invalid_type' ? `expected a table, ${got(iss.input)}` : undefined) });
}

/** A TOML array. */
export function list<T extends z.ZodType>(item: T) {
  return z.array(item, { error: (iss) => (iss.code === 'invalid_type' ? `expected an array, ${got(iss.input)}` : undefined) });
}

/** A table with free keys (env-like maps, `[checks]`). */
export function record<T extends z.ZodType>(value: T) {
  return z.record(z.string(), value, { error: (iss) => (iss.code === 'invalid_type' ? `expected a table, ${got(iss.input)}` : undefined) });
}

/** A list that may also be written as a single table (Hangar accepts `[http_service.checks]`). */
export function tableOrList<T extends z.ZodType>(item: T) {
  return z.preprocess((v) => (isMap(v) ? [v] : v), list(item));
}

export const strList = list(str);
export const strMap = record(str);
