/**
 * Reading a route's port options on the I/O side. The options themselves are resolved by the
 * route table (src/core/proxy/port-options.ts, `Route.options`); re-exported here for the
 * existing imports.
 */
import { DEFAULT_TLS, type ResolvedTlsOptions } from '../../core/certs/tls-options.js';
import { DEFAULT_PORT_OPTIONS, type PortOptions } from '../../core/proxy/port-options.js';
import type { Route } from '../../core/proxy/types.js';

export { DEFAULT_PORT_OPTIONS, portOptionsFrom, type PortOptions } from '../../core/proxy/port-options.js';

/** The options a route carries (the defaults for no route). */
export function optionsOf(route: Route | undefined): PortOptions {
  return route?.options ?? DEFAULT_PORT_OPTIONS;
}

/** TLS options of a route on a TLS listener (Fly's defaults when the route names none). */
export function tlsOf(route: Route | undefined): ResolvedTlsOptions {
  return optionsOf(route).tls ?? DEFAULT_TLS;
}
