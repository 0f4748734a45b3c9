/**
 * The machine planner: a normalized AppConfig → one Machines API machine config per process
 * group, plus the release-command machine (reference §1b "Mapping to machine config"; flyctl
 * `appconfig/machines.go: updateMachineConfig, ToReleaseMachineConfig`, `processgroups.go`).
 *
 * Plan as data (STYLE.md habit 1): this never throws and does no I/O. Problems flyctl only finds
 * when it builds machine configs at deploy time become error diagnostics, worded as flyctl's
 * `validateMachineConversion` meant to report them:
 * `Converting to machine in process group '<g>' will fail because of: <err>`.
 * When `diagnostics` holds an error, the configs are incomplete and must not be deployed.
 *
 * Diagnostic codes (all `plan-*`, so `hangar config validate` can tell them from its own):
 * `plan-command`, `plan-check-type`, `plan-check-port`, `plan-vm`, `plan-restart`,
 * `plan-file-unreadable`, `plan-file-not-read` (warning: no reader given), `plan-machine-config`,
 * `plan-release-command`.
 */
import type { AppConfig, Diagnostic } from './types.js';
import type { MachineConfig, MachineFile, MachineGuest, MachineInit, MachineRestart } from '../fly/machine-config.js';
import { shellSplit } from '../shell.js';
import { computeGuest, presetGuest, DEFAULT_VM_SIZE, RELEASE_COMMAND_VM_SIZE } from '../fly/presets.js';
import { groupView, processGroupNames, type GroupView } from './groups.js';
import { expandHttpService, serviceToWire, topLevelCheckToWire } from './plan-services.js';
import {
  baseMachineConfig,
  fileToWire,
  mergeFiles,
  mountToWire,
  restartToWire,
  stopConfig,
  type LocalFileReader,
} from './plan-parts.js';

/** The reserved process group of the release-command machine (reference §1a metadata). */
export const RELEASE_COMMAND_GROUP = 'fly_app_release_command';
/** The platform version flyctl stamps on every machine it creates. */
const PLATFORM_VERSION = 'v2';

export interface PlanOptions {
  /** The image every planned machine runs. */
  image: string;
  /** Stamped as `metadata.fly_flyctl_version` only when given. */
  flyctlVersion?: string;
  /** Reads `[[files]] local_path` and `machine_config` JSON files; the core cannot. */
  readLocalFile?: LocalFileReader;
}

export interface MachinePlan {
  /** One config per process group, keyed by group name in sorted order. */
  groups: Record<string, MachineConfig>;
  /** The release-command machine, when `[deploy] release_command` is set and splits. */
  release_command?: MachineConfig;
  diagnostics: Diagnostic[];
}

/** The fields the planner owns; a `machine_config` base's values for these are replaced. */
const OWNED_FIELDS = ['image', 'env', 'init', 'restart', 'mounts', 'services', 'checks', 'metrics', 'statics', 'files', 'stop_config', 'metadata'] as const;

function sortedRecord<V>(record: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key] as V;
  return out;
}

interface PlanContext {
  config: AppConfig;
  opts: PlanOptions;
  base: Partial<MachineConfig>;
  diagnostics: Diagnostic[];
  /** `[[files]]` index → converted file, so each local file is read (and reported) once. */
  fileCache: Map<number, MachineFile | undefined>;
}

function conversionError(ctx: PlanContext, group: string, code: string, path: string, err: string): void {
  ctx.diagnostics.push({
    severity: 'error',
    code,
    path,
    message: `Converting to machine in process group '${group}' will fail because of: ${err}`,
  });
}

/** `[env]` plus the platform's values, which win over `[env]` entries of the same name. */
function machineEnv(config: AppConfig, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...config.env, ...extra };
  if (config.primary_region) env.PRIMARY_REGION = config.primary_region;
  return sortedRecord(env);
}

function metadata(ctx: PlanContext, group: string, existing: Record<string, string> | undefined): Record<string, string> {
  const meta: Record<string, string> = { ...existing, fly_platform_version: PLATFORM_VERSION, fly_process_group: group };
  if (ctx.opts.flyctlVersion !== undefined) meta.fly_flyctl_version = ctx.opts.flyctlVersion;
  return sortedRecord(meta);
}

