/**
 * The control plane's data model: which entity kinds live in the StateStore, their records,
 * and the Bus subjects the roles talk over. This is the contract between the API (writes
 * desired state), the host agents (write observed state) and, later, the proxy and DNS
 * (watch and build pure tables). See ARCHITECTURE.md "Data flow".
 *
 * Store kinds (id / scope):
 * - `org`            slug            / —
 * - `app`            app name        / org slug
 * - `machine`        machine id      / app name        (MachineRecord, machine/types.ts)
 * - `machine_version` `<machine id>:<instance_id>` / machine id (config of every version, for /versions)
 * - `volume`         vol_ id         / app name
 * - `secret`         `<app>:<NAME>`  / app name        (value encrypted; never returned by list)
 * - `token`          sha256(token) hex / org slug
 * - `host`           host id         / region          (registered and heart-beaten by its agent)
 * - `task_handle`    machine id      / host id         (the agent's persisted driver handle)
 * - `private_ip`     `<host>/<ip>`   / host id         (address reservation, created with its machine)
 * - `network`        `<org>:<name>`  / org slug        (a 6PN network: its number; see networkId)
 * - `network_number` number          / `6pn`           (reservation of a network number, globally unique)
 * - `host_prefix`    `<number>:<host>` / host id        (the host's /64 in a network; plus `<number>:=<prefix>` reservations)
 */
import type { MachineConfig } from './fly/machine-config.js';

export const KINDS = {
  org: 'org',
  app: 'app',
  machine: 'machine',
  machineVersion: 'machine_version',
  volume: 'volume',
  secret: 'secret',
  token: 'token',
  host: 'host',
  taskHandle: 'task_handle',
  privateIp: 'private_ip',
  network: 'network',
  networkNumber: 'network_number',
  hostPrefix: 'host_prefix',
  /** One record, id `6pn`: this installation's 6PN site number (control/networks.ts). */
  site: 'site',
} as const;

/**
 * The id of org `org`'s network called `name`. Network names are per org (every org has a
 * `default`), so anything that groups by network (the DNS zone, its listeners) uses this id.
 */
export function networkId(org: string, name: string): string {
  return `${org}:${name}`;
}

export interface OrgRecord {
  slug: string;
  name: string;
  /** Numeric id as Fly shows it (`internal_numeric_id`). */
  internal_numeric_id: number;
  /** The org's default 6PN network name. */
  network: string;
  created_at: string;
}

export interface AppRecord {
  id: string;
  name: string;
  org: string;
  /** 6PN network name; an app created with `network` gets its own isolated network. */
  network: string;
  internal_numeric_id: number;
  status: 'pending' | 'deployed' | 'suspended';
  /** Bumped by every secrets change (the `version` of the secrets API). */
  secrets_version?: number;
  created_at: string;
}

/**
 * How a host gives machines their private address:
 * - `loopback`: process driver; each machine gets its own 127.x.y.z address on the host
 *   (apps that bind FLY_PRIVATE_IP or use `.internal` still work in development);
 * - `6pn`: crun/microvm; each machine gets an `fdaa:` address in its own /112 (reference §1d).
 */
export type AddressMode = 'loopback' | '6pn';

export interface HostRecord {
  id: string;
  region: string;
  driver: string;
  address_mode: AddressMode;
  /** For `loopback`: the /16 the host hands out, e.g. `127.77.0.0/16`. For `6pn`: the host /64 prefix. */
  address_range: string;
  /** Unix ms of the agent's last heartbeat; the API reports `host_status: unknown` when stale. */
  heartbeat_at: number;
  capabilities: { suspend: boolean; exec: boolean; isolation: 'none' | 'container' | 'vm' };
  started_at: string;
}

/**
 * Where a started machine can be reached, written by its agent. Not part of Fly's machine
 * object: Hangar's proxy and DNS read it. `ports` maps each service's `internal_port` to the
 * port actually listening (the process driver hands every machine its own `PORT`s because
 * host processes share the host's port space; isolated drivers map a port to itself).
 */
export interface MachineRouting {
  address: string;
  ports: Record<string, number>;
}

export interface VolumeRecord {
  id: string;
  name: string;
  app: string;
  region: string;
  /** Volumes are pinned to the host that holds their data. */
  host: string;
  zone: string;
  state: 'creating' | 'created' | 'extending' | 'pending_destroy' | 'destroyed';
  size_gb: number;
  encrypted: boolean;
  fstype: 'ext4' | 'raw';
  snapshot_retention: number;
  auto_backup_enabled: boolean;
  attached_machine_id: string | null;
  attached_alloc_id: string | null;
  /** Absolute directory holding the volume's data on its host (Hangar-only). */
  host_path: string;
  created_at: string;
}

export interface SecretRecord {
  app: string;
  name: string;
  /** sha256 hex of the value, shown in listings instead of the value. */
  digest: string;
  /** AES-256-GCM ciphertext, base64 `iv.tag.ciphertext`, under the key file in the data dir. */
  ciphertext: string;
  /** The app's secrets version this value was set at. */
  version: number;
  created_at: string;
  updated_at: string;
}

export type TokenRole = 'admin' | 'deploy' | 'readonly';

export interface TokenRecord {
  /** sha256 hex of the token; the token itself is never stored. */
  hash: string;
  org: string;
  role: TokenRole;
  name: string;
  created_at: string;
  expires_at: string | null;
}

export interface MachineVersionRecord {
  machine_id: string;
  instance_id: string;
  config: MachineConfig;
  created_at: string;
}

/**
 * Bus subjects. Imperative requests to a host's agent go over request/reply; logs and events
 * go to durable streams (NATS-style subjects, as Fly uses for logs).
 */
export const SUBJECTS = {
  /** request/reply to the agent on `host`: exec, ps, signal. */
  agent: (host: string, op: 'exec' | 'ps' | 'signal') => `agent.${host}.${op}`,
  /** one log line of a machine; stream `logs`. */
  logs: (app: string, region: string, machine: string) => `logs.${app}.${region}.${machine}`,
} as const;

export const STREAMS = {
  logs: { name: 'logs', subjects: ['logs.>'] },
} as const;
