/**
 * Patched raw map → typed `AppConfig`, collecting every type problem instead of stopping at the
 * first: a value that fails its schema is reported with its key path, removed, and the section
 * decoded again without it, so the rest of the file still comes through.
 */
import type { z } from 'zod';
import { duration, int, list, record, str, strMap, table } from './decode-fields.js';
import {
  buildSchema,
  computeSchema,
  deploySchema,
  experimentalSchema,
  fileSchema,
  metricsSchema,
  mountSchema,
  restartSchema,
  staticSchema,
} from './decode-sections.js';
import { httpServiceSchema, machineCheckSchema, serviceSchema, topLevelCheckSchema } from './decode-services.js';
import { ensureArrayOfMap } from './casts.js';
import { formatPath, hasKey, isMap, typeError, type PathSegment, type RawMap } from './raw.js';
import type { AppConfig, Compute, Diagnostic } from './types.js';

const appSchema = table({
  app: str.optional(),
  primary_region: str.optional(),
  kill_signal: str.optional(),
  kill_timeout: duration.optional(),
  swap_size_mb: int.optional(),
  console_command: str.optional(),
  host_dedication_id: str.optional(),
  machine_config: str.optional(),
  container: str.optional(),
  build: buildSchema.optional(),
  deploy: deploySchema.optional(),
  env: strMap.default(() => ({})),
  http_service: httpServiceSchema.optional(),
  services: list(serviceSchema).default(() => []),
  checks: record(topLevelCheckSchema).default(() => ({})),
  processes: strMap.default(() => ({})),
  mounts: list(mountSchema).default(() => []),
  vm: list(computeSchema).default(() => []),
  restart: list(restartSchema).default(() => []),
  metrics: list(metricsSchema).default(() => []),
  statics: list(staticSchema).default(() => []),
  files: list(fileSchema).default(() => []),
  machine_checks: list(machineCheckSchema).default(() => []),
  experimental: experimentalSchema.optional(),
});

const computeListSchema = list(computeSchema);

/** Decodes the patched map (which it may modify) into an AppConfig; problems go to `diags`. */
export function decodeAppConfig(patched: RawMap, diags: Diagnostic[]): AppConfig {
  const overrides = takeVmOverrides(patched, diags);
  const config = decodeWith(appSchema, patched, [], diags) as AppConfig;
  for (const check of Object.values(config.checks)) {
    if (check.type === undefined) delete check.type;
  }
  if (overrides.length > 0) {
    config.vm.forEach((c, i) => {
      c.origin = `vm[${i}]`;
    });
    for (const group of overrides) {
      const decoded = decodeWith(computeListSchema, group.entries, group.path, diags) as Compute[];
      decoded.forEach((c, j) => config.vm.push({ ...c, origin: `${formatPath(group.path)}[${j}]` }));
    }
  }
  return config;
}

interface OverrideGroup {
  /** `['vm', 'override']` for the documented single `[vm]` table, else `['vm', i, 'override']`. */
  path: PathSegment[];
  entries: RawMap[];
}

/**
 * Hangar's `[[vm.override]]` (a form from widely read guides that Fly ignores): each entry under
 * a `[vm]` table becomes an extra `vm[]` entry of its own, appended after the `[[vm]]` entries.
 */
function takeVmOverrides(patched: RawMap, diags: Diagnostic[]): OverrideGroup[] {
  const vm = patched.vm;
  if (!Array.isArray(vm)) return [];
  const groups: OverrideGroup[] = [];
  vm.forEach((entry, i) => {
    if (!isMap(entry) || !hasKey(entry, 'override')) return;
    const path: PathSegment[] = vm.length === 1 ? ['vm', 'override'] : ['vm', i, 'override'];
    const entries = ensureArrayOfMap(entry.override, path, diags);
    delete entry.override;
    if (entries && entries.length > 0) groups.push({ path, entries });
  });
  return groups;
}

const MAX_ROUNDS = 16;

/**
 * Runs `schema` on `input`, reporting each failing value once (with `prefix` before its path)
 * and removing it until the rest decodes. A required key that is missing removes the entry
 * that holds it. `input` is modified.
 */
export function decodeWith<T extends z.ZodType>(schema: T, input: unknown, prefix: PathSegment[], diags: Diagnostic[]): z.output<T> {
  const reported = new Set<string>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const result = schema.safeParse(input);
    if (result.success) return result.data;
    const paths: PathSegment[][] = [];
    for (const issue of result.error.issues) {
      const path = issue.path.filter((seg): seg is PathSegment => typeof seg !== 'symbol');
      const full = [...prefix, ...path];
      const key = formatPath(full);
      if (!reported.has(key)) {
        reported.add(key);
        const bare = issue.code === 'custom' && (issue.params as { bare?: boolean } | undefined)?.bare === true;
        diags.push(typeError(full, issue.message, bare));
      }
      paths.push(path);
    }
    if (!removeValues(input, paths)) break;
  }
  // Only reachable through a bug in a schema: still return a well-formed (empty) value.
  return schema.parse(Array.isArray(input) ? [] : {});
}

/** Removes the value at each path (grouped per container so array indexes stay valid). */
function removeValues(root: unknown, paths: PathSegment[][]): boolean {
  const targets = new Map<object, Set<PathSegment>>();
  const mark = (container: object, key: PathSegment): void => {
    let keys = targets.get(container);
    if (!keys) targets.set(container, (keys = new Set()));
    keys.add(key);
  };
  for (const path of paths) {
    const found = locate(root, path);
    if (found) mark(found.container, found.key);
  }
  let removed = false;
  for (const [container, keys] of targets) {
    if (Array.isArray(container)) {
      const indexes = [...keys].filter((k): k is number => typeof k === 'number').sort((a, b) => b - a);
      for (const i of indexes) {
        if (i < container.length) {
          container.splice(i, 1);
          removed = true;
        }
      }
    } else {
      for (const k of keys) {
        if (typeof k === 'string' && hasKey(container as RawMap, k)) {
          delete (container as RawMap)[k];
          removed = true;
        }
      }
    }
  }
  return removed;
}

/**
 * Where the value at `path` lives. A table standing for a one-element list (the single-table
 * forms) is walked through its `[0]`. When the last key is absent (a required key), the entry
 * holding it is the target instead.
 */
function locate(root: unknown, path: PathSegment[]): { container: object; key: PathSegment } | undefined {
  const chain: { container: object; key: PathSegment }[] = [];
  let cur: unknown = root;
  for (const seg of path) {
    if (isMap(cur) && typeof seg === 'number') continue;
    if (!(typeof cur === 'object' && cur !== null)) break;
    chain.push({ container: cur, key: seg });
    cur = Array.isArray(cur) ? (typeof seg === 'number' ? cur[seg] : undefined) : hasKey(cur as RawMap, String(seg)) ? (cur as RawMap)[String(seg)] : undefined;
    if (cur === undefined) break;
  }
  const last = chain[chain.length - 1];
  if (!last) return undefined;
  const exists = Array.isArray(last.container)
    ? typeof last.key === 'number' && last.key < last.container.length
    : hasKey(last.container as RawMap, String(last.key));
  if (exists) return last;
  return chain[chain.length - 2];
}
