/**
 * Machine create, update, read and destroy (reference §1a "Machines", "Create/update request").
 * The API writes the desired side of the record; the host's agent converges and reports back.
 */
import { randomBytes } from 'node:crypto';
import { KINDS, type HostRecord, type MachineVersionRecord, type VolumeRecord } from '../core/model.js';
import type { MachineConfig } from '../core/fly/machine-config.js';
import type { DesiredState } from '../core/machine/types.js';
import { transition } from '../core/machine/state.js';
import { machineJson } from '../core/fly/api-output.js';
import { isStoreConflict, type BatchOp } from '../store/types.js';
import { ApiError, badRequest, precondition, transitionError } from './errors.js';
import { iso, type ControlContext } from './context.js';
import { newMachineId, newMachineName, newUlid } from './ids.js';
import { MACHINE_NAME, REGION, quote } from './names.js';
import { hostStatus, ipReservationId, IP_KIND, pickHost, reserveAddress } from './placement.js';
import { loadVolume } from './volumes.js';
import { parseImageRef } from './image-ref.js';
import { loadMachine, mutateMachine, userEvent, withEvent } from './machine-store.js';
import type { MachineRecord } from '../core/machine/types.js';

export interface CreateMachineInput {
  config: MachineConfig;
  region?: string | undefined;
  name?: string | undefined;
  skip_launch?: boolean | undefined;
  skip_service_registration?: boolean | undefined;
  skip_secrets?: boolean | undefined;
  lease_ttl?: number | undefined;
}

export interface UpdateMachineInput extends CreateMachineInput {
  current_version?: string | undefined;
}

/** The Fly machine JSON of a record, with host_status from its host's heartbeat. */
export async function machineView(ctx: ControlContext, rec: MachineRecord, nonce?: string): Promise<Record<string, unknown>> {
  const host = await ctx.store.get<HostRecord>(KINDS.host, rec.host);
  return machineJson(rec, { hostStatus: hostStatus(host?.value, ctx.now()), ...(nonce === undefined ? {} : { nonce }) });
}

function versionOp(id: string, instanceId: string, config: MachineConfig, nowMs: number): BatchOp {
  const value: MachineVersionRecord = { machine_id: id, instance_id: instanceId, config, created_at: iso(nowMs) };
  return { op: 'put', kind: KINDS.machineVersion, id: `${id}:${instanceId}`, value, expectedVersion: 0, scope: id };
}

/** The volume a config mounts, checked: of this app, in the region, unattached (or attached to `machineId`). */
async function mountedVolume(ctx: ControlContext, app: string, config: MachineConfig, region: string | undefined, machineId: string): Promise<{ vol: VolumeRecord; version: number } | undefined> {
  const mount = config.mounts?.[0];
  if (mount === undefined) return undefined;
  if (mount.volume === undefined || mount.volume === '') throw badRequest('config.mounts[0].volume is required: create a volume first and name its id');
  let found;
  try {
    found = await loadVolume(ctx, app, mount.volume);
  } catch {
    throw badRequest(`config.mounts[0].volume: volume ${quote(mount.volume)} not found in app ${quote(app)}`);
  }
  const { vol } = found;
  if (vol.state !== 'created') throw precondition(`volume ${vol.id} is ${vol.state}, not ready to mount`);
  if (region !== undefined && vol.region !== region) {
    throw badRequest(`config.mounts[0].volume: volume ${vol.id} is in region ${vol.region}, not ${region}`);
  }
  if (vol.attached_machine_id !== null && vol.attached_machine_id !== machineId) {
    throw precondition(`volume ${vol.id} is already attached to machine ${vol.attached_machine_id}`);
  }
  return found;
}

/** Creates a machine: id, name, version, address, host; `desired: started` unless `skip_launch`. */
export async function createMachine(ctx: ControlContext, app: { name: string; org: string; network: string }, input: CreateMachineInput): Promise<Record<string, unknown>> {
  if (input.region !== undefined && !REGION.test(input.region)) throw badRequest(`invalid region ${quote(input.region)}`);
  if (input.name !== undefined && input.name !== '' && !MACHINE_NAME.test(input.name)) {
    throw badRequest(`invalid machine name ${quote(input.name)}: use letters, digits, dashes and underscores (at most 63)`);
  }
  for (let attempt = 0; ; attempt++) {
    const id = newMachineId();
    const mount = await mountedVolume(ctx, app.name, input.config, input.region, id);
    const host = mount !== undefined ? (await ctx.store.get<HostRecord>(KINDS.host, mount.vol.host))?.value : await pickHost(ctx, input.region);
    if (host === undefined) throw precondition(`the host of volume ${mount?.vol.id ?? ''} is no longer registered`);
    const { ip, op: ipOp } = await reserveAddress(ctx, host, app, id);
    const now = ctx.now();
    const instanceId = newUlid();
    const desired: DesiredState = input.skip_launch === true ? 'created' : 'started';
    const lease = input.lease_ttl !== undefined
      ? { nonce: randomBytes(16).toString('hex'), owner: app.org, description: '', expires_at: Math.floor(now / 1000) + input.lease_ttl, version: newUlid() }
      : null;
    const rec: MachineRecord = {
      id,
      name: input.name !== undefined && input.name !== '' ? input.name : newMachineName(),
      app: app.name,
      org: app.org,
      region: host.region,
      host: host.id,
      instance_id: instanceId,
      state: 'created',
      desired,
      generation: 1,
      applied_generation: 0,
      config: input.config,
      private_ip: ip,
      image_ref: parseImageRef(input.config.image),
      events: [userEvent('launch', 'created', now)],
      checks: [],
      cordoned: input.skip_service_registration === true,
      lease,
      restart_count: 0,
      host_status: 'ok',
      created_at: iso(now),
      updated_at: iso(now),
      ...(input.skip_secrets === true ? { skip_secrets: true } : {}),
    };
    const ops: BatchOp[] = [
      { op: 'put', kind: KINDS.machine, id, value: rec, expectedVersion: 0, scope: app.name },
      versionOp(id, instanceId, input.config, now),
      ipOp,
    ];
    if (mount !== undefined) {
      const attached: VolumeRecord = { ...mount.vol, attached_machine_id: id, attached_alloc_id: id };
      ops.push({ op: 'put', kind: KINDS.volume, id: mount.vol.id, value: attached, expectedVersion: mount.version });
    }
    try {
      await ctx.store.apply(ops);
    } catch (err) {
      // a taken address or id, or a volume attached meanwhile: pick again (the volume check re-runs)
      if (isStoreConflict(err) && attempt < 20) continue;
      throw err;
    }
    return machineView(ctx, rec, lease?.nonce);
  }
}

