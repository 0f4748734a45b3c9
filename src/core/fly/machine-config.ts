/**
 * The Fly Machines API machine config, exactly in its JSON wire shape (reference §1a,
 * "Machine config fields"). Used by the fly.toml planner (output), the API (input/output)
 * and the agent. snake_case because this is the wire format.
 *
 * Durations here are Go duration strings as flyctl sends them ("15s"); the API also accepts
 * integer nanoseconds on input, which the API layer converts before anything else sees them.
 */

export interface MachineInit {
  exec?: string[];
  entrypoint?: string[];
  cmd?: string[];
  tty?: boolean;
  swap_size_mb?: number;
  kernel_args?: string[];
}

export interface MachineGuest {
  cpu_kind: string;
  cpus: number;
  memory_mb: number;
  max_memory_mb?: number;
  gpus?: number;
  gpu_kind?: string;
  host_dedication_id?: string;
  kernel_args?: string[];
  persist_rootfs?: string;
}

export interface MachineRestart {
  policy: 'no' | 'always' | 'on-failure';
  max_retries?: number;
}

export interface MachineMount {
  volume?: string;
  path: string;
  name?: string;
  encrypted?: boolean;
  size_gb?: number;
  extend_threshold_percent?: number;
  add_size_gb?: number;
  size_gb_limit?: number;
}

export interface MachineConcurrency {
  type?: 'connections' | 'requests';
  soft_limit?: number;
  hard_limit?: number;
}

export interface MachineHttpOptions {
  compress?: boolean;
  h2_backend?: boolean;
  idle_timeout?: number;
  headers_read_timeout?: number;
  response?: { headers?: Record<string, unknown>; pristine?: boolean };
  replay_cache?: { path_prefix: string; ttl_seconds: number; type: string; name: string; allow_bypass?: boolean }[];
}

export interface MachinePort {
  port?: number;
  start_port?: number;
  end_port?: number;
  handlers?: string[];
  force_https?: boolean;
  tls_options?: { alpn?: string[]; versions?: string[]; default_self_signed?: boolean };
  http_options?: MachineHttpOptions;
  proxy_proto_options?: { version?: string };
}

export interface MachineHeader {
  name: string;
  values: string[];
}

/** A service check (`services[].checks[]`) or a top-level check (`checks.<name>`). */
export interface MachineCheck {
  type?: 'tcp' | 'http';
  port?: number;
  interval?: string;
  timeout?: string;
  grace_period?: string;
  method?: string;
  path?: string;
  protocol?: string;
  tls_skip_verify?: boolean;
  tls_server_name?: string;
  headers?: MachineHeader[];
  /** Top-level checks only: `informational` (default) or `readiness`. */
  kind?: 'informational' | 'readiness';
}

/** `false`/`true` on the wire for off/stop (reference §4), `"suspend"` otherwise. */
export type MachineAutostop = boolean | 'suspend';

export interface MachineService {
  protocol: 'tcp' | 'udp';
  internal_port: number;
  ports?: MachinePort[];
  concurrency?: MachineConcurrency;
  autostop?: MachineAutostop;
  autostart?: boolean;
  min_machines_running?: number;
  checks?: MachineCheck[];
  force_instance_key?: string | null;
  force_instance_description?: string;
}

export interface MachineMetrics {
  port: number;
  path: string;
  https?: boolean;
}

export interface MachineStatic {
  guest_path: string;
  url_prefix: string;
  tigris_bucket?: string;
  index_document?: string;
}

export interface MachineFile {
  guest_path: string;
  /** base64 */
  raw_value?: string;
  secret_name?: string;
  image_config?: string;
  mode?: number;
}

export interface MachineStopConfig {
  signal?: string;
  timeout?: string;
}

export interface MachineDnsConfig {
  skip_registration?: boolean;
  nameservers?: string[];
  searches?: string[];
  options?: { name: string; value?: string }[];
  dns_forward_rules?: { basename: string; addr: string }[];
  hostname?: string;
  hostname_fqdn?: string;
}

export interface MachineProcess {
  exec?: string[];
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  env?: Record<string, string>;
  secrets?: { env_var: string; name: string }[];
  ignore_app_secrets?: boolean;
  env_from?: { env_var: string; field_ref: string }[];
}

export interface MachineRootfs {
  persist?: 'never' | 'restart' | 'always';
  size_gb?: number;
}

export interface MachineConfig {
  image: string;
  env?: Record<string, string>;
  init?: MachineInit;
  guest?: MachineGuest;
  /** Legacy preset name; mutually exclusive with `guest`. */
  size?: string;
  restart?: MachineRestart;
  auto_destroy?: boolean;
  schedule?: string;
  mounts?: MachineMount[];
  services?: MachineService[];
  checks?: Record<string, MachineCheck>;
  metadata?: Record<string, string>;
  files?: MachineFile[];
  processes?: MachineProcess[];
  stop_config?: MachineStopConfig;
  dns?: MachineDnsConfig;
  metrics?: MachineMetrics;
  statics?: MachineStatic[];
  standbys?: string[];
  rootfs?: MachineRootfs;
  disable_machine_autostart?: boolean;
}
