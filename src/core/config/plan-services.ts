/**
 * fly.toml services and checks → Machines API `services[]` and `checks{}` (reference §1b
 * "[http_service]", "[[services]]", "[checks.<name>]" and "Mapping to machine config"; flyctl
 * `service.go`, `toplevelcheck.go`, `machines.go`). Every function here is pure and leaves out
 * fields the file did not set, so the output only carries what flyctl would send.
 */
import type { HttpService, Service, ServiceHttpCheck, ServicePort, ServiceTcpCheck, TopLevelCheck } from './types.js';
import type { MachineCheck, MachineHeader, MachinePort, MachineService } from '../fly/machine-config.js';
import { autostopToWire } from '../fly/autostop.js';

/**
 * `[http_service]` as the `[[services]]` entry flyctl makes of it (`HTTPService.ToService`): TCP,
 * port 80 with the `http` handler (carrying `force_https` and `http_options`) and port 443 with
 * `http` + `tls` (carrying `http_options` and `tls_options`), same internal port, concurrency,
 * autostop/autostart and min_machines_running. Its `checks` are HTTP checks; machine_checks are
 * kept but never sent to the API.
 */
export function expandHttpService(hs: HttpService): Service {
  const http: ServicePort = { port: 80, handlers: ['http'] };
  // Go's `ForceHTTPS bool` with omitempty: only `true` reaches the wire.
  if (hs.force_https) http.force_https = true;
  if (hs.http_options) http.http_options = structuredClone(hs.http_options);
  const https: ServicePort = { port: 443, handlers: ['http', 'tls'] };
  if (hs.http_options) https.http_options = structuredClone(hs.http_options);
  if (hs.tls_options) https.tls_options = structuredClone(hs.tls_options);
  const svc: Service = {
    protocol: 'tcp',
    internal_port: hs.internal_port,
    processes: [...hs.processes],
    ports: [http, https],
    tcp_checks: [],
    http_checks: hs.checks,
    machine_checks: hs.machine_checks,
  };
  if (hs.auto_stop_machines !== undefined) svc.auto_stop_machines = hs.auto_stop_machines;
  if (hs.auto_start_machines !== undefined) svc.auto_start_machines = hs.auto_start_machines;
  if (hs.min_machines_running !== undefined) svc.min_machines_running = hs.min_machines_running;
  if (hs.concurrency) svc.concurrency = hs.concurrency;
  return svc;
}

/** Header map → the API's `[{name, values:[v]}]`, in name order (flyctl's map order is random). */
function headersToWire(headers: Record<string, string>): MachineHeader[] | undefined {
  const names = Object.keys(headers).sort();
  if (names.length === 0) return undefined;
  return names.map((name) => ({ name, values: [headers[name] ?? ''] }));
}

function durations(check: ServiceTcpCheck, out: MachineCheck): void {
  if (check.interval !== undefined) out.interval = check.interval;
  if (check.timeout !== undefined) out.timeout = check.timeout;
  if (check.grace_period !== undefined) out.grace_period = check.grace_period;
}

function tcpCheckToWire(check: ServiceTcpCheck): MachineCheck {
  const out: MachineCheck = { type: 'tcp' };
  durations(check, out);
  return out;
}

/** A service HTTP check as flyctl sends it: method as written (only top-level checks are uppercased). */
function httpCheckToWire(check: ServiceHttpCheck): MachineCheck {
  const out: MachineCheck = { type: 'http' };
  durations(check, out);
  if (check.method !== undefined) out.method = check.method;
  if (check.path !== undefined) out.path = check.path;
  if (check.protocol !== undefined) out.protocol = check.protocol;
  if (check.tls_skip_verify !== undefined) out.tls_skip_verify = check.tls_skip_verify;
  if (check.tls_server_name !== undefined) out.tls_server_name = check.tls_server_name;
  const headers = headersToWire(check.headers);
  if (headers) out.headers = headers;
  return out;
}

function portToWire(port: ServicePort): MachinePort {
  const out: MachinePort = {};
  if (port.port !== undefined) out.port = port.port;
  if (port.start_port !== undefined) out.start_port = port.start_port;
  if (port.end_port !== undefined) out.end_port = port.end_port;
  if (port.handlers.length > 0) out.handlers = [...port.handlers];
  if (port.force_https) out.force_https = true;
  if (port.tls_options) out.tls_options = structuredClone(port.tls_options);
  if (port.http_options) out.http_options = structuredClone(port.http_options);
  if (port.proxy_proto_options) out.proxy_proto_options = { ...port.proxy_proto_options };
  return out;
}

/** One `[[services]]` entry (or an expanded `[http_service]`) → a Machines API service; TCP checks first, then HTTP checks. */
export function serviceToWire(svc: Service): MachineService {
  const out: MachineService = { protocol: svc.protocol, internal_port: svc.internal_port };
  if (svc.ports.length > 0) out.ports = svc.ports.map(portToWire);
  if (svc.concurrency) {
    const c: NonNullable<MachineService['concurrency']> = {};
    if (svc.concurrency.type !== undefined) c.type = svc.concurrency.type;
    if (svc.concurrency.soft_limit !== undefined) c.soft_limit = svc.concurrency.soft_limit;
    if (svc.concurrency.hard_limit !== undefined) c.hard_limit = svc.concurrency.hard_limit;
    out.concurrency = c;
  }
  if (svc.auto_stop_machines !== undefined) out.autostop = autostopToWire(svc.auto_stop_machines);
  if (svc.auto_start_machines !== undefined) out.autostart = svc.auto_start_machines;
  if (svc.min_machines_running !== undefined) out.min_machines_running = svc.min_machines_running;
  const checks = [...svc.tcp_checks.map(tcpCheckToWire), ...svc.http_checks.map(httpCheckToWire)];
  if (checks.length > 0) out.checks = checks;
  return out;
}

export type TopLevelCheckResult = { ok: true; check: MachineCheck } | { ok: false; error: string };

/**
 * A top-level `[checks.<name>]` → the API's check (flyctl `ToplevelCheck.toMachineCheck` plus the
 * port rule in `machines.go`): `method` uppercased, no `kind` (so the platform's default,
 * informational), and a missing `port` taken from the group's `[http_service]`.
 */
export function topLevelCheckToWire(name: string, check: TopLevelCheck, group: string, httpService: HttpService | undefined): TopLevelCheckResult {
  if (check.type !== 'http' && check.type !== 'tcp') {
    return { ok: false, error: "Missing or invalid check type, must be 'http' or 'tcp'" };
  }
  const out: MachineCheck = { type: check.type };
  if (check.port !== undefined) {
    out.port = check.port;
  } else if (httpService) {
    out.port = httpService.internal_port;
  } else {
    return {
      ok: false,
      error: `Check '${name}' for process group '${group}' has no port set and the group has no http_service to take it from`,
    };
  }
  durations(check, out);
  if (check.method !== undefined) out.method = check.method.toUpperCase();
  if (check.path !== undefined) out.path = check.path;
  if (check.protocol !== undefined) out.protocol = check.protocol;
  if (check.tls_skip_verify !== undefined) out.tls_skip_verify = check.tls_skip_verify;
  if (check.tls_server_name !== undefined) out.tls_server_name = check.tls_server_name;
  const headers = headersToWire(check.headers);
  if (headers) out.headers = headers;
  return { ok: true, check: out };
}
