/**
 * Go duration strings, the form fly.toml, flyctl and the Machines API use ("15s", "1m30s",
 * "500ms", "1h0m0s"). Parsing follows Go's time.ParseDuration; formatting follows
 * time.Duration.String(), so `hangar config show` prints what `fly config show` prints.
 * Values are integer nanoseconds (as Go's time.Duration).
 */

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

export const NS_PER_MS = 1e6;
export const NS_PER_SECOND = 1e9;

/** Parses a Go duration string to nanoseconds; returns undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  let s = text.trim();
  if (s === '') return undefined;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_NS[m[2] as string] as number);
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}

function fracTrim(value: number, digits: number): string {
  return value.toFixed(digits).replace(/\.?0+$/, '');
}

/** Formats nanoseconds like Go's time.Duration.String(): "1h2m3.5s", "1m0s", "500ms", "0s". */
export function formatGoDuration(ns: number): string {
  if (!Number.isFinite(ns)) return '0s';
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let n = Math.abs(Math.round(ns));
  const sign = neg ? '-' : '';
  if (n < 1e3) return `${sign}${n}ns`;
  if (n < 1e6) return `${sign}${fracTrim(n / 1e3, 3)}µs`;
  if (n < 1e9) return `${sign}${fracTrim(n / 1e6, 6)}ms`;
  const h = Math.floor(n / 3600e9);
  n -= h * 3600e9;
  const m = Math.floor(n / 60e9);
  n -= m * 60e9;
  const sec = fracTrim(n / 1e9, 9) || '0';
  if (h > 0) return `${sign}${h}h${m}m${sec}s`;
  if (m > 0) return `${sign}${m}m${sec}s`;
  return `${sign}${sec}s`;
}

/** Milliseconds → canonical Go duration string. */
export function goDurationFromMs(ms: number): string {
  return formatGoDuration(ms * NS_PER_MS);
}
