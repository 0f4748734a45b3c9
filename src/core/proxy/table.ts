/**
 * `buildRouteTable`: apps + machines → the proxy's route table (STYLE.md habit 1: a pure plan the
 * proxy's one listener owner applies). HTTP on public ports 80/443 routes by `Host:
 * <app>.<base domain>`; every other public port routes by port (reference §1c "Handlers").
 */
import { networkId, type AppRecord } from '../model.js';
import type { MachineRecord } from '../machine/types.js';
import type { MachineCheck, MachineService, MachineStatic } from '../fly/machine-config.js';
import { serviceHealth } from '../checks/gate.js';
import { portOptionsFrom, type PortOptions } from './port-options.js';
import type { Backend, ConcurrencyType, Handler, ListenerSpec, Route, RouteTable, StoppedMachine } from './types.js';
import { newerForStatics, routeStatics, type StaticsMachine } from './statics.js';

/** Fly's defaults (fly.toml reference: `soft_limit` 20, no hard limit unless set). */
export const DEFAULT_SOFT_LIMIT = 20;
/** A port range wider than this is cut short (a listener per port is not free). */
export const MAX_RANGE_PORTS = 64;

export interface RouteTableOptions {
  /** Apps answer at `<app>.<baseDomain>` (default `localhost`). */
  baseDomain?: string;
  /** Stands in for public port 80 (default `127.0.0.1:8080`). */
  httpAddr?: string;
  /** Stands in for public port 443 (default `127.0.0.1:8443`); `null` leaves it closed. */
  httpsAddr?: string | null;
  /** Listen address per other public port; default `listenAddrFor(port)`. */
  portMap?: Readonly<Record<string, string>>;
}

/** The only machine fields the table reads (the feeder compares these to skip no-op rebuilds). */
export type RouteMachine = Pick<MachineRecord, 'id' | 'app' | 'region' | 'state' | 'cordoned' | 'checks' | 'routing'> & {
  config: { services?: MachineService[] | undefined; checks?: Record<string, MachineCheck> | undefined; image?: string | undefined; statics?: MachineStatic[] | undefined };
  /** For `[[statics]]` (statics.ts): the newest version's statics apply, read from its image. */
  instance_id?: string | undefined;
  image_ref?: { digest: string } | null | undefined;
};

/** Default listen address of a non-HTTP public port: itself from 1024 up, else 10000 + port. */
export function listenAddrFor(port: number, portMap?: Readonly<Record<string, string>>): string {
  const mapped = portMap?.[String(port)];
  if (mapped) return mapped;
  return `127.0.0.1:${port >= 1024 ? port : 10000 + port}`;
}

/**
 * Service checks gate routing per service; top-level checks are informational unless their kind
 * is `readiness` (§1c, core/checks/gate.ts). Only failing checks take a machine out: one whose
 * checks have not reported since it started stays routable, so an autostarted machine gets its
 * held request without waiting a grace period (the proxy retries a refused first connection).
 */
function serviceRoutable(m: RouteMachine, internalPort: number): boolean {
  return serviceHealth({ config: { services: m.config.services ?? [], ...(m.config.checks ? { checks: m.config.checks } : {}) }, checks: m.checks }, internalPort) !== 'failing';
}

function publicPorts(p: { port?: number; start_port?: number; end_port?: number }, diags: string[], where: string): number[] {
  if (p.port !== undefined) return [p.port];
  if (p.start_port === undefined || p.end_port === undefined) return [];
  const end = Math.min(p.end_port, p.start_port + MAX_RANGE_PORTS - 1);
  if (end < p.end_port) diags.push(`${where}: port range ${p.start_port}-${p.end_port} cut to ${p.start_port}-${end}`);
  const out: number[] = [];
  for (let port = p.start_port; port <= end; port++) out.push(port);
  return out;
}

interface Building {
  app: string;
  publicPort: number;
  internalPort: number;
  handler: Handler;
  backends: Backend[];
  stopped: number;
  starting: number;
  stoppedMachines: StoppedMachine[];
  autostart: boolean;
  pristine: boolean;
  forceHttps: boolean;
  /** The newest machine of the service: its `[[statics]]` apply to the route. */
  staticsFrom: StaticsMachine | undefined;
  options: PortOptions;
}

const STOPPED = new Set(['stopped', 'suspended', 'created']);

/**
 * Builds the table. Machines of unknown apps are ignored (their host answers 404). A machine
 * routes when started, uncordoned, passing its service checks and reachable (`routing` lists
 * the service's internal port). Within one machine the first service declaring a public port
 * wins (fly.toml validation warns); across apps the first app by name wins a TCP port.
 */
