/**
 * The edge proxy as part of `hangar server` (embedded default) or alone (`hangar proxy`, split
 * deployments): a `ProxyServer` fed by a `RouteFeeder` watching the store, autostart through the
 * control plane's own `startMachine` (reference §1c), the autostop loop, and the metrics text the
 * API serves on `/metrics`. `startProxy` composes them; `close` takes them down in reverse.
 */
import type { Bus } from '../bus/types.js';
import type { ControlContext } from '../control/context.js';
import { startMachine, stopMachine, suspendMachine } from '../control/machine-actions.js';
import type { MachineStarter, MachineStopper } from '../proxy/autostart.js';
import { AutostopLoop, DEFAULT_AUTOSTOP_INTERVAL_MS } from '../proxy/autostop.js';
import type { SecureAcceptor, UpstreamPreamble } from '../proxy/context.js';
import { RouteFeeder } from '../proxy/feeder.js';
import { ProxyMetrics } from '../proxy/metrics.js';
import type { DistanceTable } from '../core/proxy/region.js';
import { loadRegionDistances } from './region-distances.js';
import { Registry } from 'prom-client';
import { ProxyServer } from '../proxy/server.js';
import { H2Front } from '../proxy/h2/front.js';
import { TlsFront } from '../proxy/tls/front.js';
import { proxyProtoPreamble } from '../proxy/proxy-proto.js';
import type { StaticRootResolver } from '../proxy/statics.js';
import { imageStaticRoot } from '../proxy/statics-root.js';
import type { ImageStore } from '../images/store.js';
import { LocalCa } from '../certs/local-ca.js';
import { SniContexts } from '../certs/sni.js';
import type { StateStore } from '../store/types.js';
import { parseGoDuration } from '../core/duration.js';

/** Stands in for public port 80 on a single host without privileges. */
export const DEFAULT_HTTP_ADDR = '127.0.0.1:8080';
/** Stands in for 443; served only once the TLS module is plugged in (`secureAcceptor`). */
export const DEFAULT_HTTPS_ADDR = '127.0.0.1:8443';
export const DEFAULT_BASE_DOMAIN = 'localhost';

/**
 * `--proxy-port-map 5432=127.0.0.1:15432,6379=0.0.0.0:6379`: where a TCP service's public
 * port listens. Unmapped ports listen on `127.0.0.1:<port>` from 1024 up and on
 * `127.0.0.1:<10000 + port>` below (so public 22 → 10022, 5432 → 5432). Throws on bad input.
 */
