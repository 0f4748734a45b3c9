/**
 * Volumes (reference §1a "Volume object"): a directory `<data-dir>/volumes/<vol id>` pinned to
 * the host chosen at create, attached to at most one machine (through `config.mounts`).
 */
import { createHash } from 'node:crypto';
import { KINDS, type HostRecord, type VolumeRecord } from '../core/model.js';
import { volumeJson } from '../core/fly/api-output.js';
import type { MachineRecord } from '../core/machine/types.js';
import { badRequest, notFound, precondition } from './errors.js';
import { iso, type AuthContext, type ControlContext } from './context.js';
import { newVolumeId } from './ids.js';
import { VOLUME_ID, VOLUME_NAME, quote } from './names.js';
import { hostStatus, pickHost } from './placement.js';
import { createVolumeDir, removeVolumeDir } from './volume-dirs.js';
import { loadApp } from './apps.js';

export interface CreateVolumeInput {
  name: string;
  region?: string;
  size_gb: number;
  encrypted: boolean;
  snapshot_retention: number;
  auto_backup_enabled: boolean;
  fstype: 'ext4' | 'raw';
}

/** The volume `id` of `app`, or 404. */
export async function loadVolume(ctx: ControlContext, app: string, id: string): Promise<{ vol: VolumeRecord; version: number }> {
  if (!VOLUME_ID.test(id)) throw notFound(`volume not found: ${quote(id)}`);
  const ent = await ctx.store.get<VolumeRecord>(KINDS.volume, id);
  if (ent === undefined || ent.value.app !== app) throw notFound(`volume not found: ${quote(id)}`);
  return { vol: ent.value, version: ent.version };
}

async function view(ctx: ControlContext, vol: VolumeRecord): Promise<Record<string, unknown>> {
  const host = await ctx.store.get<HostRecord>(KINDS.host, vol.host);
  return volumeJson(vol, hostStatus(host?.value, ctx.now()));
}

/** A short zone name derived from the host (Fly shows 4-hex zones like `7b9f`). */
function zoneOf(hostId: string): string {
  return createHash('sha256').update(hostId).digest('hex').slice(0, 4);
}

export async function createVolume(ctx: ControlContext, auth: AuthContext, appName: string, input: CreateVolumeInput): Promise<Record<string, unknown>> {
  await loadApp(ctx, auth, appName);
  if (!VOLUME_NAME.test(input.name)) {
    throw badRequest(`invalid volume name ${quote(input.name)}: use lowercase letters, digits and underscores (at most 30)`);
  }
  const host = await pickHost(ctx, input.region);
  const id = newVolumeId();
  const dir = await createVolumeDir(ctx.dataDir, id);
  const vol: VolumeRecord = {
    id,
    name: input.name,
    app: appName,
    region: host.region,
    host: host.id,
    zone: zoneOf(host.id),
    state: 'created',
    size_gb: input.size_gb,
    encrypted: input.encrypted,
    fstype: input.fstype,
    snapshot_retention: input.snapshot_retention,
    auto_backup_enabled: input.auto_backup_enabled,
    attached_machine_id: null,
    attached_alloc_id: null,
    host_path: dir,
    created_at: iso(ctx.now()),
  };
  try {
    await ctx.store.put(KINDS.volume, id, vol, { expectedVersion: 0, scope: appName });
  } catch (err) {
    await removeVolumeDir(ctx.dataDir, vol);
    throw err;
  }
  return view(ctx, vol);
}

export async function listVolumes(ctx: ControlContext, auth: AuthContext, appName: string): Promise<Array<Record<string, unknown>>> {
  await loadApp(ctx, auth, appName);
  const vols = await ctx.store.list<VolumeRecord>(KINDS.volume, { scope: appName });
  return Promise.all(vols.map((v) => view(ctx, v.value)));
}

export async function getVolume(ctx: ControlContext, auth: AuthContext, appName: string, id: string): Promise<Record<string, unknown>> {
  await loadApp(ctx, auth, appName);
  return view(ctx, (await loadVolume(ctx, appName, id)).vol);
}

export async function updateVolume(
  ctx: ControlContext, auth: AuthContext, appName: string, id: string,
  input: { snapshot_retention?: number; auto_backup_enabled?: boolean },
): Promise<Record<string, unknown>> {
  await loadApp(ctx, auth, appName);
  const { vol, version } = await loadVolume(ctx, appName, id);
  const next: VolumeRecord = {
    ...vol,
    ...(input.snapshot_retention !== undefined ? { snapshot_retention: input.snapshot_retention } : {}),
    ...(input.auto_backup_enabled !== undefined ? { auto_backup_enabled: input.auto_backup_enabled } : {}),
  };
  await ctx.store.put(KINDS.volume, id, next, { expectedVersion: version });
  return view(ctx, next);
}

/** true when the volume's machine still exists and is not destroyed (a destroyed one released it). */
async function attachedToLiveMachine(ctx: ControlContext, vol: VolumeRecord): Promise<boolean> {
  if (vol.attached_machine_id === null) return false;
  const m = await ctx.store.get<MachineRecord>(KINDS.machine, vol.attached_machine_id);
  return m !== undefined && m.value.state !== 'destroyed' && m.value.desired !== 'destroyed';
}

/** Deletes the volume and its data; refused (412) while a machine has it attached. */
export async function deleteVolume(ctx: ControlContext, auth: AuthContext, appName: string, id: string): Promise<Record<string, unknown>> {
  await loadApp(ctx, auth, appName);
  const { vol, version } = await loadVolume(ctx, appName, id);
  if (await attachedToLiveMachine(ctx, vol)) {
    throw precondition(`volume ${quote(id)} is attached to machine ${vol.attached_machine_id ?? ''}; destroy the machine first`);
  }
  await ctx.store.delete(KINDS.volume, id, { expectedVersion: version });
  await removeVolumeDir(ctx.dataDir, vol);
  return volumeJson({ ...vol, state: 'destroyed', attached_machine_id: null, attached_alloc_id: null }, 'ok');
}

/** Grows a volume (a directory has no fixed size, so no restart is needed); shrinking is refused. */
export async function extendVolume(ctx: ControlContext, auth: AuthContext, appName: string, id: string, sizeGb: number): Promise<Record<string, unknown>> {
  await loadApp(ctx, auth, appName);
  const { vol, version } = await loadVolume(ctx, appName, id);
  if (sizeGb <= vol.size_gb) {
    throw badRequest(`size_gb must be greater than the current size (${vol.size_gb} GB); volumes cannot shrink`);
  }
  const next: VolumeRecord = { ...vol, size_gb: sizeGb };
  await ctx.store.put(KINDS.volume, id, next, { expectedVersion: version });
  return { needs_restart: false, volume: await view(ctx, next) };
}
