/**
 * Health checks of a machine as data: `checksOf(config)` turns the Machines API config's service
 * checks (`services[].checks[]`, from fly.toml `tcp_checks`/`http_checks`/`http_service.checks`)
 * and top-level checks (`checks.<name>`) into `CheckSpec`s the host's check runner schedules
 * (reference §1a "checks", §1c; docs `reference/health-checks`).
 *
 * Naming: a service check is `servicecheck-<NN>-<type>-<internal_port>`, the form of Fly's docs
 * example (`servicecheck-00-tcp-8080`), where `<NN>` is the check's index (two digits or more)
 * counted over all service checks of the machine in config order, so names stay unique when two
 * services share an internal port, and `<internal_port>` is the port of the service the check
 * belongs to, which is what the proxy gates on (`parseServiceCheckName`). A top-level check keeps
 * its map key as name. fly-go counts every name without the `servicecheck-` prefix as top-level.
 */
import { NS_PER_MS, parseGoDuration } from '../duration.js';
import type { MachineCheck, MachineConfig } from '../fly/machine-config.js';

export const SERVICE_CHECK_PREFIX = 'servicecheck-';

/**
 * Platform defaults where a check leaves a field out: Fly's documented default `tcp_checks`
 * (`grace_period = "1s"`, `interval = "15s"`, `timeout = "2s"`), GET `/` over http.
 */
export const CHECK_DEFAULTS = { intervalMs: 15_000, timeoutMs: 2_000, graceMs: 1_000, method: 'GET', path: '/' } as const;

/**
 * flyctl warns that service-check intervals, timeouts and non-zero grace periods under 1 s are
 * "raised to 1 second" and over 1 minute "lowered to 1 minute" (reference §1b warnings): the
 * platform clamps them. Top-level checks are validated by flyctl instead (interval ≥ 2 s, timeout
 * ≤ 60 s), so only the same floor applies to them here.
 */
export const CHECK_FLOOR_MS = 1_000;
export const CHECK_CEILING_MS = 60_000;

export interface HttpCheckSpec {
  /** Upper-case method (flyctl upper-cases it too). */
  readonly method: string;
  /** Always starts with `/`. */
  readonly path: string;
  readonly protocol: 'http' | 'https';
  readonly tlsSkipVerify: boolean;
  readonly tlsServerName: string | undefined;
  /** Header name → values, in config order. */
  readonly headers: ReadonlyArray<readonly [string, readonly string[]]>;
}

/** One check to run against a started machine. */
export interface CheckSpec {
  readonly name: string;
  /** `service`: gates routing of `servicePort`; `top-level`: informational unless `readiness`. */
  readonly origin: 'service' | 'top-level';
  /** The internal port of the service a service check belongs to. */
  readonly servicePort: number | undefined;
  /** True when a failing status takes the machine out of routing (service checks, readiness). */
  readonly gates: boolean;
  readonly type: 'tcp' | 'http';
  /** The machine's internal port to probe; undefined when the config names none (`problem` says so). */
  readonly port: number | undefined;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly graceMs: number;
  /** Set for `type: http`. */
  readonly http: HttpCheckSpec | undefined;
  /** Why this check cannot run as configured; its status is `critical` with this as output. */
  readonly problem: string | undefined;
}

export interface ChecksOfOptions {
  /** Floor for interval and timeout and for a non-zero grace period (default 1 s; tests lower it). */
  readonly floorMs?: number;
}

/** The service check name for the `index`-th service check of a machine. */
export function serviceCheckName(index: number, type: 'tcp' | 'http', internalPort: number): string {
  return `${SERVICE_CHECK_PREFIX}${String(index).padStart(2, '0')}-${type}-${internalPort}`;
}

/** Parts of a service check name; undefined for top-level (and foreign) names. */
export function parseServiceCheckName(name: string): { index: number; type: 'tcp' | 'http'; internalPort: number } | undefined {
  const m = /^servicecheck-(\d{2,})-(tcp|http)-(\d+)$/.exec(name);
  if (!m) return undefined;
  return { index: Number(m[1]), type: m[2] as 'tcp' | 'http', internalPort: Number(m[3]) };
}

