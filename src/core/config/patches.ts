/**
 * flyctl's back-compat patches (`internal/appconfig/patches.go`, reference §1b "Back-compat
 * patches"), applied to the raw map before decoding, in flyctl's order. Where flyctl aborts the
 * whole load on a patch error, Hangar reports the problem (in flyctl's words where it has them)
 * and drops only the offending value, so every problem of a file is listed at once.
 *
 * Deliberate differences from flyctl:
 * - `[build] build_target`, the `name` of a list-form check and the `metric` alias are moved,
 *   not copied, so `--strict` does not list keys flyctl itself reads;
 * - a bare `initial_size` number becomes "<n>gb" (flyctl keeps "<n>" and reads it as GB later);
 * - values flyctl's casts drop silently (a boolean `kill_timeout`, say) are reported.
 */
import { NS_PER_MS, NS_PER_SECOND } from '../duration.js';
import { atoi, castDuration, castToInt, ensureArrayOfMap, goQuote } from './casts.js';
import { describeValue, formatPath, goTypeName, goValueString, hasKey, isMap, typeError, type PathSegment, type RawMap } from './raw.js';
import type { Diagnostic } from './types.js';

type Patch = (cfg: RawMap, diags: Diagnostic[]) => void;

const PATCHES: Patch[] = [
  patchEnv,
  patchServices,
  patchProcesses,
  patchExperimental,
  patchTopLevelChecks,
  patchCompute,
  patchMounts,
  patchMetrics,
  patchTopFields,
  patchBuild,
];

/** Applies every patch to `cfg` in place and returns it; problems are appended to `diags`. */
export function applyPatches(cfg: RawMap, diags: Diagnostic[]): RawMap {
  for (const patch of PATCHES) patch(cfg, diags);
  return cfg;
}

/** A name read from a value that cannot be a key of a JavaScript object. */
function unsafeName(path: PathSegment[]): Diagnostic {
  const p = formatPath(path);
  return { severity: 'warning', code: 'unsafe-key', path: p, message: `${p}: the name "__proto__" is ignored` };
}

/** Sets or deletes `key` depending on whether a cast produced a value. */
function assign(map: RawMap, key: string, value: unknown): void {
  if (value === undefined) delete map[key];
  else map[key] = value;
}

/* ---------------------------------------------------------------------------------------- */
/* the patches, in flyctl's order                                                            */

/** `[env]`: values stringified like Go's `%v`; a list of tables is merged (`patchEnv`). */
function patchEnv(cfg: RawMap, diags: Diagnostic[]): void {
  if (!hasKey(cfg, 'env')) return;
  const env: RawMap = {};
  const merge = (value: unknown, path: PathSegment[]): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => merge(item, [...path, i]));
    } else if (isMap(value)) {
      for (const [k, v] of Object.entries(value)) {
        const text = goValueString(v);
        if (text === undefined) diags.push(typeError(['env', k], `expected a string, got ${describeValue(v)}`));
        else env[k] = text;
      }
    } else {
      diags.push(typeError(path, `Do not know how to process 'env' section of type: ${goTypeName(value)}`, true));
    }
  };
  merge(cfg.env, ['env']);
  cfg.env = env;
}

/** `[[services]]`: a single table is a list; empty entries are dropped; legacy forms converted. */
function patchServices(cfg: RawMap, diags: Diagnostic[]): void {
  if (!hasKey(cfg, 'services')) return;
  const list = ensureArrayOfMap(cfg.services, ['services'], diags);
  if (list === undefined) {
    delete cfg.services;
    return;
  }
  const services = list.filter((s) => Object.keys(s).length > 0);
  services.forEach((service, i) => patchService(service, ['services', i], diags));
  cfg.services = services;
}

