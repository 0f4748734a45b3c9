/**
 * Everything of a `services[].ports[]` entry that the TLS, HTTP/2, PROXY and response-header
 * modules act on, resolved once per route (STYLE.md habit 1: the route table carries data, the
 * I/O side reads it). The proxy owner's `buildRouteTable` is meant to call `portOptionsFrom` and
 * store the result as `Route.options`; until it does, `optionsOf` gives the defaults.
 */
import type { MachinePort } from '../../core/fly/machine-config.js';
import { DEFAULT_TLS, resolveTlsOptions, type ResolvedTlsOptions } from '../../core/certs/tls-options.js';
import { proxyProtoVersion, type ProxyProtoVersion } from '../../core/proxy/proxy-proto.js';
import type { Route } from '../../core/proxy/types.js';
import { compileResponseOptions, type CompiledResponseOptions } from '../response-options.js';

export interface PortOptions {
  /** Set when the port has the `tls` handler. */
  readonly tls?: ResolvedTlsOptions;
  /** `http_options.h2_backend`: speak h2c (prior knowledge) to the machine. */
  readonly h2Backend: boolean;
  /** Set when the port has the `proxy_proto` handler. */
  readonly proxyProto?: ProxyProtoVersion;
  /** `http_options.response`, or `null` when it changes nothing. */
  readonly response: CompiledResponseOptions | null;
  /** `http_options.idle_timeout` in ms (Fly's unit is seconds); unset: the proxy's default. */
  readonly idleTimeoutMs?: number;
}

export const DEFAULT_PORT_OPTIONS: PortOptions = { h2Backend: false, response: null };

/** Resolves one port entry; `problems` name the key (`tls_options.versions: ...`). */
export function portOptionsFrom(port: MachinePort): { options: PortOptions; problems: string[] } {
  const handlers = (port.handlers ?? []).map((h) => h.toLowerCase());
  const problems: string[] = [];
  const forHttp = handlers.includes('http');
  let tls: ResolvedTlsOptions | undefined;
  if (handlers.includes('tls')) {
    const r = resolveTlsOptions(port.tls_options, forHttp);
    tls = r.options;
    problems.push(...r.problems);
  } else if (port.tls_options) problems.push('tls_options is set but the port has no tls handler; it is ignored');
  let proxyProto: ProxyProtoVersion | undefined;
  if (handlers.includes('proxy_proto')) {
    const r = proxyProtoVersion(port.proxy_proto_options);
    proxyProto = r.version;
    if (r.problem) problems.push(r.problem);
  } else if (port.proxy_proto_options) problems.push('proxy_proto_options is set but the port has no proxy_proto handler; it is ignored');
  const resp = compileResponseOptions(port.http_options?.response);
  problems.push(...resp.problems);
  const idle = port.http_options?.idle_timeout;
  const options: PortOptions = {
    ...(tls ? { tls } : {}),
    h2Backend: port.http_options?.h2_backend === true,
    ...(proxyProto ? { proxyProto } : {}),
    response: resp.options,
    ...(typeof idle === 'number' && idle > 0 ? { idleTimeoutMs: idle * 1000 } : {}),
  };
  return { options, problems };
}

/** The options a route carries, or the defaults when the table does not carry them yet. */
export function optionsOf(route: Route | undefined): PortOptions {
  return (route as (Route & { readonly options?: PortOptions }) | undefined)?.options ?? DEFAULT_PORT_OPTIONS;
}

/** TLS options of a route on a TLS listener (Fly's defaults when the route names none). */
export function tlsOf(route: Route | undefined): ResolvedTlsOptions {
  return optionsOf(route).tls ?? DEFAULT_TLS;
}
