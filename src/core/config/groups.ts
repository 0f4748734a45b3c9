/**
 * Process groups and which fly.toml sections apply to each (flyctl `processgroups.go`:
 * `ProcessNames`, `DefaultProcessName`, `Flatten`, `ComputeForGroup`; reference §1b).
 *
 * - Without `[processes]` the only group is `app`.
 * - The default group is `app` if it exists, else the first name in (byte-wise) sorted order.
 * - A section whose `processes` list is empty applies to the default group only; otherwise to
 *   the groups it names (an empty-string name also means the default group, as in flyctl).
 * - `[[vm]]` is the exception: without `processes` it applies to every group (`ComputeForGroup`).
 * - `[[statics]]` has no `processes` key and flyctl's `Flatten` leaves it alone, so every group
 *   gets every static.
 */
import type { AppConfig, Compute, FileSpec, HttpService, Metrics, Mount, Restart, Service, TopLevelCheck } from './types.js';

/** The group every machine of an app without `[processes]` belongs to. */
export const APP_GROUP = 'app';

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The app's process group names, sorted (flyctl `ProcessNames`). */
export function processGroupNames(config: AppConfig): string[] {
  const names = Object.keys(config.processes);
  return names.length === 0 ? [APP_GROUP] : names.sort(byteOrder);
}

/** `app` if it is a group, else the first group name in sorted order (flyctl `DefaultProcessName`). */
export function defaultGroupName(config: AppConfig): string {
  const names = processGroupNames(config);
  return names.includes(APP_GROUP) ? APP_GROUP : (names[0] ?? APP_GROUP);
}

/** Whether a section with this `processes` list applies to `group` (flyctl `flattenGroupsMatch`). */
export function sectionAppliesTo(processes: readonly string[], group: string, defaultGroup: string): boolean {
  const matches = (name: string): boolean => name === group || (name === '' && group === defaultGroup);
  return processes.length === 0 ? matches('') : processes.some(matches);
}

/**
 * The `[[vm]]` entry that applies to `group`, with its index in `config.vm`, or undefined.
 *
 * flyctl (`ComputeForGroup`) keeps the entries without `processes` plus those that apply to the
 * group, then folds them with "replace the pick when this entry names the group": the pick starts
 * at the first candidate and moves to every later candidate that lists the group by name. So:
 * the LAST entry that names the group wins; if none names it, the FIRST entry without
 * `processes` applies. `[[vm.override]]` entries are ordinary entries with `processes` (their
 * `origin` says where they came from), so an override naming a group beats a global `[[vm]]`,
 * and among several entries naming the same group the last one written wins.
 */
export function computeForGroup(config: AppConfig, group: string): { compute: Compute; index: number } | undefined {
  const defaultGroup = defaultGroupName(config);
  let pick: { compute: Compute; index: number } | undefined;
  config.vm.forEach((compute, index) => {
    const candidate = compute.processes.length === 0 || sectionAppliesTo(compute.processes, group, defaultGroup);
    if (!candidate) return;
    if (pick === undefined || compute.processes.includes(group)) pick = { compute, index };
  });
  return pick;
}

/** A list entry with its index in the original list, so diagnostics can name `files[2]`. */
export interface Indexed<T> {
  item: T;
  index: number;
}

/** The parts of an AppConfig that apply to one process group (flyctl `Flatten`). */
export interface GroupView {
  name: string;
  isDefault: boolean;
  /** The `[processes]` command line; undefined when the app has no entry for the group. */
  command?: string;
  httpService?: HttpService;
  services: Indexed<Service>[];
  /** Top-level checks for the group, in name order. */
  checks: [string, TopLevelCheck][];
  mounts: Indexed<Mount>[];
  files: Indexed<FileSpec>[];
  metrics: Indexed<Metrics>[];
  restart: Indexed<Restart>[];
  vm?: { compute: Compute; index: number };
}

function pickIndexed<T extends { processes: string[] }>(list: readonly T[], applies: (p: string[]) => boolean): Indexed<T>[] {
  const out: Indexed<T>[] = [];
  list.forEach((item, index) => {
    if (applies(item.processes)) out.push({ item, index });
  });
  return out;
}

/** Everything in `config` that applies to `group`. */
export function groupView(config: AppConfig, group: string): GroupView {
  const defaultGroup = defaultGroupName(config);
  const applies = (processes: string[]): boolean => sectionAppliesTo(processes, group, defaultGroup);
  const view: GroupView = {
    name: group,
    isDefault: group === defaultGroup,
    services: pickIndexed(config.services, applies),
    checks: Object.entries(config.checks)
      .filter(([, check]) => applies(check.processes))
      .sort(([a], [b]) => byteOrder(a, b)),
    mounts: pickIndexed(config.mounts, applies),
    files: pickIndexed(config.files, applies),
    metrics: pickIndexed(config.metrics, applies),
    restart: pickIndexed(config.restart, applies),
  };
  if (Object.prototype.hasOwnProperty.call(config.processes, group)) view.command = config.processes[group];
  if (config.http_service && applies(config.http_service.processes)) view.httpService = config.http_service;
  const vm = computeForGroup(config, group);
  if (vm) view.vm = vm;
  return view;
}