export function parsePortMap(spec: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!spec) return out;
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d{1,5})=(.+:\d{1,5})$/.exec(part);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new Error(`invalid --proxy-port-map entry '${part}': expected <public port>=<host:port>`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** Autostart and autostop in the same process as the control plane: the API's own actions. */
export class InProcessMachines implements MachineStarter, MachineStopper {
  constructor(private readonly ctx: ControlContext) {}

  async start(app: string, machineId: string): Promise<void> {
    await startMachine(this.ctx, app, machineId, undefined);
  }

  async stop(app: string, machineId: string): Promise<void> {
    await stopMachine(this.ctx, app, machineId, undefined, {});
  }

  async suspend(app: string, machineId: string): Promise<void> {
    // A host without suspend stops instead (machine-actions.ts), as Fly's "suspend" falls back.
    await suspendMachine(this.ctx, app, machineId, undefined);
  }
}

export interface StartProxyOptions {
  readonly store: StateStore;
  /** With the data dir: builds the in-process `ControlContext` for autostart/autostop. */
  readonly bus: Bus;
  readonly dataDir: string;
  readonly region: string;
  readonly httpAddr?: string;
  /** `null`: no 443 stand-in at all. */
  readonly httpsAddr?: string | null;
  readonly baseDomain?: string;
  readonly portMap?: Readonly<Record<string, string>>;
  /** 0 disables autostop. Default 3 minutes. */
  readonly autostopIntervalMs?: number;
  /** Default: `InProcessMachines` over the store and bus. */
  readonly machines?: MachineStarter & MachineStopper;
  readonly secureAcceptor?: SecureAcceptor;
  readonly upstreamPreamble?: UpstreamPreamble;
  /** Closeness of regions for "closest first" (`--region-distances`); estimated from the regions' cities without. */
  readonly distances?: DistanceTable;
  /** Where the proxy's metrics are registered (the server's, shared with its other metrics); a new one if unset. */
  readonly registry?: Registry;
  /** `[[statics]]` of registry images are read from this store's rootfs (`dir:` images need none). */
  readonly images?: Pick<ImageStore, 'find' | 'rootfs'>;
  /** Replaces the default statics seam (`imageStaticRoot(images)`). */
  readonly staticRoot?: StaticRootResolver;
  /** Operator lines (listen addresses, listen failures, autostop actions). */
  readonly log: (level: 'info' | 'warn', msg: string) => void;
}

export interface RunningProxy {
  readonly proxy: ProxyServer;
  readonly metrics: ProxyMetrics;
  /** `http://host:port` of the port-80 stand-in, if it is open. */
  readonly httpUrl: string | undefined;
  /** Prometheus text for `/metrics`: the registry's metrics, the proxy's included. */
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

/** Starts the proxy; resolves once the first table is applied and its listeners are open. */
export async function startProxy(opts: StartProxyOptions): Promise<RunningProxy> {
  const metrics = new ProxyMetrics();
  const registry = opts.registry ?? new Registry();
  const machines = opts.machines ?? new InProcessMachines({ store: opts.store, bus: opts.bus, dataDir: opts.dataDir, now: Date.now });
  const baseDomain = opts.baseDomain ?? DEFAULT_BASE_DOMAIN;
  // TLS (the `tls` handler, port 443 with ALPN h2/http1.1) with certificates from the local CA
  // under the data dir, unless the caller brings its own acceptor or turned HTTPS off.
  let tlsFront: TlsFront | undefined;
  if (!opts.secureAcceptor && opts.httpsAddr !== null) {
    const certs = new SniContexts(await LocalCa.open(opts.dataDir));
    const h2 = new H2Front();
    tlsFront = new TlsFront({
      table: () => proxy.table(),
      baseDomain,
      certs,
      h2,
      onHandshakeError: (err) => opts.log('warn', `proxy TLS: ${err.message}`),
    });
  }
  const secureAcceptor = opts.secureAcceptor ?? tlsFront;
  const proxy: ProxyServer = new ProxyServer({
    region: opts.region,
    baseDomain,
    ...(opts.distances ? { distances: opts.distances } : {}),
    starter: machines,
    metrics,
    ...(secureAcceptor ? { secureAcceptor } : {}),
    upstreamPreamble: opts.upstreamPreamble ?? proxyProtoPreamble,
    staticRoot: opts.staticRoot ?? imageStaticRoot(opts.images),
    onError: (err) => opts.log('warn', err.message),
  });
  const feeder = new RouteFeeder({
    store: opts.store,
    baseDomain,
    httpAddr: opts.httpAddr ?? DEFAULT_HTTP_ADDR,
    httpsAddr: opts.httpsAddr === undefined ? DEFAULT_HTTPS_ADDR : opts.httpsAddr,
    ...(opts.portMap ? { portMap: opts.portMap } : {}),
    onTable: async (t) => {
      for (const d of t.diagnostics) opts.log('warn', `proxy: ${d}`);
      await proxy.setTable(t);
    },
    onError: (err) => opts.log('warn', `proxy route feeder: ${err.message}`),
  });
  await feeder.start();
  await proxy.start();
  metrics.register(registry, proxy.load);
  const interval = opts.autostopIntervalMs ?? DEFAULT_AUTOSTOP_INTERVAL_MS;
  const autostop =
    interval > 0
      ? new AutostopLoop({
          intervalMs: interval,
          machines: () => feeder.machineRecords(),
          load: proxy.load,
          stopper: machines,
          metrics,
          onAction: (a) => opts.log('info', `autostop: ${a.action} machine ${a.machineId} of app ${a.app}: ${a.reason}`),
          onError: (err, a) => opts.log('warn', `autostop: could not ${a.action} machine ${a.machineId} of app ${a.app}: ${err.message}`),
        })
      : undefined;
  autostop?.start();
  const http = proxy.addresses().find((a) => a.spec.publicPort === 80);
  const httpUrl = http ? `http://${http.host.includes(':') ? `[${http.host}]` : http.host}:${http.port}` : undefined;
  // Worded so scripts that wait for the API's "listening on http://…" line do not match it.
  if (httpUrl) opts.log('info', `Edge proxy on ${http!.host}:${http!.port}: apps at http://<app>.${opts.baseDomain ?? DEFAULT_BASE_DOMAIN}:${http!.port}/`);
  let closing: Promise<void> | undefined;
  return {
    proxy,
    metrics,
    httpUrl,
    metricsText: () => registry.metrics(),
    close: () =>
      (closing ??= (async () => {
        await autostop?.close();
        feeder.close();
        await proxy.close();
      })()),
  };
}

/** The proxy part of `ServerOptions` (`hangar server` flags; `false` = `--no-proxy`). */
export type ServerProxyOptions = Pick<StartProxyOptions, 'httpAddr' | 'httpsAddr' | 'baseDomain' | 'portMap' | 'autostopIntervalMs' | 'secureAcceptor' | 'upstreamPreamble' | 'distances'>;

/**
 * The one call `startServer` makes: starts the embedded proxy unless disabled, registers its
 * shutdown with the server's cleanups, and returns it (for `/metrics`).
 */
export async function startServerProxy(
  opts: ServerProxyOptions | false | undefined,
  deps: Pick<StartProxyOptions, 'store' | 'bus' | 'dataDir' | 'region' | 'registry' | 'images'> & { print: (line: string) => void; warn: (line: string) => void; cleanups: Array<() => Promise<void> | void> },
): Promise<RunningProxy | undefined> {
  if (opts === false) return undefined;
  const running = await startProxy({ ...deps, ...opts, log: (level, msg) => (level === 'info' ? deps.print(msg) : deps.warn(msg)) });
  deps.cleanups.push(() => running.close());
  return running;
}

/** The proxy flags both `hangar server` and `hangar proxy` take (registry: src/cli/registry.ts). */
export interface ProxyFlags {
  httpAddr?: string;
  httpsAddr?: string;
  baseDomain?: string;
  proxyPortMap?: string;
  /** Go duration (`3m`, `200ms`); `0` disables autostop. */
  autostopInterval?: string;
  /** JSON file of region distances (src/server/region-distances.ts). */
  regionDistances?: string;
  /** commander's `--no-proxy` sets `proxy: false`. */
  proxy?: boolean;
}

/** Flags → `ServerOptions.proxy`; throws with a flag-named message on bad values. */
export function proxyOptionsFromFlags(f: ProxyFlags): ServerProxyOptions | false {
  if (f.proxy === false) return false;
  let autostopIntervalMs: number | undefined;
  if (f.autostopInterval !== undefined) {
    const ns = f.autostopInterval === '0' ? 0 : parseGoDuration(f.autostopInterval);
    if (ns === undefined || ns < 0) throw new Error(`invalid --autostop-interval '${f.autostopInterval}': expected a duration such as 3m or 500ms`);
    autostopIntervalMs = Math.round(ns / 1e6);
  }
  return {
    ...(f.httpAddr === undefined ? {} : { httpAddr: f.httpAddr }),
    ...(f.httpsAddr === undefined ? {} : { httpsAddr: f.httpsAddr }),
    ...(f.baseDomain === undefined ? {} : { baseDomain: f.baseDomain }),
    ...(f.proxyPortMap === undefined ? {} : { portMap: parsePortMap(f.proxyPortMap) }),
    ...(autostopIntervalMs === undefined ? {} : { autostopIntervalMs }),
    ...(f.regionDistances === undefined ? {} : { distances: loadRegionDistances(f.regionDistances) }),
  };
}
