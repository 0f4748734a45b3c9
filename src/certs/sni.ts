/**
 * Certificates for TLS handshakes: a `tls.SecureContext` per certificate name, built from the
 * local CA's leaves on first use and kept in memory until due for renewal. The choice of name
 * is core/certs/select.ts; this file only does the I/O around it.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { needsRenewal, type Validity } from '../core/certs/lifetime.js';
import { selectCertName, type CertCatalog } from '../core/certs/select.js';
import { selfSignedCert, type IssuedCert } from './local-ca.js';

/** Where leaves come from (the local CA; ACME later). */
export interface LeafSource {
  leaf(name: string): Promise<IssuedCert>;
}

interface Entry {
  ctx: SecureContext;
  validity: Validity;
}

export class SniContexts {
  private readonly contexts = new Map<string, Entry>();
  private selfSigned: Promise<IssuedCert> | null = null;
  private selfSignedCtx: Promise<SecureContext> | null = null;

  constructor(private readonly source: LeafSource, private readonly now: () => Date = () => new Date()) {}

  /** The context for a certificate name (issued on first use, renewed when due). */
  async forCertName(name: string): Promise<SecureContext> {
    const hit = this.contexts.get(name);
    if (hit && !needsRenewal(hit.validity, this.now())) return hit.ctx;
    const leaf = await this.source.leaf(name);
    const entry = { ctx: createSecureContext({ cert: leaf.certPem, key: leaf.keyPem }), validity: leaf.validity };
    this.contexts.set(name, entry);
    return entry.ctx;
  }

  /**
   * The context for a server name: its certificate when one belongs to it (select.ts), else the
   * self-signed one when `defaultSelfSigned`, else `null` (the handshake must fail).
   */
  async forServerName(serverName: string | undefined, catalog: CertCatalog, defaultSelfSigned: boolean): Promise<SecureContext | null> {
    const name = selectCertName(serverName, catalog);
    if (name !== null) return this.forCertName(name);
    return defaultSelfSigned ? this.selfSignedContext() : null;
  }

  /** One self-signed certificate per process (`tls_options.default_self_signed`). */
  selfSignedCert(): Promise<IssuedCert> {
    this.selfSigned ??= selfSignedCert(this.now());
    return this.selfSigned;
  }

  selfSignedContext(): Promise<SecureContext> {
    this.selfSignedCtx ??= this.selfSignedCert().then((c) => createSecureContext({ cert: c.certPem, key: c.keyPem }));
    return this.selfSignedCtx;
  }
}
