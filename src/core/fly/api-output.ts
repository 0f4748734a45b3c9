/**
 * Strict, Fly-shaped output of the Machines API (reference §1a "Machine object", apps table,
 * "Volume object"; §4 "strict outputs"): records in, wire JSON out. Hangar-only record fields
 * (desired, generation, host, lease internals, ...) never leak; the one exception is the agent's
 * routing, exposed under the clearly Hangar-only key `hangar_routing` for the CLI and tests.
 * Pure: no I/O.
 */
import type { AppRecord, OrgRecord, VolumeRecord } from '../model.js';
import type { MachineRecord } from '../machine/types.js';


export interface MachineJsonOptions {
  /** Overrides the record's host_status (the API derives it from the host's heartbeat). */
  hostStatus?: MachineRecord['host_status'];
  /** Set only in the create response of a machine created with `lease_ttl`. */
  nonce?: string;
}

/** The machine object (reference §1a); `version` = `instance_id`, events newest first. */
export function machineJson(rec: MachineRecord, opts: MachineJsonOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: rec.id,
    name: rec.name,
    state: rec.state,
    region: rec.region,
    instance_id: rec.instance_id,
    version: rec.instance_id,
    private_ip: rec.private_ip,
    config: rec.config,
    incomplete_config: null,
    image_ref: rec.image_ref,
    created_at: rec.created_at,
    updated_at: rec.updated_at,
    events: rec.events,
    checks: rec.checks,
    host_status: opts.hostStatus ?? rec.host_status,
    cordoned: rec.cordoned,
    hangar_routing: rec.routing ?? null,
  };
  if (opts.nonce !== undefined) out['nonce'] = opts.nonce;
  return out;
}

export interface AppCounts {
  machine_count: number;
  volume_count: number;
}

/** The app object as GET /v1/apps/{app} returns it (also used for create and list). */
export function appJson(app: AppRecord, org: OrgRecord | undefined, counts: AppCounts): Record<string, unknown> {
  return {
    id: app.id,
    name: app.name,
    status: app.status,
    organization: { name: org?.name ?? app.org, slug: app.org, internal_numeric_id: org?.internal_numeric_id ?? 0 },
    network: app.network,
    machine_count: counts.machine_count,
    volume_count: counts.volume_count,
    cname_target: '',
    app_role: 'machines',
    internal_numeric_id: app.internal_numeric_id,
    created_at: app.created_at,
  };
}

const BLOCK_SIZE = 4096;

/** The volume object (reference §1a "Volume object"); blocks are derived from `size_gb`. */
export function volumeJson(vol: VolumeRecord, hostStatus: 'ok' | 'unknown' | 'unreachable' = 'ok'): Record<string, unknown> {
  const blocks = Math.floor((vol.size_gb * 1024 ** 3) / BLOCK_SIZE);
  return {
    id: vol.id,
    name: vol.name,
    state: vol.state,
    size_gb: vol.size_gb,
    region: vol.region,
    zone: vol.zone,
    encrypted: vol.encrypted,
    attached_machine_id: vol.attached_machine_id,
    attached_alloc_id: vol.attached_alloc_id,
    created_at: vol.created_at,
    host_dedication_id: '',
    snapshot_retention: vol.snapshot_retention,
    auto_backup_enabled: vol.auto_backup_enabled,
    fstype: vol.fstype,
    blocks,
    block_size: BLOCK_SIZE,
    blocks_free: blocks,
    blocks_avail: blocks,
    host_status: hostStatus,
  };
}
