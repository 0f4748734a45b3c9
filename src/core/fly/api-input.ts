/**
 * Lenient input for the Machines API (reference §4): accepts the forms real clients send
 * (fly-go, fly-admin, flyctl) and normalizes them to the canonical wire form that is stored and
 * echoed back: durations as Go strings ("15s", from a string or integer nanoseconds), signals as
 * names ("SIGTERM", from a name or a number), `autostop` as false/true/"suspend", `rootfs.persist`
 * from a string or 0–3, `null` as absent (fly-go sends many unset fields as null). Pure: no I/O.
 */
import { z } from 'zod';
import { formatGoDuration, parseGoDuration } from '../duration.js';
import { DEFAULT_VM_SIZE, presetGuest } from './presets.js';
import type { MachineAutostop, MachineConfig } from './machine-config.js';

export type InputResult<T> = { ok: true; value: T } | { ok: false; error: string };

const MAX_STRING = 64 * 1024;
const str = z.string().max(MAX_STRING);
const strList = z.array(str).max(1024);
const port = z.number().int().min(0).max(65535);
const nonNeg = z.number().int().min(0);

/** Go duration string or integer nanoseconds (fly-go/duration.go) → canonical Go string. */
export const durationInput = z.union([z.string().max(64), z.number().int().min(0)]).transform((v, ctx) => {
  const ns = typeof v === 'number' ? v : parseGoDuration(v);
  if (ns === undefined || ns < 0) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (use a Go duration like "10s" or integer nanoseconds)` });
    return z.NEVER;
  }
  return formatGoDuration(ns);
});

const SIGNAL_NUMBERS: Readonly<Record<number, string>> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 10: 'SIGUSR1', 12: 'SIGUSR2', 15: 'SIGTERM', 19: 'SIGSTOP', 18: 'SIGCONT',
};
const SIGNAL_NAMES = new Set(Object.values(SIGNAL_NUMBERS));

/** The canonical name of a signal given as a name (`SIGTERM`, `term`) or a number (`9`); undefined if unknown. */
export function signalName(v: string | number): string | undefined {
  if (typeof v === 'number') return SIGNAL_NUMBERS[v];
  const up = v.trim().toUpperCase();
  if (/^\d+$/.test(up)) return SIGNAL_NUMBERS[Number(up)];
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  return SIGNAL_NAMES.has(name) ? name : undefined;
}

/** Signal as a name or a number (fly-go's Kill sends int 9) → canonical name. */
export const signalInput = z.union([z.string().max(32), z.number().int()]).transform((v, ctx) => {
  const name = signalName(v);
  if (name === undefined) {
    ctx.addIssue({ code: 'custom', message: `unknown signal ${JSON.stringify(v)}; use one of ${[...SIGNAL_NAMES].join(', ')}` });
    return z.NEVER;
  }
  return name;
});

/** `autostop` as bool or "off"|"stop"|"suspend" → false/true/"suspend" (reference §1a services). */
export const autostopInput = z.union([z.boolean(), z.string().max(32)]).transform((v, ctx): MachineAutostop => {
  if (typeof v === 'boolean') return v;
  if (v === 'off') return false;
  if (v === 'stop') return true;
  if (v === 'suspend') return 'suspend';
  ctx.addIssue({ code: 'custom', message: `invalid autostop string value ${JSON.stringify(v)}` });
  return z.NEVER;
});

/** `rootfs.persist` as a string or fly-go's integers 0–3 → "never"|"restart"|"always", or absent. */
const persistInput = z.union([z.string().max(16), z.number().int()]).transform((v, ctx) => {
  const byNumber = ['', 'never', 'restart', 'always'] as const;
  const s = typeof v === 'number' ? byNumber[v] : v === 'none' ? '' : v;
  if (s === '') return undefined;
  if (s === 'never' || s === 'restart' || s === 'always') return s;
  ctx.addIssue({ code: 'custom', message: `invalid rootfs persist value ${JSON.stringify(v)} (never, restart or always)` });
  return z.NEVER;
});

/** env values: strings, with numbers and booleans coerced (fly.toml files carry integers). */
const envMap = z.record(str, z.union([str, z.number(), z.boolean()]).transform((v) => String(v)));
const stringMap = z.record(str, str);

const headerList = z.union([
  z.array(z.looseObject({ name: str, values: strList })),
  // the fly.toml form, a map of name → value(s), becomes the wire list
  z.record(str, z.union([str, strList])).transform((m) => Object.entries(m).map(([name, v]) => ({ name, values: Array.isArray(v) ? v : [v] }))),
]);

const check = z.looseObject({
  type: z.enum(['tcp', 'http']).optional(),
  port: port.optional(),
  interval: durationInput.optional(),
  timeout: durationInput.optional(),
  grace_period: durationInput.optional(),
  method: str.optional(),
  path: str.optional(),
  protocol: z.enum(['http', 'https']).optional(),
  tls_skip_verify: z.boolean().optional(),
  tls_server_name: str.optional(),
  headers: headerList.optional(),
  kind: z.enum(['informational', 'readiness']).optional(),
});

const portSpec = z.looseObject({
  port: port.optional(),
  start_port: port.optional(),
  end_port: port.optional(),
  handlers: strList.optional(),
  force_https: z.boolean().optional(),
  tls_options: z.looseObject({ alpn: strList.optional(), versions: strList.optional(), default_self_signed: z.boolean().optional() }).optional(),
  http_options: z.looseObject({
    compress: z.boolean().optional(),
    h2_backend: z.boolean().optional(),
    idle_timeout: nonNeg.optional(),
    headers_read_timeout: nonNeg.optional(),
    response: z.looseObject({ headers: z.record(str, z.unknown()).optional(), pristine: z.boolean().optional() }).optional(),
  }).optional(),
  proxy_proto_options: z.looseObject({ version: str.optional() }).optional(),
});

const service = z.looseObject({
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
  internal_port: port,
  ports: z.array(portSpec).max(256).optional(),
  concurrency: z.looseObject({
    type: z.enum(['connections', 'requests']).optional(),
    soft_limit: nonNeg.optional(),
    hard_limit: nonNeg.optional(),
  }).optional(),
  autostop: autostopInput.optional(),
  autostart: z.boolean().optional(),
  min_machines_running: nonNeg.optional(),
  checks: z.array(check).max(64).optional(),
  force_instance_key: str.optional(),
  force_instance_description: str.optional(),
});

const processSpec = z.looseObject({
  exec: strList.optional(),
  entrypoint: strList.optional(),
  cmd: strList.optional(),
  user: str.optional(),
  env: envMap.optional(),
  secrets: z.array(z.looseObject({ env_var: str, name: str })).max(1024).optional(),
  ignore_app_secrets: z.boolean().optional(),
  env_from: z.array(z.looseObject({ env_var: str, field_ref: str })).max(1024).optional(),
});

/**
 * The machine config: every known field typed (reference §1a "Machine config fields"); unknown
 * fields (e.g. `containers`, `cache_drive`) are kept as sent, because Fly's API grows faster
 * than this list.
 */
export const machineConfigInput = z.looseObject({
  image: z.string({ error: 'config.image is required' }).min(1, 'config.image is required').max(1024),
  env: envMap.optional(),
  init: z.looseObject({
    exec: strList.optional(),
    entrypoint: strList.optional(),
    cmd: strList.optional(),
    tty: z.boolean().optional(),
    swap_size_mb: nonNeg.optional(),
    kernel_args: strList.optional(),
  }).optional(),
  guest: z.looseObject({
    cpu_kind: z.enum(['shared', 'performance']).default('shared'),
    cpus: z.number().int().min(1).max(128).default(1),
    memory_mb: z.number().int().min(128).max(1024 * 1024).default(256),
    max_memory_mb: nonNeg.optional(),
    gpus: nonNeg.optional(),
    gpu_kind: str.optional(),
    host_dedication_id: str.optional(),
    kernel_args: strList.optional(),
    persist_rootfs: str.optional(),
  }).optional(),
  size: z.string().max(64).optional(),
  restart: z.looseObject({
    policy: z.enum(['no', 'always', 'on-failure']).optional(),
    max_retries: nonNeg.optional(),
  }).optional(),
  auto_destroy: z.boolean().optional(),
  schedule: z.enum(['hourly', 'daily', 'weekly', 'monthly']).optional(),
  mounts: z.array(z.looseObject({
    volume: str.optional(),
    path: z.string().min(1).max(4096),
    name: str.optional(),
    encrypted: z.boolean().optional(),
    size_gb: nonNeg.optional(),
    extend_threshold_percent: nonNeg.optional(),
    add_size_gb: nonNeg.optional(),
    size_gb_limit: nonNeg.optional(),
  })).max(1, 'a machine can mount at most one volume').optional(),
  services: z.array(service).max(256).optional(),
  checks: z.record(str, check).optional(),
  metadata: stringMap.optional(),
  files: z.array(z.looseObject({
    guest_path: z.string().min(1).max(4096),
    raw_value: str.optional(),
    secret_name: str.optional(),
    image_config: str.optional(),
    mode: nonNeg.optional(),
  })).max(1024).optional(),
  processes: z.array(processSpec).max(64).optional(),
  stop_config: z.looseObject({ signal: signalInput.optional(), timeout: durationInput.optional() }).optional(),
  dns: z.looseObject({
    skip_registration: z.boolean().optional(),
    nameservers: strList.optional(),
    searches: strList.optional(),
    options: z.array(z.looseObject({ name: str, value: str.optional() })).max(64).optional(),
    dns_forward_rules: z.array(z.looseObject({ basename: str, addr: str })).max(64).optional(),
    hostname: str.optional(),
    hostname_fqdn: str.optional(),
  }).optional(),
  metrics: z.looseObject({ port, path: str, https: z.boolean().optional() }).optional(),
  statics: z.array(z.looseObject({ guest_path: str, url_prefix: str, tigris_bucket: str.optional(), index_document: str.optional() })).max(256).optional(),
  standbys: strList.optional(),
  rootfs: z.looseObject({ persist: persistInput.optional(), size_gb: nonNeg.optional() }).optional(),
  disable_machine_autostart: z.boolean().optional(),
});

/** Removes `null` object members recursively (fly-go sends unset fields as null); arrays keep their items. */
export function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== null) out[k] = stripNulls(v);
    }
    return out;
  }
  return value;
}

/** One line per problem: `config.services[0].internal_port: expected number, received string`. */
export function formatIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => {
      let path = prefix;
      for (const seg of issue.path) {
        path += typeof seg === 'number' ? `[${seg}]` : path === '' ? String(seg) : `.${String(seg)}`;
      }
      const msg = issue.message.replace(/^Invalid input: /, '');
      return path === '' ? msg : `${path}: ${msg}`;
    })
    .join('; ');
}

/** true for a plain JSON object (not an array, string, number or null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Validates and normalizes a machine config to its canonical wire form. The legacy `size`
 * preset becomes `guest`; a config with neither gets flyctl's default `shared-cpu-1x`.
 */
export function normalizeMachineConfig(raw: unknown): InputResult<MachineConfig> {
  if (raw === undefined || raw === null) return { ok: false, error: 'config is required (with at least config.image)' };
  if (!isJsonObject(raw)) return { ok: false, error: 'config must be a JSON object' };
  const parsed = machineConfigInput.safeParse(stripNulls(raw));
  if (!parsed.success) return { ok: false, error: formatIssues(parsed.error, 'config') };
  const config = parsed.data as MachineConfig & Record<string, unknown>;
  if (config.size !== undefined && config.guest !== undefined) {
    return { ok: false, error: 'config.size and config.guest are mutually exclusive' };
  }
  if (config.guest === undefined) {
    const preset = presetGuest(config.size ?? DEFAULT_VM_SIZE);
    if (!preset.ok) return { ok: false, error: `config.size: ${preset.error}` };
    config.guest = preset.guest;
    delete config.size;
  }
  for (const [i, svc] of (config.services ?? []).entries()) {
    for (const [j, p] of (svc.ports ?? []).entries()) {
      if (p.port === undefined && (p.start_port === undefined || p.end_port === undefined)) {
        return { ok: false, error: `config.services[${i}].ports[${j}]: needs port or start_port and end_port` };
      }
    }
  }
  return { ok: true, value: config };
}
