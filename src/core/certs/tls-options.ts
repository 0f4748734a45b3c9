/**
 * `tls_options` of a port (reference §1c: `alpn`, `versions`, `default_self_signed`) resolved to
 * what a TLS server needs. Fly's defaults: ALPN `h2`, `http/1.1`; TLS 1.2 and 1.3; no
 * self-signed fallback (an unknown name fails the handshake).
 */

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

export interface ResolvedTlsOptions {
  /** Protocols the server accepts, in its order of preference. */
  readonly alpn: readonly string[];
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** Serve a self-signed certificate when no certificate belongs to the name asked for. */
  readonly defaultSelfSigned: boolean;
}

export interface TlsOptionsInput {
  alpn?: string[];
  versions?: string[];
  default_self_signed?: boolean;
}

export const DEFAULT_ALPN: readonly string[] = ['h2', 'http/1.1'];
export const DEFAULT_TLS: ResolvedTlsOptions = { alpn: DEFAULT_ALPN, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', defaultSelfSigned: false };

const ORDER: readonly TlsVersion[] = ['TLSv1.2', 'TLSv1.3'];
/** Versions Fly lists that Hangar refuses (OpenSSL's default security level disables them). */
const OBSOLETE = new Set(['TLSv1', 'TLSv1.0', 'TLSv1.1']);

function canonicalVersion(v: string): string {
  const m = /^(?:tls\s*v?)?(1(?:\.[0-3])?)$/i.exec(v.trim());
  if (!m) return v;
  const n = m[1] === '1' ? '1.0' : m[1]!;
  return n === '1.0' ? 'TLSv1' : `TLSv${n}`;
}

/**
 * Resolves `tls_options`. `forHttp`: the port also has the `http` handler, so only `h2` and
 * `http/1.1` can be spoken after the handshake; other ALPN names are dropped with a problem.
 * Problems are reported, never fatal: the port keeps serving with what is valid.
 */
export function resolveTlsOptions(input: TlsOptionsInput | undefined, forHttp: boolean): { options: ResolvedTlsOptions; problems: string[] } {
  const problems: string[] = [];
  let alpn = DEFAULT_ALPN;
  if (input?.alpn !== undefined) {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const p of input.alpn) {
      const name = p.trim();
      if (name.length === 0 || name.length > 255 || seen.has(name)) continue;
      if (forHttp && name !== 'h2' && name !== 'http/1.1') {
        problems.push(`tls_options.alpn: '${name}' cannot be served by the http handler (only h2 and http/1.1)`);
        continue;
      }
      seen.add(name);
      out.push(name);
    }
    if (out.length === 0 && forHttp) {
      problems.push('tls_options.alpn has no protocol the http handler speaks; using http/1.1');
      out.push('http/1.1');
    }
    alpn = out;
  }
  let minVersion: TlsVersion = 'TLSv1.2';
  let maxVersion: TlsVersion = 'TLSv1.3';
  if (input?.versions !== undefined) {
    const idx: number[] = [];
    for (const raw of input.versions) {
      const v = canonicalVersion(raw);
      const i = ORDER.indexOf(v as TlsVersion);
      if (i >= 0) idx.push(i);
      else if (OBSOLETE.has(v)) problems.push(`tls_options.versions: ${raw} is not supported (TLS 1.2 and 1.3 are)`);
      else problems.push(`tls_options.versions: unknown TLS version '${raw}'`);
    }
    if (idx.length > 0) {
      minVersion = ORDER[Math.min(...idx)]!;
      maxVersion = ORDER[Math.max(...idx)]!;
    } else problems.push('tls_options.versions allows no supported version; using TLS 1.2 and 1.3');
  }
  return { options: { alpn, minVersion, maxVersion, defaultSelfSigned: input?.default_self_signed === true }, problems };
}

/** Whether a negotiated protocol (`tls.TLSSocket.getProtocol()`) is within the options' range. */
export function versionAllowed(o: ResolvedTlsOptions, negotiated: string | null): boolean {
  const i = ORDER.indexOf(negotiated as TlsVersion);
  return i >= 0 && i >= ORDER.indexOf(o.minVersion) && i <= ORDER.indexOf(o.maxVersion);
}

/**
 * ALPN selection (RFC 7301 §3.2): the server's most preferred protocol that the client offers;
 * `undefined` when there is none, which fails the handshake with `no_application_protocol`.
 */
export function chooseAlpn(serverOrder: readonly string[], clientOffers: readonly string[]): string | undefined {
  for (const p of serverOrder) if (clientOffers.includes(p)) return p;
  return undefined;
}
