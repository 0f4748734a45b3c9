/**
 * Validation of the names clients choose, so nothing a caller sends can escape into a path, a
 * store scope or a bus subject (all of them are checked before use; reference §1a says which
 * characters Fly accepts where it says so).
 */

/** App names and org slugs: lowercase letters, digits and dashes, 1–63 chars, no leading/trailing dash (DNS label). */
export const APP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Machine ids: Hangar makes 14 hex digits; the docs also show 15-char ids, so any short lowercase alnum. */
export const MACHINE_ID = /^[a-z0-9]{1,32}$/;
/** Machine names: a DNS-label-like name. */
export const MACHINE_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,62})$/;
/** Region codes (Fly's are three letters; Hangar hosts may use any short code). */
export const REGION = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** Volume names: Fly allows lowercase alphanumerics and underscores, up to 30 chars. */
export const VOLUME_NAME = /^[a-z0-9_]{1,30}$/;
/** Volume ids as Hangar makes them. */
export const VOLUME_ID = /^vol_[a-z0-9]{1,32}$/;
/** Secret names: environment variable names. */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Metadata keys. */
export const METADATA_KEY = /^[A-Za-z0-9_.-]{1,128}$/;

/** A short printable rendition of an untrusted value for an error message. */
export function quote(value: string): string {
  const s = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return JSON.stringify(s);
}
