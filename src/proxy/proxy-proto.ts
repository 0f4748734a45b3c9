/**
 * Writing a PROXY protocol header (core/proxy/proxy-proto.ts) on a new upstream connection of a
 * port with the `proxy_proto` handler (reference §1c). The header must be the first bytes the
 * machine reads, so it is written right after `connect()`, before anything else is queued on
 * the socket (a connecting socket keeps writes in order).
 *
 * One header describes one client, so a connection carrying it must never serve another
 * client: such upstream connections are not pooled across clients.
 */
import { connect, type Socket } from 'node:net';
import { encodeProxyHeader, type ProxyProtoVersion } from '../core/proxy/proxy-proto.js';
import type { Backend, Route } from '../core/proxy/types.js';
import { optionsOf } from './tls/port-options.js';

/** The client side facts the header carries, as a Node socket reports them. */
export interface ProxiedClient {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
}

/**
 * The header for `client`. The destination port is the public port the client addressed (what
 * the app declared in fly.toml), not the port Hangar happens to listen on for it.
 */
export function proxyHeaderFor(version: ProxyProtoVersion, client: ProxiedClient, publicPort: number): Buffer {
  return encodeProxyHeader(version, {
    srcAddress: client.remoteAddress ?? '',
    srcPort: client.remotePort ?? -1,
    dstAddress: client.localAddress ?? '',
    dstPort: publicPort,
  });
}

/** Connects to a machine and queues the PROXY header as the connection's first bytes. */
export function connectWithProxyHeader(target: { host: string; port: number }, version: ProxyProtoVersion, client: ProxiedClient, publicPort: number): Socket {
  const up = connect({ host: target.host, port: target.port });
  up.write(proxyHeaderFor(version, client, publicPort));
  return up;
}

/**
 * The proxy's `UpstreamPreamble` seam (src/proxy/context.ts): the PROXY header for routes whose
 * port has the `proxy_proto` handler, nothing for the others.
 */
export function proxyProtoPreamble(route: Route, _backend: Backend, client: { ip: string; port: number; localIp: string; localPort: number }): Buffer | undefined {
  const version = optionsOf(route).proxyProto;
  if (!version) return undefined;
  return proxyHeaderFor(version, { remoteAddress: client.ip, remotePort: client.port, localAddress: client.localIp, localPort: client.localPort }, route.publicPort);
}
