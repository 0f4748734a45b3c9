/**
 * Rules Hangar adds on top of flyctl's. flyctl accepts every one of these files; we warn where
 * something in the file will silently not happen, and fail only where the deploy would fail
 * anyway (`force_https` without the `http` handler). Warnings start with `WARN`, like flyctl's.
 */
import { DEPLOY_STRATEGIES } from './validate-sections.js';
import { errorAt, warningAt } from './validate-common.js';
import type { AppConfig, Diagnostic, ServicePort } from './types.js';

/**
 * Variables the platform sets on every machine (reference §1d "Env vars"). The docs say `[env]`
 * names "cannot begin with FLY_" but flyctl does not enforce it; Hangar keeps the platform's value.
 */
export const PLATFORM_ENV = new Set([
  'FLY_APP_NAME',
  'FLY_MACHINE_ID',
  'FLY_ALLOC_ID',
  'FLY_REGION',
  'FLY_PUBLIC_IP',
  'FLY_IMAGE_REF',
  'FLY_MACHINE_VERSION',
  'FLY_PRIVATE_IP',
  'FLY_PROCESS_GROUP',
  'FLY_VM_MEMORY_MB',
]);

/** `[env]` names the platform owns: `FLY_*` and, when `primary_region` is set, `PRIMARY_REGION`. */
export function validateEnvNames(config: AppConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [name, value] of Object.entries(config.env)) {
    const path = `env.${name}`;
    if (PLATFORM_ENV.has(name)) {
      out.push(warningAt('env-platform-name', path, `WARN [env] sets ${name}, which the platform sets on every machine; the platform's value wins`));
    } else if (name.startsWith('FLY_')) {
      out.push(
        warningAt(
          'env-platform-name',
          path,
          `WARN [env] sets ${name}: names beginning with FLY_ are reserved for the platform, and a value the platform sets wins`,
        ),
      );
    } else if (name === 'PRIMARY_REGION' && config.primary_region !== undefined && config.primary_region !== value) {
      // flyctl writes PRIMARY_REGION from primary_region over [env] (reference §1b `[env]`); without
      // primary_region the [env] value is what machines get, so there is nothing to warn about.
      out.push(
        warningAt(
          'env-platform-name',
          path,
          `WARN [env] sets PRIMARY_REGION to '${value}', but machines get primary_region ('${config.primary_region}'); the platform's value wins`,
        ),
      );
    }
  }
  return out;
}

interface PortDecl {
  service: number;
  protocol: string;
  lo: number;
  hi: number;
  path: string;
}

function portRange(p: ServicePort): [number, number] | undefined {
  if (p.port !== undefined) return [p.port, p.port];
  if (p.start_port !== undefined) return [p.start_port, p.end_port ?? p.start_port];
  return undefined;
}

/**
 * Public ports claimed by more than one service. flyctl accepts this (§5); Hangar's proxy routes
 * such a port to the first declared service (the `[http_service]` comes first), so say so.
 */
export function validateDuplicatePorts(config: AppConfig): Diagnostic[] {
  const decls: PortDecl[] = [];
  let index = 0;
  if (config.http_service) {
    decls.push({ service: index, protocol: 'tcp', lo: 80, hi: 80, path: 'http_service' });
    decls.push({ service: index, protocol: 'tcp', lo: 443, hi: 443, path: 'http_service' });
    index += 1;
  }
  config.services.forEach((svc, s) => {
    svc.ports.forEach((p, j) => {
      const range = portRange(p);
      if (range) decls.push({ service: index, protocol: svc.protocol, lo: range[0], hi: range[1], path: `services[${s}].ports[${j}]` });
    });
    index += 1;
  });
  // One owner table per protocol (port → index of the first service declaring it) keeps this
  // linear in the number of declared ports: a pairwise comparison took minutes on a 10 MB file
  // with 100k services. A duplicate is reported once per run of consecutive shared ports.
  const owners = new Map<string, Int32Array>();
  const out: Diagnostic[] = [];
  const said = new Set<string>();
  const report = (d: PortDecl, lo: number, hi: number): void => {
    const key = `${d.protocol}:${lo}-${hi}`;
    if (said.has(key)) return;
    said.add(key);
    const proto = d.protocol === 'tcp' ? '' : ` (${d.protocol})`;
    const message =
      lo === hi
        ? `WARN port ${lo}${proto} is declared by more than one service; the proxy routes it to the first declared service`
        : `WARN ports ${lo}-${hi}${proto} are declared by more than one service; the proxy routes them to the first declared service`;
    out.push(warningAt('service-port-duplicate', d.path, message));
  };
  for (const d of decls) {
    let owner = owners.get(d.protocol);
    if (!owner) {
      owner = new Int32Array(65536).fill(-1);
      owners.set(d.protocol, owner);
    }
    let runStart = -1;
    const lo = Math.max(0, d.lo);
    const hi = Math.min(65535, d.hi);
    for (let port = lo; port <= hi; port++) {
      const first = owner[port] ?? -1;
      const shared = first !== -1 && first !== d.service;
      if (first === -1) owner[port] = d.service;
      if (shared && runStart === -1) runStart = port;
      if (!shared && runStart !== -1) {
        report(d, runStart, port - 1);
        runStart = -1;
      }
    }
    if (runStart !== -1) report(d, runStart, hi);
  }
  return out;
}

/** `max_unavailable` only paces rolling and canary deploys (reference §1b `[deploy]`). */
export function validateDeploySettings(config: AppConfig): Diagnostic[] {
  const deploy = config.deploy;
  if (!deploy || deploy.max_unavailable === undefined) return [];
  const strategy = deploy.strategy === undefined || deploy.strategy === '' ? 'rolling' : deploy.strategy;
  // An unknown strategy is already an error of its own.
  if (strategy === 'rolling' || strategy === 'canary' || !(DEPLOY_STRATEGIES as readonly string[]).includes(strategy)) return [];
  return [
    warningAt(
      'deploy-setting-ignored',
      'deploy.max_unavailable',
      `WARN max_unavailable only applies to the rolling and canary strategies; it is ignored with strategy '${strategy}'`,
    ),
  ];
}

function portLabel(p: ServicePort): string {
  if (p.port !== undefined) return `port ${p.port}`;
  if (p.start_port !== undefined) return `ports ${p.start_port}-${p.end_port ?? p.start_port}`;
  return 'a port without a number';
}

/**
 * `force_https` redirects plain HTTP requests, which only the `http` handler can see; Fly's docs
 * (`networking/services`) say the deploy fails otherwise, so this is an error, not a warning.
 */
export function validateForceHttps(config: AppConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  config.services.forEach((svc, s) => {
    svc.ports.forEach((p, j) => {
      if (p.force_https !== true || p.handlers.includes('http')) return;
      const handlers = p.handlers.length > 0 ? `[${p.handlers.map((h) => `"${h}"`).join(', ')}]` : 'none';
      out.push(
        errorAt(
          'force-https-without-http',
          `services[${s}].ports[${j}].force_https`,
          `force_https is set on ${portLabel(p)}, whose handlers (${handlers}) do not include "http": ` +
            `only the http handler can redirect to HTTPS, and the deploy would fail; add "http" to handlers or remove force_https`,
        ),
      );
    });
  });
  return out;
}
