/**
 * Size strings as fly.toml writes them. flyctl reads `[[vm]] memory` with binary units
 * ("1g" = "1gb" = 1024 MB, a bare number = MB; machines.go computeToGuest) and mount sizes
 * (`initial_size`, `auto_extend_size_*`) as GB ("10gb", a bare integer = GB).
 */

const BINARY: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses "512", "512mb", "1g", "1.5GB" to bytes, with `bareUnit` for a number without unit. */
export function parseSizeBytes(text: string, bareUnit: 'mb' | 'gb'): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase() || bareUnit;
  const mult = BINARY[unit];
  if (mult === undefined) return undefined;
  return value * mult;
}

/** Memory in MB (binary units; a bare number is MB), rounded down; undefined when unreadable. */
export function parseMemoryMb(text: string): number | undefined {
  const bytes = parseSizeBytes(text, 'mb');
  return bytes === undefined ? undefined : Math.floor(bytes / 1024 ** 2);
}

/** A volume size in whole GB (a bare number is GB); undefined when unreadable. */
export function parseSizeGb(text: string): number | undefined {
  const bytes = parseSizeBytes(text, 'gb');
  return bytes === undefined ? undefined : Math.floor(bytes / 1024 ** 3);
}