function patchService(service: RawMap, path: PathSegment[], diags: Diagnostic[]): void {
  const concurrency = service.concurrency;
  if (typeof concurrency === 'string') {
    assign(service, 'concurrency', parseOldConcurrency(concurrency, [...path, 'concurrency'], diags));
  }
  if (hasKey(service, 'ports')) {
    const ports = ensureArrayOfMap(service.ports, [...path, 'ports'], diags);
    if (ports === undefined) delete service.ports;
    else {
      ports.forEach((port, i) => {
        if (hasKey(port, 'port')) assign(port, 'port', castToInt(port.port, [...path, 'ports', i, 'port'], diags));
      });
      service.ports = ports;
    }
  }
  for (const kind of ['tcp_checks', 'http_checks']) {
    if (!hasKey(service, kind)) continue;
    const checks = ensureArrayOfMap(service[kind], [...path, kind], diags);
    checks?.forEach((check, i) => patchCheck(check, [...path, kind, i], diags));
    assign(service, kind, checks && checks.length > 0 ? checks : undefined);
  }
  if (hasKey(service, 'internal_port')) {
    assign(service, 'internal_port', castToInt(service.internal_port, [...path, 'internal_port'], diags));
  }
}

/** Old `concurrency = "<soft>,<hard>"` → `{type = "requests", soft_limit, hard_limit}`. */
function parseOldConcurrency(text: string, path: PathSegment[], diags: Diagnostic[]): RawMap | undefined {
  const comma = text.indexOf(',');
  if (comma < 0) {
    diags.push(typeError(path, `Unknown value '${text}' for concurrency limits`, true));
    return undefined;
  }
  const limits: number[] = [];
  for (const part of [text.slice(0, comma), text.slice(comma + 1)]) {
    const r = atoi(part);
    if (!r.ok) {
      diags.push(typeError(path, `Can not convert '${text}': strconv.Atoi: parsing ${goQuote(part)}: ${r.reason}`, true));
      return undefined;
    }
    limits.push(r.value);
  }
  return { type: 'requests', hard_limit: limits[1], soft_limit: limits[0] };
}

/**
 * A service or top-level check: integer `interval`/`timeout`/`grace_period` are milliseconds;
 * `headers = [{name, value}]` becomes a map; empty headers are removed (`_patchCheck`).
 */
function patchCheck(check: RawMap, path: PathSegment[], diags: Diagnostic[]): void {
  for (const attr of ['interval', 'timeout', 'grace_period']) {
    if (hasKey(check, attr)) assign(check, attr, castDuration(check[attr], NS_PER_MS, 'milliseconds', [...path, attr], diags));
  }
  if (hasKey(check, 'headers')) {
    const headers = patchCheckHeaders(check.headers, [...path, 'headers'], diags);
    assign(check, 'headers', headers && Object.keys(headers).length > 0 ? headers : undefined);
  }
}

function patchCheckHeaders(value: unknown, path: PathSegment[], diags: Diagnostic[]): RawMap | undefined {
  const headers: RawMap = {};
  const put = (name: unknown, v: unknown, at: PathSegment[]): void => {
    const n = goValueString(name);
    const text = v === undefined ? '' : goValueString(v);
    if (n === undefined) diags.push(typeError([...at, 'name'], `expected a string, got ${describeValue(name)}`));
    else if (n === '__proto__') diags.push(unsafeName(at));
    else if (text === undefined) diags.push(typeError(at, `expected a string, got ${describeValue(v)}`));
    else headers[n] = text;
  };
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (isMap(item) && hasKey(item, 'name')) put(item.name, item.value, [...path, i]);
      else diags.push(typeError([...path, i], `expected a table with "name" and "value", got ${describeValue(item)}`));
    });
    return headers;
  }
  if (isMap(value)) {
    for (const [name, v] of Object.entries(value)) {
      const text = goValueString(v);
      if (text === undefined) diags.push(typeError([...path, name], `expected a string, got ${describeValue(v)}`));
      else headers[name] = text;
    }
    return headers;
  }
  diags.push(typeError(path, `expected a table of header names to values, got ${describeValue(value)}`));
  return undefined;
}