/**
 * A check duration in milliseconds: a Go duration string ("15s") or integer nanoseconds (the
 * API accepts both, `fly-go/duration.go`); `fallbackMs` when absent or unreadable.
 */
export function checkDurationMs(value: unknown, fallbackMs: number): number {
  let ns: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) ns = value;
  else if (typeof value === 'string') ns = parseGoDuration(value);
  if (ns === undefined || ns < 0) return fallbackMs;
  return ns / NS_PER_MS;
}

function clamp(ms: number, floor: number, ceiling: number | undefined): number {
  const low = Math.max(ms, floor);
  return ceiling === undefined ? low : Math.min(low, ceiling);
}

function checkType(c: MachineCheck): 'tcp' | 'http' {
  if (c.type === 'http' || c.type === 'tcp') return c.type;
  // Older clients leave `type` out of http checks; a path or method only makes sense for http.
  return c.path !== undefined || c.method !== undefined ? 'http' : 'tcp';
}

function httpSpec(c: MachineCheck): HttpCheckSpec {
  const path = c.path && c.path !== '' ? c.path : CHECK_DEFAULTS.path;
  const headers: Array<[string, string[]]> = [];
  for (const h of c.headers ?? []) {
    if (typeof h?.name !== 'string' || h.name === '') continue;
    headers.push([h.name, (h.values ?? []).map(String)]);
  }
  return {
    method: (c.method && c.method !== '' ? c.method : CHECK_DEFAULTS.method).toUpperCase(),
    path: path.startsWith('/') ? path : `/${path}`,
    protocol: c.protocol === 'https' ? 'https' : 'http',
    tlsSkipVerify: c.tls_skip_verify === true,
    tlsServerName: c.tls_server_name && c.tls_server_name !== '' ? c.tls_server_name : undefined,
    headers,
  };
}

function spec(
  c: MachineCheck,
  base: Pick<CheckSpec, 'name' | 'origin' | 'servicePort' | 'gates'>,
  port: number | undefined,
  floor: number,
  ceiling: number | undefined,
): CheckSpec {
  const type = checkType(c);
  const grace = checkDurationMs(c.grace_period, CHECK_DEFAULTS.graceMs);
  return {
    ...base,
    type,
    port,
    intervalMs: clamp(checkDurationMs(c.interval, CHECK_DEFAULTS.intervalMs), floor, ceiling),
    timeoutMs: clamp(checkDurationMs(c.timeout, CHECK_DEFAULTS.timeoutMs), floor, ceiling),
    graceMs: grace === 0 ? 0 : clamp(grace, floor, ceiling),
    http: type === 'http' ? httpSpec(c) : undefined,
    problem: port === undefined ? 'the check has no port and the machine has no service to take one from' : undefined,
  };
}

/**
 * Every check of a machine config, service checks first (config order), then top-level checks
 * (key order). A service check probes its own `port` when it names one, else the service's
 * `internal_port`. A top-level check without `port` takes the first service's internal port
 * (flyctl fills it from `http_service.internal_port`, which becomes the first service).
 */
export function checksOf(config: Pick<MachineConfig, 'services' | 'checks'>, opts: ChecksOfOptions = {}): CheckSpec[] {
  const floor = opts.floorMs ?? CHECK_FLOOR_MS;
  const out: CheckSpec[] = [];
  let index = 0;
  for (const svc of config.services ?? []) {
    for (const c of svc.checks ?? []) {
      if (c == null) continue;
      const name = serviceCheckName(index++, checkType(c), svc.internal_port);
      out.push(spec(c, { name, origin: 'service', servicePort: svc.internal_port, gates: true }, c.port ?? svc.internal_port, floor, CHECK_CEILING_MS));
    }
  }
  const firstPort = config.services?.[0]?.internal_port;
  for (const [name, c] of Object.entries(config.checks ?? {})) {
    if (c == null) continue;
    out.push(spec(c, { name, origin: 'top-level', servicePort: undefined, gates: c.kind === 'readiness' }, c.port ?? firstPort, floor, undefined));
  }
  return out;
}
