/**
 * Everything a machine needs before `driver.start`: its address, host ports, secrets, volumes,
 * image and environment, gathered from the store and turned into a TaskSpec. The pure parts
 * (env, addresses) live in env.ts and ports.ts; this file does the reads.
 */
import { join } from 'node:path';
import type { SecretBox } from '../control/secrets/crypto.js';
import type { MachineConfig } from '../core/fly/machine-config.js';
import type { ImageRef } from '../core/machine/types.js';
import { KINDS, type SecretRecord, type VolumeRecord } from '../core/model.js';
import { describeAddress, resolverAddress } from '../core/net/sixpn.js';
import type { CrunTaskSpec } from '../drivers/crun/prepare.js';
import type { VolumeMount } from '../drivers/types.js';
import type { StateStore } from '../store/types.js';
import { buildMachineEnv, internalPorts } from './env.js';
import { AgentError } from './errors.js';
import { realpathSync } from 'node:fs';
import type { MachineRecord } from '../core/machine/types.js';

/** Per-machine log files are kept below this size (each of stdout/stderr). */
export const DEFAULT_LOG_MAX_BYTES = 4 * 1024 * 1024;

export interface SpecContext {
  readonly store: StateStore;
  readonly dataDir: string;
  /** Opens the secret box on first use (the key file is only needed once an app has secrets). */
  readonly secretBox: () => SecretBox;
  readonly hostDefaults: Readonly<Record<string, string>>;
  readonly logMaxBytes: number;
  /**
   * Resolves image references for drivers that run OCI images (crun: the host's ImageStore,
   * found locally or pulled). Without it, only `dir:<absolute path>` images run.
   */
  readonly images?: ImageResolver;
  /** Whether the driver mounts volumes inside the machine (crun) or cannot (the process driver). */
  readonly driverMounts?: () => boolean;
}

/** What the image store says about a machine's image. */
export interface ResolvedImage {
  /** `FLY_IMAGE_REF`: the name the image is stored under, else its digest (images/store.ts `flyImageRef`). */
  readonly flyImageRef: string;
  /** The machine object's `image_ref`, with the digest the store verified. */
  readonly imageRef: ImageRef;
}

export type ImageResolver = (ref: string) => Promise<ResolvedImage>;

/**
 * The image a driver runs. Until the image store exists only `dir:<absolute path>` images run;
 * anything else fails the start with a message that says so.
 */
export function resolveImage(image: string): string {
  if (image.startsWith('dir:/')) return image;
  throw new AgentError('HANGAR_ERR_AGENT_IMAGE', `image "${image}" cannot be run yet: this host runs only dir:<absolute path> images (registry images need the image store)`);
}

/** The app's secrets, decrypted (aad `<app>:<NAME>`, see src/control/secrets/crypto.ts). */
export async function loadSecrets(ctx: SpecContext, app: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const rows = await ctx.store.list<SecretRecord>(KINDS.secret, { scope: app });
  if (rows.length === 0) return out;
  const box = ctx.secretBox();
  for (const { value } of rows) {
    try {
      out[value.name] = box.decrypt(`${app}:${value.name}`, value.ciphertext);
    } catch (err) {
      throw new AgentError('HANGAR_ERR_AGENT_SECRET', `cannot decrypt secret ${value.name} of app ${app}: ${(err as Error).message}; was secrets.key replaced?`, { cause: err });
    }
  }
  return out;
}

/** Host paths of the volumes in `config.mounts` (volumes are pinned to this host). */
export async function loadMounts(ctx: SpecContext, config: MachineConfig): Promise<VolumeMount[]> {
  const out: VolumeMount[] = [];
  for (const m of config.mounts ?? []) {
    if (!m.volume) continue;
    const vol = await ctx.store.get<VolumeRecord>(KINDS.volume, m.volume);
    if (!vol || vol.value.state === 'destroyed') throw new AgentError('HANGAR_ERR_AGENT_VOLUME', `volume ${m.volume} mounted at ${m.path} does not exist`);
    out.push({ path: m.path, hostPath: vol.value.host_path });
  }
  return out;
}

export interface SpecInput {
  readonly rec: MachineRecord;
  readonly address: string;
  /** `[internal, host]` port pairs (process driver), else empty. */
  readonly ports: ReadonlyArray<readonly [number, number]>;
}

/** A TaskSpec plus what the agent records about the image it resolved. */
export type BuiltTaskSpec = CrunTaskSpec & { readonly imageRef?: ImageRef };

/**
 * The 6PN facts of a machine's address for the crun driver: `/etc/hosts` `fly-local-6pn` and the
 * network's `::3` resolver in `/etc/resolv.conf` (reference §1d). None for a loopback address.
 */
export function networkInfo(address: string): CrunTaskSpec['network'] {
  const parts = describeAddress(address);
  if (parts === undefined || parts.network === 0) return undefined;
  return { privateIp: address, nameservers: [resolverAddress(parts.network)] };
}

/** The TaskSpec of one machine version. */
export async function buildTaskSpec(ctx: SpecContext, input: SpecInput): Promise<BuiltTaskSpec> {
  const { rec } = input;
  const resolved = ctx.images !== undefined && !rec.config.image.startsWith('dir:') ? await resolveWith(ctx.images, rec.config.image) : undefined;
  const image = resolved !== undefined ? rec.config.image : resolveImage(rec.config.image);
  // a machine created with skip_secrets (reference §1a create body) gets none of the app's secrets
  const [secrets, mounts] = await Promise.all([rec.skip_secrets === true ? {} : loadSecrets(ctx, rec.app), loadMounts(ctx, rec.config)]);
  const env = buildMachineEnv({
    app: rec.app,
    machineId: rec.id,
    instanceId: rec.instance_id,
    region: rec.region,
    privateIp: input.address,
    config: rec.config,
    secrets,
    ports: input.ports,
    hostDefaults: ctx.hostDefaults,
  });
  if (resolved !== undefined) env.FLY_IMAGE_REF = resolved.flyImageRef;
  // Fly gives a machine at most one volume (reference §1a `mounts`). A driver that cannot mount it
  // (the process driver has no mount namespace) leaves it at its host directory, so the app is
  // told where it is: HANGAR_VOLUME_PATH, an absolute path without symlinks, in every driver
  // (inside isolated machines it is the mount path); HANGAR_VOLUME_MOUNT is the path asked for.
  const volume = mounts[0];
  if (volume !== undefined) {
    env.HANGAR_VOLUME_MOUNT = volume.path;
    env.HANGAR_VOLUME_PATH = ctx.driverMounts?.() === true ? volume.path : realpathSync(volume.hostPath);
  }
  const network = networkInfo(input.address);
  return {
    machineId: rec.id,
    instanceId: rec.instance_id,
    appName: rec.app,
    config: rec.config,
    env,
    image,
    mounts,
    stateDir: join(ctx.dataDir, 'machines', rec.id),
    logs: { maxBytes: ctx.logMaxBytes },
    ...(network === undefined ? {} : { network }),
    ...(resolved === undefined ? {} : { imageRef: resolved.imageRef }),
  };
}

async function resolveWith(images: ImageResolver, ref: string): Promise<ResolvedImage> {
  try {
    return await images(ref);
  } catch (err) {
    throw new AgentError('HANGAR_ERR_AGENT_IMAGE', `cannot get image ${ref}: ${(err as Error).message}`, { cause: err });
  }
}

export { internalPorts };