/** Full-config update: a new version (instance_id); the old one stays in `machine_version`. */
export async function updateMachine(ctx: ControlContext, app: string, id: string, input: UpdateMachineInput, nonce: string | undefined): Promise<Record<string, unknown>> {
  const rec = await mutateMachine(ctx, app, id, { leased: true, nonce }, (cur, now) => {
    if (input.region !== undefined && input.region !== '' && input.region !== cur.region) throw badRequest(`region cannot be changed by an update (machine is in ${cur.region})`);
    if (input.name !== undefined && input.name !== '' && input.name !== cur.name) throw badRequest(`name cannot be changed by an update (machine is ${cur.name})`);
    if (input.current_version !== undefined && input.current_version !== '' && input.current_version !== cur.instance_id) {
      throw precondition(`machine version mismatch: current version is ${cur.instance_id}, not ${quote(input.current_version)}`);
    }
    const oldVol = cur.config.mounts?.[0]?.volume;
    const newVol = input.config.mounts?.[0]?.volume;
    if (oldVol !== newVol) throw badRequest('config.mounts cannot be changed by an update; create a new machine for another volume');
    const t = transition(cur, 'update');
    if (!t.ok) throw transitionError(t.http, t.message);
    const desired: DesiredState = input.skip_launch === true ? (cur.desired === 'started' ? 'stopped' : cur.desired) : 'started';
    const instanceId = newUlid();
    const next: MachineRecord = {
      ...cur,
      config: input.config,
      image_ref: parseImageRef(input.config.image),
      instance_id: instanceId,
      state: t.state,
      desired,
      generation: cur.generation + 1,
      restart_count: 0,
      events: withEvent(cur, userEvent('update', 'updating', now)),
      ...(input.skip_service_registration === true ? { cordoned: true } : {}),
    };
    return { rec: next, ops: [versionOp(id, instanceId, input.config, now)], result: next };
  });
  return machineView(ctx, rec);
}

export async function getMachine(ctx: ControlContext, app: string, id: string): Promise<Record<string, unknown>> {
  return machineView(ctx, (await loadMachine(ctx, app, id)).rec);
}

/**
 * Destroy: `kill=true`/`force=true` destroys a running machine too; without, only one at rest
 * (412 otherwise, from `transition`). The address and the volume are released at once.
 */
export async function destroyMachine(ctx: ControlContext, app: string, id: string, force: boolean, nonce: string | undefined): Promise<void> {
  await mutateMachine(ctx, app, id, { leased: true, nonce }, (cur, now) => {
    const t = transition(cur, force ? 'force-destroy' : 'destroy');
    if (!t.ok) throw transitionError(t.http, t.message);
    const next: MachineRecord = {
      ...cur, state: t.state, desired: 'destroyed', generation: cur.generation + 1, lease: null,
      events: withEvent(cur, userEvent('destroy', 'destroying', now, { force })),
    };
    return { rec: next, ops: [{ op: 'delete', kind: IP_KIND, id: ipReservationId(cur.host, cur.private_ip) }], result: undefined };
  });
  await detachVolumes(ctx, app, id);
}

async function detachVolumes(ctx: ControlContext, app: string, machineId: string): Promise<void> {
  for (const ent of await ctx.store.list<VolumeRecord>(KINDS.volume, { scope: app })) {
    if (ent.value.attached_machine_id !== machineId) continue;
    try {
      await ctx.store.put(KINDS.volume, ent.id, { ...ent.value, attached_machine_id: null, attached_alloc_id: null }, { expectedVersion: ent.version });
    } catch (err) {
      if (!isStoreConflict(err)) throw err;
      throw new ApiError('HANGAR_ERR_API_PRECONDITION', `volume ${ent.id} changed while machine ${machineId} was destroyed; it may still show as attached`);
    }
  }
}
