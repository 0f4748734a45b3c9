/**
 * TLS termination for listeners of ports with the `tls` handler (reference §1c). The proxy's
 * `ListenerManager` keeps owning the listening sockets; each accepted TCP connection of a TLS
 * listener is handed to `TlsFront.accept`, which runs the handshake with a `tls.Server` per
 * listener that never listens itself (fed through its `connection` event), then passes the
 * decrypted socket on by what was negotiated: `h2` → HTTP/2 front, otherwise HTTP/1.1, and for
 * a TLS-only TCP service the TCP splice whatever the ALPN.
 *
 * Per-app `tls_options` on the shared 443 listener: the certificate comes from SNI, the ALPN
 * choice from `ALPNCallback` (which sees the server name), and the version range is checked
 * right after the handshake, because OpenSSL fixes the version range before SNI can switch
 * contexts. A dedicated port has one route, known before the handshake: its handshakes run on a
 * `tls.Server` with the route's version range, so a client outside it fails the handshake itself
 * (`protocol_version` alert) instead of being dropped after it.
 */
import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { CertCatalog } from '../../core/certs/select.js';
import { selectCertName } from '../../core/certs/select.js';
import { chooseAlpn, DEFAULT_TLS, versionAllowed, type ResolvedTlsOptions } from '../../core/certs/tls-options.js';
import { routeForHost, routeForPort } from '../../core/proxy/table.js';
import type { ListenerSpec, Route, RouteTable } from '../../core/proxy/types.js';
import type { SniContexts } from '../../certs/sni.js';
import { tlsOf } from './port-options.js';

/**
 * Where a decrypted connection goes next: the proxy's own path for the listener's kind (HTTP/1.1
 * session or TCP splice), as `SecureAcceptor.accept` in src/proxy/context.ts hands it in.
 */
export type HandOff = (decrypted: Socket, info?: { clientIp?: string; proto?: 'http' | 'https' }) => void;

/** The HTTP/2 front (src/proxy/h2/front.ts): serves ALPN `h2` connections, each stream via `handOff`. */
export interface H2Acceptor {
  accept(sock: TLSSocket, spec: ListenerSpec, handOff: HandOff): void;
}

export interface TlsFrontOptions {
  /** The current route table (read at every handshake: routes move across rebuilds). */
  table(): RouteTable;
  /** Apps answer at `<app>.<baseDomain>` (default `localhost`). */
  baseDomain?: string;
  /** Custom host names with certificates (exact or `*.domain`). */
  hostnames?(): ReadonlySet<string>;
  certs: SniContexts;
  h2: H2Acceptor;
  /** A handshake that takes longer is dropped (default 10 s; Node's own is 120 s). */
  handshakeTimeoutMs?: number;
  /** Failed handshakes (unknown name, no common protocol, bad version); cheap, may be noisy. */
  onHandshakeError?(err: Error, spec: ListenerSpec): void;
}

/** Does this listener terminate TLS? (`https` listeners, and any spec the table marks `tls`.) */
export function isTlsListener(spec: ListenerSpec): boolean {
  return spec.proto === 'https' || (spec as ListenerSpec & { tls?: boolean }).tls === true;
}

function specKey(s: ListenerSpec): string {
  return `${s.addr}|${s.kind}|${s.publicPort}|${s.proto}`;
}

/** Implements the proxy's `SecureAcceptor` seam (src/proxy/context.ts). */
export class TlsFront {
  private readonly servers = new Map<string, Server>();
  private readonly handOffs = new Map<string, HandOff>();
  private readonly catalogs = new WeakMap<RouteTable, Map<number, CertCatalog>>();
  private readonly base: string;

  constructor(private readonly o: TlsFrontOptions) {
    this.base = (o.baseDomain ?? 'localhost').toLowerCase();
  }

  /** Starts the handshake on a connection accepted by a TLS listener. */
  accept(sock: Socket, spec: ListenerSpec, handOff: HandOff): void {
    sock.on('error', () => undefined);
    this.handOffs.set(specKey(spec), handOff);
    // The shared listener's route depends on SNI, so it runs with the widest range (checked per
    // route after the handshake); a dedicated port's route is known now.
    const range = spec.kind === 'http-host' ? DEFAULT_TLS : tlsOf(this.routeFor(spec, undefined));
    this.serverFor(spec, range).emit('connection', sock);
  }

