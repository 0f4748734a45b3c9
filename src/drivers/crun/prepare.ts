/**
 * Everything before the container starts: resolving the image through the ImageStore, merging
 * its config with the machine's, the overlay layers, files[], the /etc files and config.json.
 * File work only (no processes), so the start path stays lean.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageStore } from '../../images/store.js';
import { mergeImageConfig, type ImageRunConfig } from '../../images/config.js';
import { DriverError, type TaskSpec } from '../types.js';
import { hostnameFile, hostsFile, resolvConf } from './etc.js';
import { overlayPathProblem } from './monitor.js';
import { buildOciSpec, envList, type OciBindMount } from './oci-spec.js';
import { keepsRootfs, prepareLayers, resolveUser, writeMachineFiles } from './rootfs.js';

/** Networking facts the agent adds to a TaskSpec for the crun driver (all optional). */
export interface CrunNetworkInfo {
  /** The machine's 6PN address (for /etc/hosts `fly-local-6pn`). */
  readonly privateIp?: string;
  /** Resolvers for /etc/resolv.conf: the network's `::3` address. Default `fdaa::3`. */
  readonly nameservers?: readonly string[];
}

/** A TaskSpec with the crun driver's optional extras. */
export interface CrunTaskSpec extends TaskSpec {
  readonly network?: CrunNetworkInfo;
}

export interface ResolvedImage {
  /** The read-only unpacked rootfs: the overlay's lower dir. */
  readonly lower: string;
  readonly config: ImageRunConfig | null;
}

/**
 * `dir:<absolute path>` is a ready rootfs directory (no image config); anything else is an image
 * reference for the ImageStore (found locally, else pulled).
 */
export async function resolveImage(image: string, store: () => Promise<ImageStore>): Promise<ResolvedImage> {
  if (image.startsWith('dir:')) {
    const dir = image.slice(4);
    if (!dir.startsWith('/') || !existsSync(dir)) throw new DriverError('HANGAR_ERR_DRIVER_START', `image directory ${dir} does not exist or is not absolute`);
    return { lower: dir, config: null };
  }
  try {
    const images = await store();
    const record = (await images.find(image)) ?? (await images.ensure(image));
    const lower = await images.rootfs(record);
    const cfg = await images.config(record);
    return { lower, config: cfg.config ?? null };
  } catch (err) {
    if (err instanceof DriverError) throw err;
    throw new DriverError('HANGAR_ERR_DRIVER_START', `cannot get image ${image}: ${(err as Error).message}`, { cause: err });
  }
}

export interface BundleInput {
  readonly spec: CrunTaskSpec;
  readonly image: ResolvedImage;
  readonly bundle: string;
  readonly netnsPath: string;
  readonly nofile: number;
  readonly cgroupsPath?: string;
  /** The start gate's FIFO (oci-spec.ts `gateHook`), when the monitor has one. */
  readonly gate?: string;
}

export interface Bundle {
  readonly dir: string;
  readonly upper: string;
  readonly work: string;
  readonly rootfs: string;
  readonly lower: string;
}

/**
 * The first half of a bundle, everything the overlay mount needs: the path checks, the layer
 * dirs, and `files[]` in the upper dir (the mount comes
 * next, in the monitor's namespace, where the driver cannot write through it).
 */
export function prepareRootfs(input: Pick<BundleInput, 'spec' | 'image' | 'bundle'>): Bundle {
  const { spec, image, bundle } = input;
  for (const p of [bundle, image.lower]) {
    const problem = overlayPathProblem(p);
    if (problem) throw new DriverError('HANGAR_ERR_DRIVER_START', problem);
  }
  mkdirSync(bundle, { recursive: true, mode: 0o700 });
  const layers = prepareLayers(bundle, keepsRootfs(spec.config.rootfs?.persist));
  writeMachineFiles({ upper: layers.upper, lower: image.lower }, spec.config.files ?? []);
  return { dir: bundle, upper: layers.upper, work: layers.work, rootfs: layers.rootfs, lower: image.lower };
}

/** What {@link writeBundle} put in config.json's process: a warm container's init applies the same (warm.ts). */
export interface MachineProcessSpec {
  readonly argv: readonly string[];
  /** `KEY=value`, as in config.json. */
  readonly env: readonly string[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly hostname: string;
}

/** The second half (after {@link prepareRootfs}): /etc files and config.json. */
export function writeBundle(input: BundleInput, layers: Pick<Bundle, 'upper' | 'rootfs' | 'lower'>): MachineProcessSpec {
  const { spec, bundle } = input;
  const proc = machineProcess(input);
  const both = { upper: layers.upper, lower: layers.lower };
  const user = resolveUser(both, proc.user);

  const hostname = spec.config.dns?.hostname || spec.machineId;
  const etcInput = {
    hostname,
    ...(spec.network?.privateIp ? { privateIp: spec.network.privateIp } : {}),
    ...(spec.network?.nameservers ? { nameservers: spec.network.nameservers } : {}),
    ...(spec.config.dns ? { dns: spec.config.dns } : {}),
  };
  const etcDir = join(bundle, 'etc');
  mkdirSync(etcDir, { recursive: true });
  const etc: [string, string][] = [
    ['hosts', hostsFile(etcInput)],
    ['resolv.conf', resolvConf(etcInput)],
    ['hostname', hostnameFile(etcInput)],
  ];
  for (const [name, text] of etc) writeFileSync(join(etcDir, name), text, { mode: 0o644 });

  const binds: OciBindMount[] = [
    ...spec.mounts.map((m) => ({ destination: m.path, source: m.hostPath })),
    ...etc.map(([name]) => ({ destination: `/etc/${name}`, source: join(etcDir, name) })),
  ];
  const oci = buildOciSpec({
    args: proc.argv,
    env: proc.env,
    cwd: proc.workingDir,
    uid: user.uid,
    gid: user.gid,
    hostname,
    rootfs: layers.rootfs,
    netnsPath: input.netnsPath,
    binds,
    nofile: input.nofile,
    ...(input.cgroupsPath === undefined ? {} : { cgroupsPath: input.cgroupsPath }),
    ...(input.gate === undefined ? {} : { gate: input.gate }),
  });
  // 0600: the environment holds the machine's secrets.
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(oci, null, 1), { mode: 0o600 });
  return { argv: proc.argv, env: envList(proc.env), cwd: proc.workingDir, uid: user.uid, gid: user.gid, hostname };
}

/** The process the machine runs: the image config merged with the machine's `init` and env. */
function machineProcess(input: Pick<BundleInput, 'spec' | 'image'>): ReturnType<typeof mergeImageConfig> {
  const { spec, image } = input;
  const proc = mergeImageConfig(image.config, { ...(spec.config.init ? { init: spec.config.init } : {}), env: { ...spec.env } });
  if (proc.argv.length === 0 || proc.argv[0] === '') {
    throw new DriverError('HANGAR_ERR_DRIVER_START', 'the machine has no command: set init.exec, or init.entrypoint/init.cmd, or use an image with an Entrypoint/Cmd');
  }
  return proc;
}
