/**
 * Schemas for the remaining fly.toml sections: `[build]`, `[deploy]`, `[experimental]`,
 * `[[mounts]]`, `[[vm]]`, `[[restart]]`, `[[metrics]]`, `[[statics]]`, `[[files]]`
 * (reference §1b). Key order follows `types.ts`.
 */
import { bool, duration, Fail, int, leaf, memory, num, plainData, record, str, strList, strMap, table } from './decode-fields.js';
import { goValueString } from './raw.js';

export const buildSchema = table({
  builder: str.optional(),
  buildpacks: strList.optional(),
  args: strMap.optional(),
  image: str.optional(),
  settings: record(plainData).optional(),
  builtin: str.optional(),
  dockerfile: str.optional(),
  ignorefile: str.optional(),
  'build-target': str.optional(),
  compose: table({ file: str.optional() }).optional(),
  compression: str.optional(),
  compression_level: int.optional(),
});

/** `[[vm]]` (and `compute`/`computes`, `deploy.release_command_vm`, Hangar's `[[vm.override]]`). */
export const computeSchema = table({
  size: str.optional(),
  memory: memory.optional(),
  cpu_kind: str.optional(),
  cpus: int.optional(),
  memory_mb: int.optional(),
  max_memory_mb: int.optional(),
  gpus: int.optional(),
  gpu_kind: str.optional(),
  kernel_args: strList.optional(),
  host_dedication_id: str.optional(),
  persist_rootfs: str.optional(),
  processes: strList.default(() => []),
});

export const deploySchema = table({
  strategy: str.optional(),
  max_unavailable: num.optional(),
  wait_timeout: duration.optional(),
  release_command: str.optional(),
  release_command_timeout: duration.optional(),
  release_command_vm: computeSchema.optional(),
  seed_command: str.optional(),
});

export const experimentalSchema = table({
  cmd: strList.optional(),
  entrypoint: strList.optional(),
  exec: strList.optional(),
  auto_rollback: bool.optional(),
  enable_consul: bool.optional(),
  enable_etcd: bool.optional(),
  lazy_load_images: bool.optional(),
  attached: table({
    secrets: table({ export: strMap.optional() }).optional(),
  }).optional(),
  machine_config: str.optional(),
});

export const mountSchema = table({
  source: str.default(''),
  destination: str.default(''),
  initial_size: str.optional(),
  snapshot_retention: int.optional(),
  scheduled_snapshots: bool.optional(),
  auto_extend_size_threshold: int.optional(),
  auto_extend_size_increment: str.optional(),
  auto_extend_size_limit: str.optional(),
  processes: strList.default(() => []),
});

/**
 * `[[restart]] policy`: flyctl's three values. Anything else (the API's `no` included, or no
 * policy at all) fails in flyctl's words and, being required, drops its `[[restart]]` entry.
 */
const restartPolicy = leaf((v): 'always' | 'never' | 'on-failure' | Fail => {
  if (v === 'always' || v === 'never' || v === 'on-failure') return v;
  const shown = v === undefined ? '' : (goValueString(v) ?? (Array.isArray(v) ? '[...]' : 'map[...]'));
  return new Fail(`invalid restart policy: ${shown}`, true);
});

export const restartSchema = table({
  policy: restartPolicy,
  retries: int.optional(),
  processes: strList.default(() => []),
});

export const metricsSchema = table({
  port: int.default(0),
  path: str.default(''),
  https: bool.optional(),
  processes: strList.default(() => []),
});

export const staticSchema = table({
  guest_path: str.default(''),
  url_prefix: str.default(''),
  tigris_bucket: str.optional(),
  index_document: str.optional(),
});

export const fileSchema = table({
  guest_path: str.default(''),
  local_path: str.optional(),
  secret_name: str.optional(),
  raw_value: str.optional(),
  processes: strList.default(() => []),
});
