/**
 * Schemas for the sections that expose an app: `[http_service]`, `[[services]]` and their
 * ports, concurrency, TLS/HTTP options and checks, plus top-level `[checks]` and
 * `[[machine_checks]]` (reference §1b). Key order follows `types.ts`, which is also the order
 * `hangar config show` prints.
 */
import {
  autostop,
  bool,
  duration,
  int,
  leaf,
  list,
  oneOf,
  record,
  responseHeader,
  str,
  strList,
  strMap,
  table,
  tableOrList,
} from './decode-fields.js';

export const concurrencySchema = table({
  type: oneOf(['connections', 'requests']).optional(),
  soft_limit: int.optional(),
  hard_limit: int.optional(),
});

export const tlsOptionsSchema = table({
  alpn: strList.optional(),
  versions: strList.optional(),
  default_self_signed: bool.optional(),
});

const replayCacheSchema = table({
  path_prefix: str.default(''),
  ttl_seconds: int.default(0),
  // required: an entry without a valid type is dropped (the missing key drops its entry)
  type: oneOf(['cookie', 'header']),
  name: str.default(''),
  allow_bypass: bool.optional(),
});

export const httpOptionsSchema = table({
  compress: bool.optional(),
  h2_backend: bool.optional(),
  idle_timeout: int.optional(),
  headers_read_timeout: int.optional(),
  response: table({
    headers: record(responseHeader).optional(),
    pristine: bool.optional(),
  }).optional(),
  replay_cache: list(replayCacheSchema).optional(),
});

const portSchema = table({
  port: int.optional(),
  start_port: int.optional(),
  end_port: int.optional(),
  handlers: strList.default(() => []),
  force_https: bool.optional(),
  tls_options: tlsOptionsSchema.optional(),
  http_options: httpOptionsSchema.optional(),
  proxy_proto_options: table({ version: str.optional() }).optional(),
});

const tcpCheckShape = {
  interval: duration.optional(),
  timeout: duration.optional(),
  grace_period: duration.optional(),
};

export const tcpCheckSchema = table(tcpCheckShape);

export const httpCheckSchema = table({
  ...tcpCheckShape,
  method: str.optional(),
  path: str.optional(),
  protocol: str.optional(),
  tls_skip_verify: bool.optional(),
  tls_server_name: str.optional(),
  headers: strMap.default(() => ({})),
});

export const machineCheckSchema = table({
  command: strList.default(() => []),
  image: str.optional(),
  entrypoint: strList.optional(),
  kill_signal: str.optional(),
  kill_timeout: duration.optional(),
});

export const serviceSchema = table({
  // flyctl does not require `protocol`; an unset one is TCP, the only kind an HTTP port can use
  protocol: oneOf(['tcp', 'udp']).default('tcp'),
  internal_port: int.default(0),
  auto_stop_machines: autostop.optional(),
  auto_start_machines: bool.optional(),
  min_machines_running: int.optional(),
  processes: strList.default(() => []),
  concurrency: concurrencySchema.optional(),
  ports: list(portSchema).default(() => []),
  tcp_checks: list(tcpCheckSchema).default(() => []),
  http_checks: list(httpCheckSchema).default(() => []),
  machine_checks: list(machineCheckSchema).default(() => []),
});

export const httpServiceSchema = table({
  // flyctl sends 0 when `internal_port` is absent (reference §1b [http_service])
  internal_port: int.default(0),
  force_https: bool.optional(),
  auto_stop_machines: autostop.optional(),
  auto_start_machines: bool.optional(),
  min_machines_running: int.optional(),
  processes: strList.default(() => []),
  concurrency: concurrencySchema.optional(),
  tls_options: tlsOptionsSchema.optional(),
  http_options: httpOptionsSchema.optional(),
  checks: tableOrList(httpCheckSchema).default(() => []),
  machine_checks: list(machineCheckSchema).default(() => []),
});

/**
 * A check `type` other than "http"/"tcp" is dropped without a message here: the validator
 * reports it in flyctl's words (`Can't process top level check ...`).
 */
const checkType = leaf((v) => (v === 'http' || v === 'tcp' ? v : undefined));

export const topLevelCheckSchema = table({
  type: checkType.optional(),
  port: int.optional(),
  ...tcpCheckShape,
  method: str.optional(),
  path: str.optional(),
  protocol: str.optional(),
  tls_skip_verify: bool.optional(),
  tls_server_name: str.optional(),
  headers: strMap.default(() => ({})),
  processes: strList.default(() => []),
});
