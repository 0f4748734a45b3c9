/**
 * Which certificate serves a TLS server name (SNI). Pure: the caller passes what it knows (the
 * base domain, the apps, the custom hostnames with certificates) and gets the certificate name
 * to serve or issue, or `null` when no certificate belongs to that name (ARCHITECTURE.md "Edge
 * proxy": host-based routing on `<app>.<base-domain>`, custom hostnames from certificates).
 */

/** What the proxy knows about names it may serve. */
export interface CertCatalog {
  /** Apps answer at `<app>.<baseDomain>` (lower case, no trailing dot). */
  readonly baseDomain: string;
  /** App names that exist. */
  readonly apps: ReadonlySet<string>;
  /** Custom hostnames: exact (`www.example.com`) or one-level wildcards (`*.example.com`). */
  readonly hostnames?: ReadonlySet<string>;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * A server name as sent in SNI, lower-cased and without a trailing dot; `null` when it is not a
 * DNS host name (IP literals are not sent as SNI, RFC 6066 §3, and get no name-based certificate).
 */
export function normalizeServerName(name: string | undefined | null): string | null {
  if (!name) return null;
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n.length === 0 || n.length > 253) return null;
  const labels = n.split('.');
  if (!labels.every((l) => LABEL.test(l))) return null;
  if (labels.every((l) => /^[0-9]+$/.test(l))) return null;
  return n;
}

/** Is `name` a valid certificate name: a host name or `*.` + a host name with at least two labels. */
export function isCertName(name: string): boolean {
  if (name.startsWith('*.')) {
    const rest = normalizeServerName(name.slice(2));
    return rest !== null && rest === name.slice(2) && rest.includes('.');
  }
  return normalizeServerName(name) === name;
}

/**
 * The certificate name for `serverName`: an exact custom hostname first, then an app's own
 * hostname `<app>.<base>`, then a wildcard `*.<parent>` covering exactly one label (RFC 6125
 * §6.4.3: a wildcard never matches across dots). `null`: nothing of ours answers at that name.
 */
export function selectCertName(serverName: string | undefined | null, catalog: CertCatalog): string | null {
  const name = normalizeServerName(serverName);
  if (name === null) return null;
  if (catalog.hostnames?.has(name)) return name;
  const base = catalog.baseDomain.toLowerCase().replace(/\.$/, '');
  if (name.endsWith(`.${base}`)) {
    const app = name.slice(0, -base.length - 1);
    if (!app.includes('.') && catalog.apps.has(app)) return name;
  }
  const dot = name.indexOf('.');
  if (dot > 0) {
    const wildcard = `*${name.slice(dot)}`;
    if (catalog.hostnames?.has(wildcard)) return wildcard;
  }
  return null;
}

/** Stable file-name stem of a certificate name (`*.example.com` → `_wildcard.example.com`). */
export function certFileStem(name: string): string {
  if (!isCertName(name)) throw new Error(`not a certificate name: ${JSON.stringify(name)}`);
  return name.startsWith('*.') ? `_wildcard${name.slice(1)}` : name;
}