function files(ctx: PlanContext, group: string, indexes: number[]): MachineFile[] {
  const out: MachineFile[] = [];
  for (const index of indexes) {
    if (!ctx.fileCache.has(index)) {
      const spec = ctx.config.files[index];
      if (!spec) continue;
      const res = fileToWire(spec, ctx.opts.readLocalFile);
      if (res.ok === true) {
        ctx.fileCache.set(index, res.value);
      } else {
        ctx.fileCache.set(index, undefined);
        const path = `files[${index}].local_path`;
        if (res.ok === 'skipped') {
          ctx.diagnostics.push({
            severity: 'warning',
            code: 'plan-file-not-read',
            path,
            message: `WARN local file ${spec.local_path ?? ''} was not read here; it is left out of the planned machine config`,
          });
        } else {
          conversionError(ctx, group, 'plan-file-unreadable', path, res.error);
        }
      }
    }
    const file = ctx.fileCache.get(index);
    if (file) out.push(file);
  }
  return mergeFiles(out);
}

function guestWithDedication(guest: MachineGuest, config: AppConfig): MachineGuest {
  return config.host_dedication_id ? { ...guest, host_dedication_id: config.host_dedication_id } : guest;
}

/** The group's init: command from `[processes]` (else `[experimental] cmd`), entrypoint/exec from `[experimental]`. */
function groupInit(ctx: PlanContext, view: GroupView): MachineInit {
  const { config } = ctx;
  // flyctl keeps init fields it does not manage (tty, kernel_args) from the base config.
  const init: MachineInit = {};
  if (ctx.base.init?.tty !== undefined) init.tty = ctx.base.init.tty;
  if (ctx.base.init?.kernel_args !== undefined) init.kernel_args = [...ctx.base.init.kernel_args];
  let cmd: string[] | undefined;
  if (view.command) {
    const split = shellSplit(view.command);
    if (split.ok) cmd = split.argv.length > 0 ? split.argv : undefined;
    else conversionError(ctx, view.name, 'plan-command', `processes.${view.name}`, `could not parse command for ${view.name} process group: ${split.error}`);
  }
  const exp = config.experimental;
  if (cmd === undefined && exp?.cmd && exp.cmd.length > 0) cmd = [...exp.cmd];
  if (cmd) init.cmd = cmd;
  if (exp?.entrypoint && exp.entrypoint.length > 0) init.entrypoint = [...exp.entrypoint];
  if (exp?.exec && exp.exec.length > 0) init.exec = [...exp.exec];
  if (config.swap_size_mb !== undefined) init.swap_size_mb = config.swap_size_mb;
  return init;
}

function groupGuest(ctx: PlanContext, view: GroupView): MachineGuest | undefined {
  const { config } = ctx;
  if (view.vm) {
    const res = computeGuest(view.vm.compute, config.host_dedication_id);
    if (res.ok) return res.guest;
    conversionError(ctx, view.name, 'plan-vm', view.vm.compute.origin ?? `vm[${view.vm.index}]`, res.error);
    return undefined;
  }
  // No [[vm]] applies: flyctl keeps the machine's existing guest; a fresh plan starts from the
  // base config's guest or flyctl's default size.
  if (ctx.base.guest) return structuredClone(ctx.base.guest);
  const preset = presetGuest(DEFAULT_VM_SIZE);
  return preset.ok ? guestWithDedication(preset.guest, config) : undefined;
}

function groupRestart(ctx: PlanContext, view: GroupView): MachineRestart | undefined {
  let restart: MachineRestart | undefined;
  for (const { item, index } of view.restart) {
    const res = restartToWire(item);
    if (res.ok) restart = res.value; // the last matching entry wins
    else conversionError(ctx, view.name, 'plan-restart', `restart[${index}].policy`, res.error);
  }
  return restart;
}

function planGroup(ctx: PlanContext, view: GroupView): MachineConfig {
  const { config } = ctx;
  const group = view.name;
  const mc: MachineConfig = { image: ctx.opts.image, env: machineEnv(config, { FLY_PROCESS_GROUP: group }) };

  const init = groupInit(ctx, view);
  if (Object.keys(init).length > 0) mc.init = init;
  const guest = groupGuest(ctx, view);
  if (guest) mc.guest = guest;
  const restart = groupRestart(ctx, view);
  if (restart) mc.restart = restart;

  if (view.mounts.length > 0) mc.mounts = view.mounts.map(({ item }) => mountToWire(item));

  const services = [...(view.httpService ? [expandHttpService(view.httpService)] : []), ...view.services.map(({ item }) => item)];
  if (services.length > 0) mc.services = services.map(serviceToWire);

  const checks: NonNullable<MachineConfig['checks']> = {};
  for (const [name, check] of view.checks) {
    const res = topLevelCheckToWire(name, check, group, view.httpService);
    if (res.ok) checks[name] = res.check;
    else conversionError(ctx, group, check.type === 'http' || check.type === 'tcp' ? 'plan-check-port' : 'plan-check-type', `checks.${name}`, res.error);
  }
  if (Object.keys(checks).length > 0) mc.checks = checks;

  const metrics = view.metrics[0]?.item; // only the group's first [[metrics]] is used
  if (metrics) mc.metrics = { port: metrics.port, path: metrics.path, ...(metrics.https ? { https: true } : {}) };

  if (config.statics.length > 0) {
    mc.statics = config.statics.map((s) => ({
      guest_path: s.guest_path,
      url_prefix: s.url_prefix,
      ...(s.tigris_bucket ? { tigris_bucket: s.tigris_bucket } : {}),
      ...(s.index_document ? { index_document: s.index_document } : {}),
    }));
  }

  const groupFiles = files(ctx, group, view.files.map(({ index }) => index));
  if (groupFiles.length > 0) mc.files = groupFiles;
  const stop = stopConfig(config);
  if (stop) mc.stop_config = stop;
  mc.metadata = metadata(ctx, group, ctx.base.metadata);

  // Everything else a machine_config base sets (dns, processes, rootfs, schedule, ...) is kept.
  const rest: Record<string, unknown> = { ...ctx.base };
  for (const key of [...OWNED_FIELDS, 'guest'] as const) delete rest[key];
  return { ...mc, ...structuredClone(rest) };
}

