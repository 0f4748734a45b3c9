/**
 * `http_options.response` (reference §1c): `headers` adds headers to every response (a string
 * or a list of strings; a list gives one header line per value) or removes them (`false`);
 * `pristine = true` keeps the proxy's own lines (`Via`, `Fly-Request-Id`, `Server`,
 * `Fly-Cache-Status`) off responses.
 *
 * A configured header replaces a header of the same name sent by the app, so a security header
 * set in fly.toml is not doubled or contradicted by the app's own. Pure: the HTTP/1.1 path
 * rewrites head text, the HTTP/2 paths a header object.
 */

/** `http_options.response` as fly.toml and the Machines API carry it. */
export interface ResponseOptionsInput {
  headers?: Record<string, unknown>;
  pristine?: boolean;
}

/** The rewrite to apply, prepared once per route. */
export interface CompiledResponseOptions {
  /** Header lines to add, `Name: value`, in config order. */
  readonly add: readonly (readonly [string, string])[];
  /** Lower-case names to drop from the app's response (removed ones and replaced ones). */
  readonly drop: ReadonlySet<string>;
  readonly pristine: boolean;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Names the proxy owns: framing and connection management cannot be configured away. */
const PROTECTED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'trailer']);

/**
 * Validates and prepares `response` options. Invalid entries (a bad header name, a value with a
 * control character, a framing header, a value of another type) are skipped and reported in
 * `problems`; `options` is `null` when there is nothing to rewrite and `pristine` is off.
 */
export function compileResponseOptions(input: ResponseOptionsInput | undefined): { options: CompiledResponseOptions | null; problems: string[] } {
  const problems: string[] = [];
  const add: [string, string][] = [];
  const drop = new Set<string>();
  for (const [name, value] of Object.entries(input?.headers ?? {})) {
    const where = `http_options.response.headers.${name}`;
    if (!TOKEN.test(name)) {
      problems.push(`${where}: not a valid header name`);
      continue;
    }
    const lower = name.toLowerCase();
    if (PROTECTED.has(lower)) {
      problems.push(`${where}: the proxy manages this header; it cannot be set or removed`);
      continue;
    }
    if (value === false) {
      drop.add(lower);
      continue;
    }
    const values = typeof value === 'string' ? [value] : Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : null;
    if (values === null) {
      problems.push(`${where}: must be a string, a list of strings, or false`);
      continue;
    }
    const bad = values.find((v) => /[\0\r\n]/.test(v));
    if (bad !== undefined) {
      problems.push(`${where}: values cannot contain line breaks or NUL`);
      continue;
    }
    drop.add(lower);
    for (const v of values) add.push([name, v.trim()]);
  }
  const pristine = input?.pristine === true;
  if (add.length === 0 && drop.size === 0 && !pristine) return { options: null, problems };
  return { options: { add, drop, pristine }, problems };
}

/** The options when they change headers, else `null` (a pristine-only route rewrites nothing). */
export function headerRewrite(o: CompiledResponseOptions | null | undefined): CompiledResponseOptions | null {
  return o && (o.add.length > 0 || o.drop.size > 0) ? o : null;
}

/**
 * Rewrites an HTTP/1.1 response head: `head` is the status line and header lines, each ending
 * in CRLF, without the final empty line. Lines whose name is dropped go; added lines follow the
 * app's. Obsolete line folding (a line starting with space or tab) belongs to the line above.
 */
export function rewriteResponseHead(head: string, o: CompiledResponseOptions): string {
  const firstEnd = head.indexOf('\r\n');
  if (firstEnd < 0) return head;
  let out = head.slice(0, firstEnd + 2);
  let dropping = false;
  let p = firstEnd + 2;
  while (p < head.length) {
    let e = head.indexOf('\r\n', p);
    if (e < 0) e = head.length;
    const line = head.slice(p, e);
    const folded = line.startsWith(' ') || line.startsWith('\t');
    if (!folded) {
      const colon = line.indexOf(':');
      dropping = colon > 0 && o.drop.has(line.slice(0, colon).trim().toLowerCase());
    }
    if (!dropping) out += `${line}\r\n`;
    p = e + 2;
  }
  for (const [name, value] of o.add) out += `${name}: ${value}\r\n`;
  return out;
}

/** Header object form, for HTTP/2 responses (names lower case, as HTTP/2 requires). */
export type HeaderObject = Record<string, string | string[] | number | undefined>;

/** Applies the options to an HTTP/2 response header object, in place, and returns it. */
export function rewriteResponseHeaders(headers: HeaderObject, o: CompiledResponseOptions): HeaderObject {
  for (const name of Object.keys(headers)) if (o.drop.has(name.toLowerCase())) delete headers[name];
  for (const [name, value] of o.add) {
    const key = name.toLowerCase();
    const prev = headers[key];
    if (prev === undefined) headers[key] = value;
    else headers[key] = [...(Array.isArray(prev) ? prev : [String(prev)]), value];
  }
  return headers;
}

/** The proxy's own response headers a pristine route keeps off (reference §1c). */
export const PRISTINE_SUPPRESSED: readonly string[] = ['server', 'via', 'fly-request-id', 'fly-cache-status'];