/** Old `processes = [{name, command}]` → `[processes]` map (`patchProcesses`). */
function patchProcesses(cfg: RawMap, diags: Diagnostic[]): void {
  if (!hasKey(cfg, 'processes')) return;
  const raw = cfg.processes;
  if (isMap(raw)) return;
  if (!Array.isArray(raw)) {
    diags.push(typeError(['processes'], `Unknown processes type: ${goTypeName(raw)}`, true));
    delete cfg.processes;
    return;
  }
  const processes: RawMap = {};
  raw.forEach((item, i) => {
    // flyctl skips list items that are not tables
    if (!isMap(item) || !hasKey(item, 'name')) return;
    const name = goValueString(item.name);
    const command = hasKey(item, 'command') ? goValueString(item.command) : '';
    if (name === undefined) diags.push(typeError(['processes', i, 'name'], `expected a string, got ${describeValue(item.name)}`));
    else if (name === '__proto__') diags.push(unsafeName(['processes', i, 'name']));
    else if (command === undefined) diags.push(typeError(['processes', i, 'command'], `expected a string, got ${describeValue(item.command)}`));
    else processes[name] = command;
  });
  assign(cfg, 'processes', Object.keys(processes).length > 0 ? processes : undefined);
}

/**
 * `[experimental]`: `cmd`/`entrypoint`/`exec` as one string become a one-element list;
 * `kill_timeout` (seconds) is copied to the top level when absent there; `metrics_port`/
 * `metrics_path` become `[metrics]` when there is none (`patchExperimental`).
 */
function patchExperimental(cfg: RawMap, diags: Diagnostic[]): void {
  if (!hasKey(cfg, 'experimental')) return;
  const exp = cfg.experimental;
  if (!isMap(exp)) {
    diags.push(typeError(['experimental'], `Experimental section of unknown type: ${goTypeName(exp)}`, true));
    delete cfg.experimental;
    return;
  }
  const metrics: RawMap = {};
  for (const [k, v] of Object.entries(exp)) {
    switch (k) {
      case 'cmd':
      case 'entrypoint':
      case 'exec':
        assign(exp, k, stringOrSliceToSlice(v, k, ['experimental', k], diags));
        break;
      case 'kill_timeout':
        if (!hasKey(cfg, 'kill_timeout')) {
          assign(cfg, 'kill_timeout', castDuration(v, NS_PER_SECOND, 'seconds', ['experimental', 'kill_timeout'], diags));
        }
        break;
      case 'metrics_port':
      case 'metrics_path':
        metrics[k.slice('metrics_'.length)] = v;
        break;
    }
  }
  if (Object.keys(exp).length === 0) delete cfg.experimental;
  if (!hasKey(cfg, 'metrics') && Object.keys(metrics).length > 0) cfg.metrics = metrics;
}

function goVerbV(value: unknown): string {
  return goValueString(value) ?? (Array.isArray(value) ? '[...]' : 'map[...]');
}

function stringOrSliceToSlice(value: unknown, field: string, path: PathSegment[], diags: Diagnostic[]): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) {
    const bad = value.find((v) => typeof v !== 'string');
    if (bad === undefined) return value as string[];
    diags.push(typeError(path, `could not cast ${goVerbV(bad)} of type ${goTypeName(bad)} to string on ${field}`, true));
    return undefined;
  }
  diags.push(typeError(path, `could not cast ${goVerbV(value)} of type ${goTypeName(value)} to []string on ${field}`, true));
  return undefined;
}

/** `[checks]`: list form `[{name, ...}]` → map by name; each check patched (`patchTopLevelChecks`). */
function patchTopLevelChecks(cfg: RawMap, diags: Diagnostic[]): void {
  if (!hasKey(cfg, 'checks')) return;
  const raw = cfg.checks;
  const checks: RawMap = {};
  if (isMap(raw)) {
    for (const [name, check] of Object.entries(raw)) {
      if (!isMap(check)) {
        diags.push(typeError(['checks', name], `expected a table, got ${describeValue(check)}`));
        continue;
      }
      patchCheck(check, ['checks', name], diags);
      checks[name] = check;
    }
  } else if (Array.isArray(raw)) {
    raw.forEach((item, i) => {
      if (!isMap(item)) {
        diags.push(typeError(['checks', i], `check item of unknown type: ${goTypeName(item)}`, true));
        return;
      }
      const name = item.name;
      if (typeof name !== 'string') {
        diags.push(typeError(['checks', i, 'name'], 'check item name not a string', true));
        return;
      }
      if (name === '__proto__') {
        diags.push(unsafeName(['checks', i, 'name']));
        return;
      }
      delete item.name;
      patchCheck(item, ['checks', name], diags);
      checks[name] = item;
    });
  } else {
    diags.push(typeError(['checks'], `'checks' section of unknown type: ${goTypeName(raw)}`, true));
  }
  assign(cfg, 'checks', Object.keys(checks).length > 0 ? checks : undefined);
}