/**
 * The release-command machine (flyctl `ToReleaseMachineConfig` + deploy's guest inference): the
 * shell-split command, never restarted, destroyed when done, hidden from `.internal` DNS, with
 * `RELEASE_COMMAND=1`. Its guest comes from `release_command_vm`, else the `shared-cpu-2x` flyctl
 * picks for a first deploy. It gets the app's files that are not tied to particular groups.
 */
function planReleaseCommand(ctx: PlanContext, command: string): MachineConfig | undefined {
  const { config } = ctx;
  const group = RELEASE_COMMAND_GROUP;
  const split = shellSplit(command);
  if (!split.ok) {
    conversionError(ctx, group, 'plan-release-command', 'deploy.release_command', split.error);
    return undefined;
  }
  const mc: MachineConfig = {
    image: ctx.opts.image,
    env: machineEnv(config, { RELEASE_COMMAND: '1', FLY_PROCESS_GROUP: group }),
  };
  const init: MachineInit = {};
  if (split.argv.length > 0) init.cmd = split.argv;
  const entrypoint = config.experimental?.entrypoint;
  if (entrypoint && entrypoint.length > 0) init.entrypoint = [...entrypoint];
  if (config.swap_size_mb !== undefined) init.swap_size_mb = config.swap_size_mb;
  if (Object.keys(init).length > 0) mc.init = init;

  const vm = config.deploy?.release_command_vm;
  if (vm) {
    const res = computeGuest(vm, config.host_dedication_id);
    if (res.ok) mc.guest = res.guest;
    else conversionError(ctx, group, 'plan-vm', 'deploy.release_command_vm', res.error);
  } else {
    const preset = presetGuest(RELEASE_COMMAND_VM_SIZE);
    if (preset.ok) mc.guest = guestWithDedication(preset.guest, config);
  }

  mc.restart = { policy: 'no' };
  mc.auto_destroy = true;
  mc.dns = { skip_registration: true };
  const appWide: number[] = [];
  config.files.forEach((f, index) => {
    if (f.processes.length === 0) appWide.push(index);
  });
  const releaseFiles = files(ctx, group, appWide);
  if (releaseFiles.length > 0) mc.files = releaseFiles;
  const stop = stopConfig(config);
  if (stop) mc.stop_config = stop;
  mc.metadata = metadata(ctx, group, undefined);
  return mc;
}

/**
 * Plans the machine config of every process group and of the release command. Pure and total:
 * problems are returned in `diagnostics`, never thrown.
 */
export function planMachineConfigs(config: AppConfig, opts: PlanOptions): MachinePlan {
  const ctx: PlanContext = { config, opts, base: {}, diagnostics: [], fileCache: new Map() };
  const base = baseMachineConfig(config, opts.readLocalFile);
  if (base) {
    if (base.result.ok) ctx.base = base.result.value;
    else ctx.diagnostics.push({ severity: 'error', code: 'plan-machine-config', path: base.path, message: base.result.error });
  }

  const groups: Record<string, MachineConfig> = {};
  for (const name of processGroupNames(config)) groups[name] = planGroup(ctx, groupView(config, name));

  const plan: MachinePlan = { groups, diagnostics: ctx.diagnostics };
  const releaseCommand = config.deploy?.release_command;
  if (releaseCommand) {
    const release = planReleaseCommand(ctx, releaseCommand);
    if (release) plan.release_command = release;
  }
  return plan;
}
