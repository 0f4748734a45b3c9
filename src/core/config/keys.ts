/**
 * Every key flyctl knows in fly.toml, as a tree (flyctl's `toml` struct tags in
 * `internal/appconfig`; inventory in `testdata/full-reference.toml`, reference §1b). `--strict`
 * walks a file against it. Tables whose keys are free (env, processes, build args/settings,
 * check headers, response headers, attached secrets) are leaves here.
 */

export type KeyNode = Leaf | TableNode | ListNode | MapNode;
type Leaf = 'leaf';
export interface TableNode {
  kind: 'table';
  keys: Record<string, KeyNode>;
}
/** A list of tables (a single table is accepted too, as flyctl's patches do for several). */
export interface ListNode {
  kind: 'list';
  item: TableNode;
}
/** A table of named tables (`[checks.<name>]`). */
export interface MapNode {
  kind: 'map';
  item: TableNode;
}

const L: Leaf = 'leaf';
const leaves = (...names: string[]): Record<string, Leaf> => Object.fromEntries(names.map((n) => [n, L]));
const table = (keys: Record<string, KeyNode>): TableNode => ({ kind: 'table', keys });
const list = (item: TableNode): ListNode => ({ kind: 'list', item });

const compute = table(
  leaves(
    'size',
    'memory',
    'cpu_kind',
    'cpus',
    'memory_mb',
    'max_memory_mb',
    'gpus',
    'gpu_kind',
    'kernel_args',
    'host_dedication_id',
    'persist_rootfs',
    'processes',
  ),
);

const machineCheck = table(leaves('command', 'image', 'entrypoint', 'kill_signal', 'kill_timeout'));
const tcpCheck = table(leaves('interval', 'timeout', 'grace_period'));
const httpCheck = table(
  leaves('interval', 'timeout', 'grace_period', 'method', 'path', 'protocol', 'tls_skip_verify', 'tls_server_name', 'headers'),
);
const concurrency = table(leaves('type', 'hard_limit', 'soft_limit'));
const tlsOptions = table(leaves('alpn', 'versions', 'default_self_signed'));
const httpOptions = table({
  ...leaves('compress', 'h2_backend', 'idle_timeout', 'headers_read_timeout'),
  response: table(leaves('headers', 'pristine')),
  replay_cache: list(table(leaves('path_prefix', 'ttl_seconds', 'type', 'name', 'allow_bypass'))),
});

const port = table({
  ...leaves('port', 'start_port', 'end_port', 'handlers', 'force_https'),
  tls_options: tlsOptions,
  http_options: httpOptions,
  proxy_proto_options: table(leaves('version')),
});

const service = table({
  ...leaves('protocol', 'internal_port', 'auto_stop_machines', 'auto_start_machines', 'min_machines_running', 'processes'),
  concurrency,
  ports: list(port),
  tcp_checks: list(tcpCheck),
  http_checks: list(httpCheck),
  machine_checks: list(machineCheck),
});

const httpService = table({
  ...leaves('internal_port', 'force_https', 'auto_stop_machines', 'auto_start_machines', 'min_machines_running', 'processes'),
  concurrency,
  tls_options: tlsOptions,
  http_options: httpOptions,
  checks: list(httpCheck),
  machine_checks: list(machineCheck),
});

const topLevelCheck = table(
  leaves(
    'type',
    'port',
    'interval',
    'timeout',
    'grace_period',
    'method',
    'path',
    'protocol',
    'tls_skip_verify',
    'tls_server_name',
    'headers',
    'processes',
  ),
);

export const COMPUTE_KEYS = compute;

export const APP_KEYS: TableNode = table({
  ...leaves(
    'app',
    'primary_region',
    'kill_signal',
    'kill_timeout',
    'swap_size_mb',
    'console_command',
    'host_dedication_id',
    'machine_config',
    'container',
    'env',
    'processes',
  ),
  build: table({
    ...leaves(
      'builder',
      'buildpacks',
      'args',
      'image',
      'settings',
      'builtin',
      'dockerfile',
      'ignorefile',
      'build-target',
      'compression',
      'compression_level',
    ),
    compose: table(leaves('file')),
  }),
  deploy: table({
    ...leaves('strategy', 'max_unavailable', 'wait_timeout', 'release_command', 'release_command_timeout', 'seed_command'),
    release_command_vm: compute,
  }),
  experimental: table({
    ...leaves(
      'cmd',
      'entrypoint',
      'exec',
      'auto_rollback',
      'enable_consul',
      'enable_etcd',
      'lazy_load_images',
      'machine_config',
      'use_zstd',
      // legacy keys flyctl's patches read (moved to kill_timeout / [metrics])
      'kill_timeout',
      'metrics_port',
      'metrics_path',
    ),
    attached: table({ secrets: table(leaves('export')) }),
  }),
  http_service: httpService,
  services: list(service),
  checks: { kind: 'map', item: topLevelCheck },
  mounts: list(
    table(
      leaves(
        'source',
        'destination',
        'initial_size',
        'snapshot_retention',
        'scheduled_snapshots',
        'auto_extend_size_threshold',
        'auto_extend_size_increment',
        'auto_extend_size_limit',
        'processes',
      ),
    ),
  ),
  vm: list(compute),
  restart: list(table(leaves('policy', 'retries', 'processes'))),
  metrics: list(table(leaves('port', 'path', 'https', 'processes'))),
  statics: list(table(leaves('guest_path', 'url_prefix', 'tigris_bucket', 'index_document'))),
  files: list(table(leaves('guest_path', 'local_path', 'secret_name', 'raw_value', 'processes'))),
  machine_checks: list(machineCheck),
});
