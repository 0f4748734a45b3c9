/**
 * The HTTP/2 front (reference §1c: the `http` handler speaks HTTP/1.1 and HTTP/2 to clients).
 * A connection whose TLS handshake chose ALPN `h2` is given to a `node:http2` server per
 * listener (fed through its `connection` event; it never listens). Each stream becomes one
 * HTTP/1.1 request on the proxy's normal path (h1-bridge.ts), so routing, balancing, holds and
 * Fly's headers apply once; for routes with `http_options.h2_backend` that path speaks h2c to
 * the machine (h2c-upstream.ts), with the response's trailers carried back as HTTP/2 trailers.
 */
import type { Socket } from 'node:net';
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { ListenerSpec } from '../../core/proxy/types.js';
import type { HandOff } from '../tls/front.js';
import { StreamConnection } from './h1-bridge.js';

export interface ClientAddr {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
}

export interface H2FrontOptions {
  /** A connection with no stream for this long is closed (default 60 s, Fly's idle timeout). */
  idleTimeoutMs?: number;
  /** Concurrent streams per connection (default 250). */
  maxConcurrentStreams?: number;
}

function specKey(s: ListenerSpec): string {
  return `${s.addr}|${s.kind}|${s.publicPort}|${s.proto}`;
}

export class H2Front {
  private readonly servers = new Map<string, Http2Server>();
  private readonly handOffs = new Map<string, HandOff>();

  constructor(private readonly o: H2FrontOptions = {}) {}

  /** Serves an HTTP/2 connection (TLS with ALPN `h2`, or h2c prior knowledge). */
  accept(sock: Socket, spec: ListenerSpec, handOff: HandOff): void {
    const key = specKey(spec);
    this.handOffs.set(key, handOff);
    let server = this.servers.get(key);
    if (!server) {
      server = createServer({ settings: { maxConcurrentStreams: this.o.maxConcurrentStreams ?? 250 } });
      server.on('session', (session) => {
        session.setTimeout(this.o.idleTimeoutMs ?? 60_000, () => session.close());
        session.on('error', () => undefined);
      });
      server.on('stream', (stream, headers) => this.onStream(stream, headers, spec));
      this.servers.set(key, server);
    }
    server.emit('connection', sock);
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, spec: ListenerSpec): void {
    stream.on('error', () => undefined);
    const s = stream.session?.socket;
    const client: ClientAddr = { remoteAddress: s?.remoteAddress, remotePort: s?.remotePort, localAddress: s?.localAddress, localPort: s?.localPort };
    if (headers[':method'] === 'CONNECT') {
      // Extended CONNECT (RFC 8441, WebSockets over h2) is not offered: clients use HTTP/1.1 for those.
      stream.respond({ ':status': 501, 'content-type': 'text/plain; charset=utf-8' });
      stream.end('hangar-proxy: CONNECT is not supported over HTTP/2\n');
      return;
    }
    const handOff = this.handOffs.get(specKey(spec));
    if (!handOff) {
      stream.close();
      return;
    }
    const conn = new StreamConnection(stream, headers, client);
    // The HTTP/1.1 path takes any Socket-shaped duplex; StreamConnection has what it uses.
    handOff(conn as unknown as Socket, { proto: 'https', ...(client.remoteAddress ? { clientIp: client.remoteAddress.replace(/^::ffff:/, '') } : {}) });
  }

  close(): void {
    for (const s of this.servers.values()) s.removeAllListeners();
    this.servers.clear();
    this.handOffs.clear();
  }
}
