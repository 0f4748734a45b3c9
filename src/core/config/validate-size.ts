/**
 * Volume sizes read the way flyctl's mount validation reads them, so our messages carry the same
 * numbers and the same error text (reference §1b "Validation and messages", mounts).
 *
 * flyctl (`helpers.ParseSize(s, units.FromHumanSize, units.GB)`) first tries the text as a plain
 * integer, which then means GB. Otherwise it asks docker/go-units' `FromHumanSize`, which uses
 * *decimal* units (k = 1000, g = 1e9; "GiB" is accepted but still counts 1e9) and truncates, and
 * divides by 1e9 with integer division. So "500mb" is 0 GB ("smaller than 1GB") and "1000mb" is 1.
 * This deliberately differs from `parseSizeGb` in `core/units.ts` (binary units), which is what the
 * planner uses for sizes; here only flyctl's verdict and wording matter.
 */

export type GbParse = { ok: true; gb: number } | { ok: false; error: string };

const DECIMAL: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/** Go's strconv.Atoi syntax: optional sign, then ASCII digits only. */
const GO_INT = /^[+-]?\d+$/;
/** Decimal forms Go's strconv.ParseFloat accepts (hex floats and inf/nan handled separately). */
const GO_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const GO_SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;

/** Go's `%q` for the strings we can meet here (printable text): a double-quoted, escaped string. */
function goQuote(text: string): string {
  return JSON.stringify(text);
}

/** `strconv.ParseFloat(num, 64)`, with Go's error text. */
function parseGoFloat(num: string): { ok: true; value: number } | { ok: false; error: string } {
  if (GO_SPECIAL.test(num)) {
    const lower = num.toLowerCase();
    if (lower.includes('nan')) return { ok: true, value: Number.NaN };
    return { ok: true, value: lower.startsWith('-') ? -Infinity : Infinity };
  }
  if (!GO_FLOAT.test(num)) return { ok: false, error: `strconv.ParseFloat: parsing ${goQuote(num)}: invalid syntax` };
  const value = Number(num);
  if (!Number.isFinite(value)) return { ok: false, error: `strconv.ParseFloat: parsing ${goQuote(num)}: value out of range` };
  return { ok: true, value };
}

/** Go's `int64(f)` for the values that matter: truncation, with NaN/±Inf collapsing to MinInt64 as on amd64. */
function goInt64(value: number): number {
  if (!Number.isFinite(value)) return Number.MIN_SAFE_INTEGER;
  return Math.trunc(value);
}

/** docker/go-units `FromHumanSize`: bytes, or go-units' error text. */
export function fromHumanSize(text: string): { ok: true; bytes: number } | { ok: false; error: string } {
  let sep = -1;
  for (let i = text.length - 1; i >= 0; i -= 1) {
    if ('0123456789. '.includes(text[i] as string)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) return { ok: false, error: `invalid size: '${text}'` };
  const num = text[sep] === ' ' ? text.slice(0, sep) : text.slice(0, sep + 1);
  const rawSuffix = text.slice(sep + 1);
  const parsed = parseGoFloat(num);
  if (!parsed.ok) return parsed;
  let size = parsed.value;
  if (size < 0) return { ok: false, error: `invalid size: '${text}'` };
  if (rawSuffix.length === 0) return { ok: true, bytes: goInt64(size) };
  const badSuffix = (sfx: string) => ({ ok: false as const, error: `invalid suffix: '${sfx}'` });
  if (rawSuffix.length > 3) return badSuffix(rawSuffix);
  const sfx = rawSuffix.toLowerCase();
  if (sfx[0] === 'b') return sfx.length > 1 ? badSuffix(sfx) : { ok: true, bytes: goInt64(size) };
  const mult = DECIMAL[sfx[0] as string];
  if (mult === undefined) return badSuffix(sfx);
  size *= mult;
  if (sfx.length === 2 && sfx[1] !== 'b') return badSuffix(sfx);
  if (sfx.length === 3 && sfx.slice(1) !== 'ib') return badSuffix(sfx);
  return { ok: true, bytes: goInt64(size) };
}

/**
 * A mount size in whole GB as flyctl computes it, or the error flyctl would embed in
 * `mount '<src>' with <key> '<v>' will fail because of: <err>`.
 */
export function parseFlyctlSizeGb(text: string): GbParse {
  if (GO_INT.test(text)) return { ok: true, gb: Number(text) };
  const res = fromHumanSize(text);
  if (!res.ok) return { ok: false, error: `invalid size: ${res.error}` };
  return { ok: true, gb: Math.trunc(res.bytes / 1e9) };
}
