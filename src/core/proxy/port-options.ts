/**
 * Everything of a `services[].ports[]` entry that the TLS, HTTP/2, PROXY and response-header
 * parts of the proxy act on, resolved once per route by `buildRouteTable` and carried as
 * `Route.options` (STYLE.md habit 1: the table carries data, the I/O side reads it).
 * Reference §1c "Handlers".
 */
import type { MachinePort } from '../fly/machine-config.js';
import { resolveTlsOptions, type ResolvedTlsOptions } from '../certs/tls-options.js';
import { proxyProtoVersion, type ProxyProtoVersion } from './proxy-proto.js';
import { compileResponseOptions, type CompiledResponseOptions } from './response-options.js';

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

/** The handlers Fly documents (docs `networking/services`); another name is reported. */
const KNOWN_HANDLERS = new Set(['http', 'tls', 'pg_tls', 'proxy_proto']);

/**
 * Resolves one port entry. Problems name the key (`tls_options.versions: ...`) and are never
 * fatal: the port serves with what is valid, as flyctl accepts these keys without validating
 * them and Fly's proxy applies what it can.
 */
export function portOptionsFrom(port: MachinePort): { options: PortOptions; problems: string[] } {
  const handlers = (port.handlers ?? []).map((h) => h.toLowerCase());
  const problems: string[] = [];
  for (const h of handlers) if (!KNOWN_HANDLERS.has(h)) problems.push(`handlers: unknown handler '${h}'`);
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
  const http = port.http_options;
  if (!forHttp) {
    if (http?.h2_backend === true || http?.response !== undefined || http?.idle_timeout !== undefined) {
      problems.push('http_options is set but the port has no http handler; it is ignored');
    }
    return { options: { ...(tls ? { tls } : {}), h2Backend: false, ...(proxyProto ? { proxyProto } : {}), response: null }, problems };
  }
  const resp = compileResponseOptions(http?.response);
  problems.push(...resp.problems);
  const idle = http?.idle_timeout;
  let idleTimeoutMs: number | undefined;
  if (idle !== undefined) {
    if (typeof idle === 'number' && Number.isFinite(idle) && idle > 0) idleTimeoutMs = Math.round(idle * 1000);
    else problems.push(`http_options.idle_timeout: ${JSON.stringify(idle)} is not a positive number of seconds; using the proxy's default`);
  }
  const options: PortOptions = {
    ...(tls ? { tls } : {}),
    h2Backend: http?.h2_backend === true,
    ...(proxyProto ? { proxyProto } : {}),
    response: resp.options,
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
  };
  return { options, problems };
}
