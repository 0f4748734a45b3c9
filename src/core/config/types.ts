/**
 * The normalized fly.toml: what `normalizeAppConfig` produces from any accepted form of the file.
 *
 * Keys keep fly.toml's snake_case spelling on purpose: `hangar config show --json` then prints
 * the same keys as `fly config show`, and the planner maps them to the Machines API (also
 * snake_case) without a renaming layer. Every legacy or alternative form from reference §1b/§5
 * (`[mounts]` tables, `processes = []` lists, bool autostop, string ports, integer durations, ...)
 * is already folded into the single form below; nothing downstream has to know about them.
 *
 * Conventions:
 * - Optional keys are absent (never `undefined`-valued) when the file did not set them, so the
 *   planner can tell "unset, use the platform default" from an explicit value.
 * - Durations are canonical Go duration strings ("15s", "1m30s", "500ms"), the form flyctl
 *   prints and the Machines API accepts; `parseGoDuration`/`formatGoDuration` convert.
 * - List sections are always present (possibly empty) so callers need no `?? []`.
 * - `processes` on a section is the list of process groups it applies to; empty = flyctl's
 *   rule for that section (default group only, or every group for `[[vm]]`).
 */

/** A canonical Go duration string, e.g. "10s", "1m0s", "250ms". */
export type GoDuration = string;

export type AutostopMode = 'off' | 'stop' | 'suspend';

export interface AppConfig {
  app?: string;
  primary_region?: string;
  kill_signal?: string;
  kill_timeout?: GoDuration;
  swap_size_mb?: number;
  console_command?: string;
  host_dedication_id?: string;
  /** JSON text or a path to a JSON file (`machine_config`; `[experimental] machine_config` wins). */
  machine_config?: string;
  container?: string;
  build?: BuildConfig;
  deploy?: DeployConfig;
  /** `[env]`; non-string values already stringified. */
  env: Record<string, string>;
  http_service?: HttpService;
  /** `[[services]]` only; `[http_service]` stays separate, as in flyctl (it is expanded at plan time). */
  services: Service[];
  /** Top-level `[checks.<name>]`. */
  checks: Record<string, TopLevelCheck>;
  /** `[processes]`: group name → command line ("" = the image's default command). */
  processes: Record<string, string>;
  mounts: Mount[];
  /** `[[vm]]` (and `compute`/`computes`, dotted `vm.size`, and Hangar's `[[vm.override]]`). */
  vm: Compute[];
  restart: Restart[];
  metrics: Metrics[];
  statics: Static[];
  files: FileSpec[];
  machine_checks: MachineCheckSpec[];
  experimental?: Experimental;
}

export interface BuildConfig {
  builder?: string;
  buildpacks?: string[];
  args?: Record<string, string>;
  image?: string;
  settings?: Record<string, unknown>;
  builtin?: string;
  dockerfile?: string;
  ignorefile?: string;
  'build-target'?: string;
  compose?: { file?: string };
  compression?: string;
  compression_level?: number;
}

export interface DeployConfig {
  strategy?: string;
  /** ≥ 1: a number of machines; < 1: a fraction of the group's running machines. */
  max_unavailable?: number;
  wait_timeout?: GoDuration;
  release_command?: string;
  release_command_timeout?: GoDuration;
  release_command_vm?: Compute;
  seed_command?: string;
}

export interface Experimental {
  cmd?: string[];
  entrypoint?: string[];
  exec?: string[];
  auto_rollback?: boolean;
  enable_consul?: boolean;
  enable_etcd?: boolean;
  lazy_load_images?: boolean;
  attached?: { secrets?: { export?: Record<string, string> } };
  machine_config?: string;
}

export interface Concurrency {
  type?: 'connections' | 'requests';
  soft_limit?: number;
  hard_limit?: number;
}

export interface TlsOptions {
  alpn?: string[];
  versions?: string[];
  default_self_signed?: boolean;
}

export interface ReplayCache {
  path_prefix: string;
  ttl_seconds: number;
  type: 'cookie' | 'header';
  name: string;
  allow_bypass?: boolean;
}

export interface HttpResponseOptions {
  /** Value string or list adds the header; `false` removes it. */
  headers?: Record<string, string | string[] | false>;
  pristine?: boolean;
}

export interface HttpOptions {
  compress?: boolean;
  h2_backend?: boolean;
  idle_timeout?: number;
  headers_read_timeout?: number;
  response?: HttpResponseOptions;
  replay_cache?: ReplayCache[];
}

export interface ProxyProtoOptions {
  version?: string;
}