/** `compute`, `computes` and `vm` (table or list) merge into `vm`; a numeric `memory` becomes a string. */
function patchCompute(cfg: RawMap, diags: Diagnostic[]): void {
  const vm: RawMap[] = [];
  for (const key of ['compute', 'computes', 'vm']) {
    if (!hasKey(cfg, key)) continue;
    vm.push(...(ensureArrayOfMap(cfg[key], [key], diags) ?? []));
    delete cfg[key];
  }
  vm.forEach((c, i) => {
    if (!hasKey(c, 'memory')) return;
    const text = goValueString(c.memory);
    if (text === undefined || typeof c.memory === 'boolean') {
      diags.push(typeError(['vm', i, 'memory'], `expected a size such as "1gb" or a number of MB, got ${describeValue(c.memory)}`));
      delete c.memory;
    } else c.memory = text;
  });
  cfg.vm = vm;
}

/** `mount` and `mounts` (table or list) merge into `mounts`; a bare `initial_size` number means GB. */
function patchMounts(cfg: RawMap, diags: Diagnostic[]): void {
  const mounts: RawMap[] = [];
  for (const key of ['mount', 'mounts']) {
    if (!hasKey(cfg, key)) continue;
    mounts.push(...(ensureArrayOfMap(cfg[key], [key], diags) ?? []));
    delete cfg[key];
  }
  mounts.forEach((m, i) => {
    if (!hasKey(m, 'initial_size')) return;
    const v = m.initial_size;
    if (typeof v === 'string') return;
    if (typeof v === 'number' || typeof v === 'bigint') {
      m.initial_size = `${goValueString(v)}gb`;
      return;
    }
    diags.push(typeError(['mounts', i, 'initial_size'], `expected a size such as "10gb" or a number of GB, got ${describeValue(v)}`));
    delete m.initial_size;
  });
  cfg.mounts = mounts;
}

/** `metric` and `metrics` (table or list) merge into `metrics`. */
function patchMetrics(cfg: RawMap, diags: Diagnostic[]): void {
  const metrics: RawMap[] = [];
  for (const key of ['metric', 'metrics']) {
    if (!hasKey(cfg, key)) continue;
    metrics.push(...(ensureArrayOfMap(cfg[key], [key], diags) ?? []));
    delete cfg[key];
  }
  cfg.metrics = metrics;
}

/** Top-level `kill_timeout`: an integer means seconds (`patchTopFields`). */
function patchTopFields(cfg: RawMap, diags: Diagnostic[]): void {
  if (hasKey(cfg, 'kill_timeout')) {
    assign(cfg, 'kill_timeout', castDuration(cfg.kill_timeout, NS_PER_SECOND, 'seconds', ['kill_timeout'], diags));
  }
}

/** `[build] build_target` → `build-target` (`patchBuild`). */
function patchBuild(cfg: RawMap, diags: Diagnostic[]): void {
  if (!hasKey(cfg, 'build')) return;
  const build = cfg.build;
  if (!isMap(build)) {
    diags.push(typeError(['build'], `Build section of unknown type: ${goTypeName(build)}`, true));
    delete cfg.build;
    return;
  }
  if (hasKey(build, 'build_target')) {
    build['build-target'] = build.build_target;
    delete build.build_target;
  }
  if (Object.keys(build).length === 0) delete cfg.build;
}