  /** The route a server name reaches on this listener. */
  routeFor(spec: ListenerSpec, serverName: string | undefined): Route | undefined {
    const table = this.o.table();
    if (spec.kind === 'http-host') return serverName ? routeForHost(table, spec.publicPort, serverName) : undefined;
    return routeForPort(table, spec.publicPort);
  }

  /** Which names have certificates on this listener: every app on a shared one, else the port's app. */
  catalogFor(spec: ListenerSpec): CertCatalog {
    const table = this.o.table();
    let perPort = this.catalogs.get(table);
    if (!perPort) this.catalogs.set(table, (perPort = new Map()));
    let c = perPort.get(spec.publicPort);
    if (!c) {
      const apps = new Set<string>();
      if (spec.kind === 'http-host') {
        for (const r of table.hosts.get(spec.publicPort)?.values() ?? []) apps.add(r.app);
      } else {
        const r = routeForPort(table, spec.publicPort);
        if (r) apps.add(r.app);
      }
      c = { baseDomain: this.base, apps, ...(this.o.hostnames ? { hostnames: this.o.hostnames() } : {}) };
      perPort.set(spec.publicPort, c);
    }
    return c;
  }

  /** The handshake server of a listener and version range (a range changes with the table). */
  private serverFor(spec: ListenerSpec, range: Pick<ResolvedTlsOptions, 'minVersion' | 'maxVersion'>): Server {
    const key = `${specKey(spec)}|${range.minVersion}|${range.maxVersion}`;
    let server = this.servers.get(key);
    if (server) return server;
    const { minVersion, maxVersion } = range;
    server = createServer({
      handshakeTimeout: this.o.handshakeTimeoutMs ?? 10_000,
      minVersion,
      maxVersion,
      SNICallback: (name, cb) => {
        const tls = tlsOf(this.routeFor(spec, name));
        this.o.certs.forServerName(name, this.catalogFor(spec), tls.defaultSelfSigned).then(
          (ctx) => (ctx ? cb(null, ctx) : cb(new Error(`no certificate for server name '${name}'`))),
          (err: Error) => cb(err),
        );
      },
      ALPNCallback: ({ servername, protocols }) => chooseAlpn(tlsOf(this.routeFor(spec, servername)).alpn, protocols),
    });
    // Without SNI no callback runs: the self-signed context answers, and `secure` below closes
    // the connection unless the route allows `default_self_signed`.
    const srv = server;
    void this.o.certs.selfSignedCert().then(
      (c) => srv.setSecureContext({ cert: c.certPem, key: c.keyPem, minVersion, maxVersion }),
      () => undefined,
    );
    server.on('secureConnection', (s: TLSSocket) => this.secure(s, spec));
    server.on('tlsClientError', (err: Error) => this.o.onHandshakeError?.(err, spec));
    this.servers.set(key, server);
    return server;
  }

  private secure(s: TLSSocket, spec: ListenerSpec): void {
    s.on('error', () => undefined);
    const name = typeof s.servername === 'string' ? s.servername : undefined;
    const route = this.routeFor(spec, name);
    const tls = tlsOf(route);
    if (!versionAllowed(tls, s.getProtocol())) {
      this.o.onHandshakeError?.(new Error(`${s.getProtocol() ?? 'this TLS version'} is not allowed by tls_options.versions`), spec);
      s.destroy();
      return;
    }
    if (selectCertName(name, this.catalogFor(spec)) === null && !tls.defaultSelfSigned) {
      this.o.onHandshakeError?.(new Error(name ? `no certificate for server name '${name}'` : 'the client sent no server name (SNI)'), spec);
      s.destroy();
      return;
    }
    const handOff = this.handOffs.get(specKey(spec));
    if (!handOff) {
      s.destroy();
      return;
    }
    if (spec.kind !== 'tcp' && s.alpnProtocol === 'h2') this.o.h2.accept(s, spec, handOff);
    else handOff(s, { proto: 'https' });
  }

  /** Forgets the per-listener servers (their connections belong to the listeners' owner). */
  close(): void {
    for (const s of this.servers.values()) s.removeAllListeners();
    this.servers.clear();
    this.handOffs.clear();
  }
}
