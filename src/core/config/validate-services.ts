/**
 * flyctl's rules for services, applied as flyctl applies them to `AllServices()`: the
 * `[http_service]` (expanded to one service with ports 80 and 443, placed first) and then every
 * `[[services]]` (reference §1b `[http_service]`, "Validation and messages"; flyctl
 * `validation.go: validateServicesSection`).
 */
import { NS_PER_SECOND } from '../duration.js';
import { durationNs, errorAt, processNames, showDuration, warningAt } from './validate-common.js';
import type { AppConfig, Diagnostic, ServiceTcpCheck } from './types.js';

interface CheckView {
  check: ServiceTcpCheck;
  kind: 'TCP' | 'HTTP';
  path: string;
}

interface ServiceView {
  /** `http_service` or `services[<i>]`. */
  path: string;
  processes: string[];
  /** false only for a `[[services]]` entry without `[[services.ports]]`. */
  hasPorts: boolean;
  checks: CheckView[];
}

/** flyctl's `AllServices()` order: the http_service first, then `[[services]]`. */
function allServices(config: AppConfig): ServiceView[] {
  const views: ServiceView[] = [];
  const hs = config.http_service;
  if (hs) {
    views.push({
      path: 'http_service',
      processes: hs.processes,
      hasPorts: true,
      checks: hs.checks.map((check, i) => ({ check, kind: 'HTTP' as const, path: `http_service.checks[${i}]` })),
    });
  }
  config.services.forEach((svc, s) => {
    views.push({
      path: `services[${s}]`,
      processes: svc.processes,
      hasPorts: svc.ports.length > 0,
      // flyctl checks tcp_checks before http_checks
      checks: [
        ...svc.tcp_checks.map((check, i) => ({ check, kind: 'TCP' as const, path: `services[${s}].tcp_checks[${i}]` })),
        ...svc.http_checks.map((check, i) => ({ check, kind: 'HTTP' as const, path: `services[${s}].http_checks[${i}]` })),
      ],
    });
  });
  return views;
}

export const NO_PORTS_WARNING =
  'WARNING: Service must expose at least one port. Add a [[services.ports]] section to fly.toml; ' +
  'Check docs at https://fly.io/docs/reference/configuration/#services-ports \n ' +
  'Validation for _services without ports_ will hard fail after February 15, 2024.';

/**
 * One service-check duration. The proxy clamps these to 1 s … 1 min, so flyctl only warns.
 * A zero grace period is fine (it means "none"); a zero interval or timeout is raised.
 */
function checkDuration(
  value: string | undefined,
  zeroOk: boolean,
  kind: 'TCP' | 'HTTP',
  what: string,
  path: string,
): Diagnostic | undefined {
  const ns = durationNs(value);
  if (ns === undefined) return undefined;
  const d = showDuration(ns);
  if (ns < NS_PER_SECOND && !(zeroOk && ns === 0)) {
    const detail = zeroOk ? `${what} that is non-zero and less than 1 second` : `${what} less than 1 second`;
    return warningAt('service-check-too-short', path, `WARN Service ${kind} check has ${detail} (${d}); this will be raised to 1 second`);
  }
  if (ns > 60 * NS_PER_SECOND) {
    return warningAt('service-check-too-long', path, `WARN Service ${kind} check has ${what} greater than 1 minute (${d}); this will be lowered to 1 minute`);
  }
  return undefined;
}

/** Processes, ports and check durations of every service, in flyctl's order. */
export function validateServices(config: AppConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const names = processNames(config);
  // Not names.length: that is 1 (`app`) when there is no [processes] section at all.
  const processCount = Object.keys(config.processes).length;
  for (const svc of allServices(config)) {
    if (svc.processes.length === 0 && processCount > 0) {
      out.push(
        errorAt(
          'service-processes-missing',
          `${svc.path}.processes`,
          `Service has no processes set but app has ${processCount} processes defined; update fly.toml to set processes for each service`,
        ),
      );
    } else {
      for (const p of svc.processes) {
        if (names.includes(p)) continue;
        out.push(
          errorAt(
            'service-process-unknown',
            `${svc.path}.processes`,
            `Service specifies '${p}' as one of its processes, but no processes are defined with that name; ` +
              `update fly.toml [processes] to add '${p}' process or remove it from service's processes list`,
          ),
        );
      }
    }
    if (!svc.hasPorts) out.push(warningAt('service-no-ports', `${svc.path}.ports`, NO_PORTS_WARNING));
    for (const { check, kind, path } of svc.checks) {
      const found = [
        checkDuration(check.interval, false, kind, 'an interval', `${path}.interval`),
        checkDuration(check.timeout, false, kind, 'a timeout', `${path}.timeout`),
        checkDuration(check.grace_period, true, kind, 'a grace period', `${path}.grace_period`),
      ];
      for (const d of found) if (d) out.push(d);
    }
  }
  return out;
}
