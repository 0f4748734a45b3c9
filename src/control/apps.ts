/**
 * Apps (reference §1a "Apps"): org-scoped; a name is global (as on Fly, `GET /v1/apps/{name}`
 * answers 403 for an app of another org and 404 for a free name).
 */
import { randomInt } from 'node:crypto';
import { KINDS, type AppRecord, type OrgRecord, type VolumeRecord } from '../core/model.js';
import type { MachineRecord } from '../core/machine/types.js';
import { appJson } from '../core/fly/api-output.js';
import { isStoreConflict, type BatchOp } from '../store/types.js';
import { ApiError, badRequest, forbidden, notFound, precondition } from './errors.js';
import { iso, type AuthContext, type ControlContext } from './context.js';
import { newUlid } from './ids.js';
import { APP_NAME, quote } from './names.js';
import { ensureNetwork } from './networks.js';
import { IP_KIND, ipReservationId } from './placement.js';
import { removeVolumeDir } from './volume-dirs.js';

/** An app record as Hangar stores it: Fly's fields plus the app's secrets version counter. */
export type StoredApp = AppRecord & { secrets_version?: number };

/** The app `name` if the caller may see it: 404 when it does not exist, 403 when it belongs to another org. */
export async function loadApp(ctx: ControlContext, auth: AuthContext, name: string): Promise<{ app: StoredApp; version: number }> {
  if (!APP_NAME.test(name)) throw notFound(`app ${quote(name)} not found`);
  const ent = await ctx.store.get<StoredApp>(KINDS.app, name);
  if (ent === undefined) throw notFound(`app ${quote(name)} not found`);
  if (ent.value.org !== auth.org) throw forbidden(`app ${quote(name)} belongs to another organization`);
  return { app: ent.value, version: ent.version };
}

async function loadOrg(ctx: ControlContext, slug: string): Promise<OrgRecord | undefined> {
  return (await ctx.store.get<OrgRecord>(KINDS.org, slug))?.value;
}

/** The full app object (GET /v1/apps/{app}). */
export async function appView(ctx: ControlContext, app: AppRecord, org?: OrgRecord): Promise<Record<string, unknown>> {
  const [machines, volumes] = await Promise.all([
    ctx.store.count(KINDS.machine, { scope: app.name }),
    ctx.store.count(KINDS.volume, { scope: app.name }),
  ]);
  return appJson(app, org ?? (await loadOrg(ctx, app.org)), { machine_count: machines, volume_count: volumes });
}

export interface CreateAppInput {
  name: string;
  org_slug?: string;
  network?: string;
}

/** Creates an app in the caller's org; 422 `name_taken` when the name exists anywhere. */
export async function createApp(ctx: ControlContext, auth: AuthContext, input: CreateAppInput): Promise<Record<string, unknown>> {
  if (!APP_NAME.test(input.name)) {
    throw badRequest(`invalid app name ${quote(input.name)}: use lowercase letters, digits and dashes (at most 63)`);
  }
  const orgSlug = input.org_slug ?? auth.org;
  if (orgSlug !== auth.org) throw forbidden(`your token is not allowed to create apps in organization ${quote(orgSlug)}`);
  const org = await loadOrg(ctx, orgSlug);
  if (org === undefined) throw notFound(`organization ${quote(orgSlug)} not found`);
  if (input.network !== undefined && input.network !== '' && !APP_NAME.test(input.network)) {
    throw badRequest(`invalid network name ${quote(input.network)}`);
  }
  // the app's 6PN network (reference §1d: custom networks isolate apps); a name of another org's
  // network is refused here, before the app exists
  const network = await ensureNetwork(ctx, orgSlug, input.network || org.network);
  const app: StoredApp = {
    id: newUlid(),
    name: input.name,
    org: orgSlug,
    network: network.name,
    internal_numeric_id: randomInt(1, 2 ** 31),
    status: 'pending',
    created_at: iso(ctx.now()),
    secrets_version: 0,
  };
  try {
    await ctx.store.put(KINDS.app, app.name, app, { expectedVersion: 0, scope: orgSlug });
  } catch (err) {
    if (isStoreConflict(err)) throw new ApiError('HANGAR_ERR_API_NAME_TAKEN', 'Name has already been taken');
    throw err;
  }
  return appView(ctx, app, org);
}

/** Apps of an org, each with its counts (`{total_apps, apps}`). */
export async function listApps(ctx: ControlContext, auth: AuthContext, orgSlug: string | undefined): Promise<Record<string, unknown>> {
  const slug = orgSlug ?? auth.org;
  if (slug !== auth.org) throw forbidden(`your token is not allowed to list apps of organization ${quote(slug)}`);
  const org = await loadOrg(ctx, slug);
  const apps = await ctx.store.list<AppRecord>(KINDS.app, { scope: slug });
  const out = await Promise.all(apps.map((a) => appView(ctx, a.value, org)));
  return { total_apps: out.length, apps: out };
}

const BUSY: ReadonlyArray<MachineRecord['state']> = ['starting', 'started', 'restarting', 'updating', 'stopping', 'suspending', 'replacing'];

/**
 * Deletes an app, its machines (marked destroyed for their agents), its secrets and its volume
 * records. Without `force`, an app that still has a running (or transitioning) machine is refused
 * with 412, as destroying a running machine needs `kill=true` too (Hangar's choice; Fly's docs
 * leave it open). Stopped and created machines are destroyed either way, which is what fly-admin,
 * which never passes force, needs.
 */
export async function deleteApp(ctx: ControlContext, auth: AuthContext, name: string, force: boolean): Promise<void> {
  const { version } = await loadApp(ctx, auth, name);
  const machines = await ctx.store.list<MachineRecord>(KINDS.machine, { scope: name });
  const live = machines.filter((m) => m.value.state !== 'destroyed' && m.value.desired !== 'destroyed');
  const busy = live.filter((m) => BUSY.includes(m.value.state));
  if (!force && busy.length > 0) {
    throw precondition(`app ${quote(name)} has ${busy.length} running machine(s); stop them first or delete with force=true`);
  }
  const ops: BatchOp[] = [{ op: 'delete', kind: KINDS.app, id: name, expectedVersion: version }];
  const now = ctx.now();
  for (const m of live) {
    const rec = m.value;
    ops.push({
      op: 'put', kind: KINDS.machine, id: rec.id, expectedVersion: m.version,
      value: {
        ...rec, desired: 'destroyed', state: rec.state === 'destroyed' ? rec.state : 'destroying', generation: rec.generation + 1, lease: null,
        updated_at: iso(now),
        events: [{ id: newUlid(), type: 'destroy', status: 'destroying', source: 'user', timestamp: now }, ...rec.events].slice(0, 50),
      },
    });
    ops.push({ op: 'delete', kind: IP_KIND, id: ipReservationId(rec.host, rec.private_ip) });
  }
  for (const s of await ctx.store.list(KINDS.secret, { scope: name })) ops.push({ op: 'delete', kind: KINDS.secret, id: s.id });
  const volumes = await ctx.store.list<VolumeRecord>(KINDS.volume, { scope: name });
  for (const v of volumes) ops.push({ op: 'delete', kind: KINDS.volume, id: v.id });
  try {
    await ctx.store.apply(ops);
  } catch (err) {
    if (isStoreConflict(err)) throw new ApiError('HANGAR_ERR_API_PRECONDITION', `app ${quote(name)} changed while it was being deleted; try again`);
    throw err;
  }
  for (const v of volumes) await removeVolumeDir(ctx.dataDir, v.value);
}
