/**
 * The smaller pieces of a planned machine config: files, mounts, stop config, restart policy
 * and the optional base config from `machine_config` (reference §1b "Mapping to machine config";
 * flyctl `machines.go`, `config.go: toMachineFile`). Pure: file contents come in through a reader.
 */
import type { AppConfig, FileSpec, Mount, Restart } from './types.js';
import type { MachineConfig, MachineFile, MachineMount, MachineRestart, MachineStopConfig } from '../fly/machine-config.js';
import { parseSizeGb } from '../units.js';

/** Reads a `[[files]] local_path` or a `machine_config` JSON file; undefined when it cannot. */
export type LocalFileReader = (path: string) => string | Uint8Array | undefined;

export type PartResult<T> = { ok: true; value: T } | { ok: false; error: string };

function base64(content: string | Uint8Array): string {
  return (typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content)).toString('base64');
}

/**
 * One `[[files]]` entry → the API's file (flyctl `toMachineFile`): `local_path` wins, then
 * `secret_name`, then `raw_value`; contents are sent base64-encoded. `reader` undefined means
 * "no file access here" (e.g. validation) and is reported by the caller, not as a read failure.
 */
export function fileToWire(file: FileSpec, reader: LocalFileReader | undefined): PartResult<MachineFile> | { ok: 'skipped' } {
  const out: MachineFile = { guest_path: file.guest_path };
  if (file.local_path) {
    if (!reader) return { ok: 'skipped' };
    const content = reader(file.local_path);
    if (content === undefined) return { ok: false, error: `could not read file ${file.local_path}` };
    out.raw_value = base64(content);
  } else if (file.secret_name) {
    out.secret_name = file.secret_name;
  } else if (file.raw_value) {
    out.raw_value = base64(file.raw_value);
  }
  return { ok: true, value: out };
}

/** Files keyed by guest path, a later entry replacing an earlier one in place (fly-go `MergeFiles`). */
export function mergeFiles(files: MachineFile[]): MachineFile[] {
  const out: MachineFile[] = [];
  for (const f of files) {
    const at = out.findIndex((g) => g.guest_path === f.guest_path);
    if (at >= 0) out[at] = f;
    else out.push(f);
  }
  return out;
}

/**
 * `[[mounts]]` → `mounts[]`: the volume is picked at deploy time, so only its name and path plus
 * the auto-extend settings (GB numbers) go in. Unreadable sizes are left out: validation reports
 * them (flyctl ignores the parse error here for the same reason).
 */
export function mountToWire(mount: Mount): MachineMount {
  const out: MachineMount = { name: mount.source, path: mount.destination };
  if (mount.auto_extend_size_threshold) out.extend_threshold_percent = mount.auto_extend_size_threshold;
  const add = mount.auto_extend_size_increment ? parseSizeGb(mount.auto_extend_size_increment) : undefined;
  if (add) out.add_size_gb = add;
  const limit = mount.auto_extend_size_limit ? parseSizeGb(mount.auto_extend_size_limit) : undefined;
  if (limit) out.size_gb_limit = limit;
  return out;
}

/** `kill_signal`/`kill_timeout` → `stop_config`; none when neither is set (the platform's SIGINT/5s apply). */
export function stopConfig(config: AppConfig): MachineStopConfig | undefined {
  if (config.kill_signal === undefined && config.kill_timeout === undefined) return undefined;
  const out: MachineStopConfig = {};
  if (config.kill_signal !== undefined) out.signal = config.kill_signal;
  if (config.kill_timeout !== undefined) out.timeout = config.kill_timeout;
  return out;
}

/** A `[[restart]]` entry → `restart` (`never` is the API's `no`; `retries` → `max_retries`). */
export function restartToWire(restart: Restart): PartResult<MachineRestart> {
  const policy = restart.policy as string;
  let wire: MachineRestart['policy'];
  if (policy === 'never') wire = 'no';
  else if (policy === 'always' || policy === 'on-failure') wire = policy;
  else return { ok: false, error: `invalid restart policy: ${policy}` };
  const out: MachineRestart = { policy: wire };
  if (restart.retries) out.max_retries = restart.retries;
  return { ok: true, value: out };
}

/**
 * The base machine config from `[experimental] machine_config` (else top-level `machine_config`):
 * inline JSON starting with `{`, or a path ending in `.json` (flyctl `updateMachineConfig`).
 * Returns the key path it came from for diagnostics.
 */
export function baseMachineConfig(
  config: AppConfig,
  reader: LocalFileReader | undefined,
): { path: string; result: PartResult<Partial<MachineConfig>> } | undefined {
  const fromExperimental = config.experimental?.machine_config;
  const source = fromExperimental || config.machine_config;
  if (!source) return undefined;
  const path = fromExperimental ? 'experimental.machine_config' : 'machine_config';
  let text: string;
  if (source.startsWith('{')) {
    text = source;
  } else if (source.endsWith('.json')) {
    const content = reader?.(source);
    if (content === undefined) return { path, result: { ok: false, error: `could not read machine config file ${source}` } };
    text = typeof content === 'string' ? content : Buffer.from(content).toString('utf8');
  } else {
    return { path, result: { ok: false, error: `invalid machine config source: ${JSON.stringify(source)}` } };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { path, result: { ok: false, error: `invalid machine config ${JSON.stringify(source)}: not a JSON object` } };
    }
    return { path, result: { ok: true, value: parsed as Partial<MachineConfig> } };
  } catch (err) {
    return { path, result: { ok: false, error: `invalid machine config ${JSON.stringify(source)}: ${(err as Error).message}` } };
  }
}