export function buildRouteTable(apps: readonly (Pick<AppRecord, 'name'> & Partial<Pick<AppRecord, 'org' | 'network'>>)[], machines: readonly RouteMachine[], opts: RouteTableOptions = {}): RouteTable {
  const base = (opts.baseDomain ?? 'localhost').toLowerCase();
  const known = new Set(apps.map((a) => a.name));
  const networkOf = new Map(apps.map((a) => [a.name, a.org !== undefined && a.network !== undefined ? networkId(a.org, a.network) : undefined]));
  const diags: string[] = [];
  const byAppPort = new Map<string, Building>();
  const sorted = [...machines].sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const m of sorted) {
    if (!known.has(m.app)) continue;
    const routable = m.state === 'started' && !m.cordoned && m.routing != null;
    const seen = new Set<number>();
    (m.config.services ?? []).forEach((svc, si) => {
      if (svc.protocol !== 'tcp') return;
      for (const [pi, p] of (svc.ports ?? []).entries()) {
        const where = `machine ${m.id} services[${si}].ports[${pi}]`;
        const handler: Handler = (p.handlers ?? []).includes('http') ? 'http' : 'tcp';
        // Resolved once per port entry; its problems are reported once, by the machine whose
        // entry the route takes its options from.
        let resolved: { options: PortOptions; problems: string[] } | undefined;
        for (const port of publicPorts(p, diags, where)) {
          if (seen.has(port)) continue;
          seen.add(port);
          if ((port === 80 || port === 443) && handler !== 'http') {
            diags.push(`${where}: public port ${port} without the http handler is not supported on the shared listener`);
            continue;
          }
          const key = `${m.app}\0${port}`;
          let b = byAppPort.get(key);
          if (!b) {
            if (!resolved) {
              resolved = portOptionsFrom(p);
              for (const problem of resolved.problems) diags.push(`${where}: ${problem}`);
            }
            const network = networkOf.get(m.app);
            b = {
              app: m.app,
              ...(network === undefined ? {} : { network }),
              publicPort: port,
              internalPort: svc.internal_port,
              handler,
              backends: [],
              stopped: 0,
              starting: 0,
              stoppedMachines: [],
              autostart: svc.autostart !== false,
              pristine: p.http_options?.response?.pristine === true,
              forceHttps: p.force_https === true,
              staticsFrom: undefined,
              options: resolved.options,
            };
            byAppPort.set(key, b);
          }
          if (handler === 'http' && newerForStatics(m, b.staticsFrom)) b.staticsFrom = m;
          const listening = m.routing?.ports[String(svc.internal_port)];
          if (routable && m.routing && listening !== undefined && serviceRoutable(m, svc.internal_port)) {
            const type: ConcurrencyType = svc.concurrency?.type === 'requests' ? 'requests' : 'connections';
            b.backends.push({
              key: `${m.id}:${svc.internal_port}`,
              machineId: m.id,
              region: m.region,
              address: m.routing.address,
              port: listening,
              type,
              softLimit: svc.concurrency?.soft_limit ?? DEFAULT_SOFT_LIMIT,
              hardLimit: svc.concurrency?.hard_limit ?? Number.POSITIVE_INFINITY,
            });
          } else if (m.state === 'starting' && !m.cordoned) {
            b.starting += 1;
          } else if (STOPPED.has(m.state) && !m.cordoned) {
            b.stopped += 1;
            b.stoppedMachines.push({ machineId: m.id, region: m.region, softLimit: svc.concurrency?.soft_limit ?? DEFAULT_SOFT_LIMIT });
          }
        }
      }
    });
  }
  const hosts = new Map<number, Map<string, Route>>([[80, new Map()], [443, new Map()]]);
  const ports = new Map<number, Route>();
  for (const { staticsFrom, ...b } of byAppPort.values()) {
    const statics = routeStatics(staticsFrom);
    const route: Route = statics ? { ...b, statics } : b;
    if (b.publicPort === 80 || b.publicPort === 443) {
      hosts.get(b.publicPort)!.set(`${b.app}.${base}`, route);
    } else if (ports.has(b.publicPort)) {
      diags.push(`app ${b.app}: public port ${b.publicPort} is already served by app ${ports.get(b.publicPort)!.app}`);
    } else {
      ports.set(b.publicPort, route);
    }
  }
  const listeners: ListenerSpec[] = [{ addr: opts.httpAddr ?? '127.0.0.1:8080', kind: 'http-host', publicPort: 80, proto: 'http' }];
  const https = opts.httpsAddr === undefined ? '127.0.0.1:8443' : opts.httpsAddr;
  if (https !== null) listeners.push({ addr: https, kind: 'http-host', publicPort: 443, proto: 'https' });
  for (const [port, r] of [...ports.entries()].sort((a, b) => a[0] - b[0])) {
    listeners.push({ addr: listenAddrFor(port, opts.portMap), kind: r.handler === 'http' ? 'http-port' : 'tcp', publicPort: port, proto: 'http', ...(r.options.tls ? { tls: true } : {}) });
  }
  return { hosts, ports, listeners, diagnostics: diags };
}

/** The route for a `Host` header value on a host-routed port (port suffix and case ignored). */
export function routeForHost(table: RouteTable, publicPort: number, host: string): Route | undefined {
  const m = table.hosts.get(publicPort);
  if (!m) return undefined;
  let h = host;
  const colon = h.lastIndexOf(':');
  if (colon > 0 && h.indexOf(']') < colon) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return m.get(h) ?? m.get(h.toLowerCase());
}

/** The route of a port-routed public port. */
export function routeForPort(table: RouteTable, publicPort: number): Route | undefined {
  return table.ports.get(publicPort);
}
