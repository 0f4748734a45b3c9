/**
 * A client for one repository of an OCI distribution registry (Registry HTTP API v2) on Node's
 * global `fetch`: manifests by tag or digest, blobs as streams. Authentication follows the
 * registry's challenge: `WWW-Authenticate: Bearer realm=…,service=…,scope=…` → token from the
 * realm (with basic credentials when given) → retry; `Basic` → retry with credentials.
 * Errors are coded and name the image reference.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ImageError } from '../core/images/errors.js';
import { type ImageReference, formatReference, registryApiHost, usesPlainHttp } from '../core/images/reference.js';
import { MANIFEST_ACCEPT } from './manifest.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** Registries (`host[:port]`) spoken to over plain HTTP besides loopback ones. */
  insecure?: readonly string[];
  /** Credentials for a registry host, if any. */
  credentials?: (registry: string) => Credentials | undefined;
  /** Time limit for manifest and token requests (blob downloads have none). Default 30 s. */
  requestTimeoutMs?: number;
}

export interface FetchedManifest {
  bytes: Buffer;
  /** Content-Type as served (tells a manifest list from a manifest). */
  contentType: string | undefined;
  /** The registry's Docker-Content-Digest header, when it sent one. */
  headerDigest: string | undefined;
}

/** Parses the parameters of a `WWW-Authenticate` challenge: scheme plus key="value" pairs. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (const m of (space < 0 ? '' : header.slice(space + 1)).matchAll(re)) {
    params[(m[1] as string).toLowerCase()] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme, params };
}

export class RegistryClient {
  private readonly base: string;
  private readonly display: string;
  private authorization: string | undefined;

  constructor(
    private readonly ref: ImageReference,
    private readonly opts: RegistryOptions = {},
  ) {
    const scheme = usesPlainHttp(ref.registry, opts.insecure) ? 'http' : 'https';
    this.base = `${scheme}://${registryApiHost(ref.registry)}/v2/${ref.repository}`;
    this.display = formatReference(ref);
  }

  /** GETs a manifest (or manifest list) by tag or digest. */
  async manifest(reference: string): Promise<FetchedManifest> {
    const res = await this.request(`${this.base}/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, true);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new ImageError('HANGAR_ERR_IMAGE_NOT_FOUND', `image ${this.display} not found: registry ${this.ref.registry} has no manifest ${reference} in ${this.ref.repository}`, { ref: this.display });
    }
    await this.expectOk(res, `manifest ${reference}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    return { bytes, contentType: res.headers.get('content-type') ?? undefined, headerDigest: res.headers.get('docker-content-digest') ?? undefined };
  }

  /** GETs a blob as a stream; the caller verifies its digest while storing it. */
  async blob(digest: string): Promise<AsyncIterable<Uint8Array>> {
    const res = await this.request(`${this.base}/blobs/${digest}`, {}, false);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new ImageError('HANGAR_ERR_IMAGE_PULL', `registry ${this.ref.registry} is missing blob ${digest} of ${this.display}`, { ref: this.display });
    }
    await this.expectOk(res, `blob ${digest}`);
    if (!res.body) throw new ImageError('HANGAR_ERR_IMAGE_PULL', `registry ${this.ref.registry} sent no body for blob ${digest} of ${this.display}`, { ref: this.display });
    return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  }

  private async request(url: string, headers: Record<string, string>, timed: boolean): Promise<Response> {
    let res = await this.send(url, headers, timed);
    if (res.status === 401 && (await this.authenticate(res))) res = await this.send(url, headers, timed);
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new ImageError(
        'HANGAR_ERR_IMAGE_AUTH',
        `registry ${this.ref.registry} refused access to ${this.display} (HTTP ${res.status}${this.authorization ? ', even with a token' : ''})`,
        { ref: this.display },
      );
    }
    return res;
  }

  private async send(url: string, headers: Record<string, string>, timed: boolean): Promise<Response> {
    const h: Record<string, string> = { ...headers };
    if (this.authorization) h.authorization = this.authorization;
    return this.fetch(url, { headers: h, redirect: 'follow', ...(timed ? { signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 30_000) } : {}) }, this.ref.registry);
  }

  private async fetch(url: string, init: RequestInit, host: string): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ImageError('HANGAR_ERR_IMAGE_PULL', `cannot pull ${this.display}: ${host} is unreachable (${why})`, { ref: this.display, cause: err });
    }
  }

  /** Answers a 401 challenge; returns whether a retry is worth it. */
  private async authenticate(res: Response): Promise<boolean> {
    await res.body?.cancel();
    if (this.authorization) return false;
    const header = res.headers.get('www-authenticate');
    if (!header) return false;
    const { scheme, params } = parseChallenge(header);
    const creds = this.opts.credentials?.(this.ref.registry);
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    if (scheme === 'basic') {
      this.authorization = basic;
      return basic !== undefined;
    }
    if (scheme !== 'bearer' || !params.realm) return false;
    const tokenUrl = new URL(params.realm);
    if (params.service) tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', params.scope ?? `repository:${this.ref.repository}:pull`);
    const tokenRes = await this.fetch(
      tokenUrl.toString(),
      { headers: basic ? { authorization: basic } : {}, signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 30_000) },
      tokenUrl.host,
    );
    if (!tokenRes.ok) {
      await tokenRes.body?.cancel();
      throw new ImageError('HANGAR_ERR_IMAGE_AUTH', `the token server ${tokenUrl.origin} refused a token for ${this.display} (HTTP ${tokenRes.status})`, { ref: this.display });
    }
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = (await tokenRes.json()) as typeof body;
    } catch (err) {
      throw new ImageError('HANGAR_ERR_IMAGE_AUTH', `the token server ${tokenUrl.origin} answered ${this.display}'s token request with something that is not JSON`, { ref: this.display, cause: err });
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw new ImageError('HANGAR_ERR_IMAGE_AUTH', `the token server ${tokenUrl.origin} sent no token for ${this.display}`, { ref: this.display });
    this.authorization = `Bearer ${token}`;
    return true;
  }

  private async expectOk(res: Response, what: string): Promise<void> {
    if (res.ok) return;
    let detail = '';
    try {
      const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
      detail = (body.errors ?? []).map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ');
    } catch {
      // not a registry error body; the status says enough
    }
    throw new ImageError(
      'HANGAR_ERR_IMAGE_PULL',
      `cannot pull ${this.display}: registry ${this.ref.registry} answered HTTP ${res.status} for ${what}${detail ? ` (${detail})` : ''}`,
      { ref: this.display },
    );
  }
}