export interface ServicePort {
  port?: number;
  start_port?: number;
  end_port?: number;
  handlers: string[];
  force_https?: boolean;
  tls_options?: TlsOptions;
  http_options?: HttpOptions;
  proxy_proto_options?: ProxyProtoOptions;
}

export interface ServiceTcpCheck {
  interval?: GoDuration;
  timeout?: GoDuration;
  grace_period?: GoDuration;
}

export interface ServiceHttpCheck extends ServiceTcpCheck {
  method?: string;
  path?: string;
  protocol?: string;
  tls_skip_verify?: boolean;
  tls_server_name?: string;
  headers: Record<string, string>;
}

export interface MachineCheckSpec {
  command: string[];
  image?: string;
  entrypoint?: string[];
  kill_signal?: string;
  kill_timeout?: GoDuration;
}

export interface Service {
  protocol: 'tcp' | 'udp';
  internal_port: number;
  auto_stop_machines?: AutostopMode;
  auto_start_machines?: boolean;
  min_machines_running?: number;
  processes: string[];
  concurrency?: Concurrency;
  ports: ServicePort[];
  tcp_checks: ServiceTcpCheck[];
  http_checks: ServiceHttpCheck[];
  machine_checks: MachineCheckSpec[];
}

export interface HttpService {
  internal_port: number;
  force_https?: boolean;
  auto_stop_machines?: AutostopMode;
  auto_start_machines?: boolean;
  min_machines_running?: number;
  processes: string[];
  concurrency?: Concurrency;
  tls_options?: TlsOptions;
  http_options?: HttpOptions;
  checks: ServiceHttpCheck[];
  machine_checks: MachineCheckSpec[];
}

export interface TopLevelCheck {
  type?: 'http' | 'tcp';
  port?: number;
  interval?: GoDuration;
  timeout?: GoDuration;
  grace_period?: GoDuration;
  method?: string;
  path?: string;
  protocol?: string;
  tls_skip_verify?: boolean;
  tls_server_name?: string;
  headers: Record<string, string>;
  processes: string[];
}

export interface Mount {
  source: string;
  destination: string;
  /** e.g. "10gb"; a bare integer in the file means GB and is stored as "<n>gb". */
  initial_size?: string;
  snapshot_retention?: number;
  scheduled_snapshots?: boolean;
  auto_extend_size_threshold?: number;
  auto_extend_size_increment?: string;
  auto_extend_size_limit?: string;
  processes: string[];
}

export interface Compute {
  size?: string;
  /** As written ("1gb", "512"); a bare number in the file means MB. */
  memory?: string;
  cpu_kind?: string;
  cpus?: number;
  memory_mb?: number;
  max_memory_mb?: number;
  gpus?: number;
  gpu_kind?: string;
  kernel_args?: string[];
  host_dedication_id?: string;
  persist_rootfs?: string;
  processes: string[];
  /** Where the entry came from, for messages: `vm[0]` or `vm.override[1]` (Hangar-only form). */
  origin?: string;
}

export interface Restart {
  /** As written in fly.toml; the planner maps `never` → the API's `no`. */
  policy: 'always' | 'never' | 'on-failure';
  retries?: number;
  processes: string[];
}

export interface Metrics {
  port: number;
  path: string;
  https?: boolean;
  processes: string[];
}

export interface Static {
  guest_path: string;
  url_prefix: string;
  tigris_bucket?: string;
  index_document?: string;
}

export interface FileSpec {
  guest_path: string;
  local_path?: string;
  secret_name?: string;
  /** Plain text as written in fly.toml; the planner base64-encodes it for the API. */
  raw_value?: string;
  processes: string[];
}

/* ----------------------------------------------------------------------------------------- */

export type Severity = 'error' | 'warning';

/**
 * One problem found in a fly.toml. `message` uses flyctl's wording where flyctl has one
 * (reference §1b "Validation and messages"), without a trailing newline.
 */
export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable id, e.g. `toml-syntax`, `type`, `check-interval-too-short`. */
  code: string;
  /** Key path in fly.toml terms, e.g. `services[1].ports[0].handlers`; absent for file-level problems. */
  path?: string;
  message: string;
  /** 1-based position in the file, when known (syntax errors). */
  line?: number;
  column?: number;
}

export interface NormalizeResult {
  /** null only when the file could not be read as a TOML table at all. */
  config: AppConfig | null;
  diagnostics: Diagnostic[];
}

export interface StrictFinding {
  /** `  - <section>` / `  - <path>.<key>` in flyctl's output, without the dash. */
  path: string;
  /** Why it is listed, when not simply "unrecognised" (e.g. Hangar-only forms Fly ignores). */
  note?: string;
}
