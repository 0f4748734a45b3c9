import type { RouteStatics } from './statics.js';

/**
 * The edge proxy's route table: plain data built by `buildRouteTable` (table.ts) from apps and
 * machines, read by the proxy's I/O side (src/proxy) on every connection or request
 * (ARCHITECTURE.md "Edge proxy", reference §1c). Nothing here holds sockets or timers.
 */
import type { PortOptions } from './port-options.js';

/** How a service's load is counted (reference §1c, `concurrency.type`). */
export type ConcurrencyType = 'connections' | 'requests';

/** One machine serving one service: where to connect and how much it may take. */
export interface Backend {
  /** Load-counter key, unique per machine and service: `<machine id>:<internal port>`. */
  readonly key: string;
  readonly machineId: string;
  readonly region: string;
  /** Address and listening port the agent wrote in `routing`. */
  readonly address: string;
  readonly port: number;
  /** `concurrency.type` of the service on this machine. */
  readonly type: ConcurrencyType;
  /** Fly's default soft limit is 20 (reference §1c / fly.toml docs). */
  readonly softLimit: number;
  /** `Infinity` when unset. */
  readonly hardLimit: number;
}

/** A machine of a route that autostart may start (reference §1c "Autostart"). */
export interface StoppedMachine {
  readonly machineId: string;
  readonly region: string;
  /** Its soft limit once started: how many held requests one start is expected to absorb. */
  readonly softLimit: number;
}

/** What the proxy does with traffic of one public port of one app. */
export type Handler = 'http' | 'tcp';

/** A routable service: an app's public port with the machines behind it. */
export interface Route {
  readonly app: string;
  /** The app's 6PN network (`networkId(org, network)`): `fly-replay: app=` stays within it. */
  readonly network?: string;
  /** The public port as declared in `services[].ports[]` (80, 443, 5432, ...). */
  readonly publicPort: number;
  readonly internalPort: number;
  readonly handler: Handler;
  /** Started, routable, uncordoned, check-passing machines, sorted by id (stable). */
  readonly backends: readonly Backend[];
  /** Machines of the service that are not running but could be autostarted. */
  readonly stopped: number;
  /**
   * Machines of the service on their way up (`starting`, uncordoned): a request that finds no
   * backend waits for them instead of a 503 (an autostart in progress, a start through the API).
   */
  readonly starting: number;
  /** Those machines (stopped, suspended or created, uncordoned), sorted by id: autostart candidates. */
  readonly stoppedMachines: readonly StoppedMachine[];
  /** `autostart` of the service (Fly's default: true). */
  readonly autostart: boolean;
  /** `http_options.response.pristine`: no `Via` / `Fly-Request-Id` on responses. */
  readonly pristine: boolean;
  readonly forceHttps: boolean;
  /** `[[statics]]` the proxy serves itself from the image (statics.ts); HTTP routes only. */
  readonly statics?: RouteStatics;
  /** The port's `tls_options`, `http_options`, `proxy_proto_options` (port-options.ts). */
  readonly options: PortOptions;
}

/** A listener the proxy keeps open, derived from the table. */
export interface ListenerSpec {
  /** `host:port` to bind. */
  readonly addr: string;
  /** `http-host`: routes by Host among every app (ports 80/443); `http-port` and `tcp`: one route. */
  readonly kind: 'http-host' | 'http-port' | 'tcp';
  readonly publicPort: number;
  /** `https` for the 443 listener: opened only when a TLS module is plugged in (src/proxy/README.md). */
  readonly proto: 'http' | 'https';
  /** Another port whose service has the `tls` handler: also handed to the TLS module first. */
  readonly tls?: boolean;
}

export interface RouteTable {
  /** `<app>.<base domain>` (lower case) → route, per host-routed public port (80, 443). */
  readonly hosts: ReadonlyMap<number, ReadonlyMap<string, Route>>;
  /** Public port → route for every other port (first app by name, first service declared wins). */
  readonly ports: ReadonlyMap<number, Route>;
  readonly listeners: readonly ListenerSpec[];
  /** Problems found while building (port collisions, ...); the table is usable anyway. */
  readonly diagnostics: readonly string[];
}

/** Per-backend load, kept by the I/O side across table rebuilds (keyed by `Backend.key`). */
export type LoadMap = ReadonlyMap<string, number>;
