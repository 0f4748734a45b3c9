/**
 * The JSON shapes the client reads and sends: Fly's Machines API (reference §1a) and Hangar's
 * own `/api/v1` routes. Only the fields the CLI uses are typed strictly; everything else a
 * server sends is kept (`--json` prints the objects as received).
 */
import type { MachineConfig } from '../core/fly/machine-config.js';
import type { CheckStatus, ImageRef, MachineEvent, MachineState } from '../core/machine/types.js';
import type { MachineRouting } from '../core/model.js';

/** `GET /v1/apps/{app}` (and, per reference §1a, the body of a create). */
export interface ApiApp {
  id: string;
  name: string;
  status?: string;
  organization?: { name: string; slug: string; internal_numeric_id?: number };
  network?: string;
  machine_count?: number;
  volume_count?: number;
  [key: string]: unknown;
}

/** `GET /v1/apps?org_slug=` */
export interface ApiAppList {
  total_apps?: number;
  apps: ApiApp[];
}

export interface CreateAppRequest {
  app_name: string;
  org_slug?: string;
  network?: string;
}

/** A machine as `GET /v1/apps/{app}/machines/{id}` returns it, plus Hangar's `hangar_routing`. */
export interface ApiMachine {
  id: string;
  name: string;
  state: MachineState;
  region: string;
  instance_id: string;
  private_ip?: string;
  config: MachineConfig;
  image_ref?: Partial<ImageRef>;
  created_at: string;
  updated_at: string;
  events?: MachineEvent[];
  checks?: CheckStatus[];
  cordoned?: boolean;
  host_status?: string;
  nonce?: string;
  /** Hangar-only: where a started machine answers (written by its agent). */
  hangar_routing?: MachineRouting | null;
  [key: string]: unknown;
}

/** Body of machine create and update (reference §1a "Create/update request"). */
export interface MachineRequest {
  config: MachineConfig;
  name?: string;
  region?: string;
  skip_launch?: boolean;
  skip_service_registration?: boolean;
  lease_ttl?: number;
  current_version?: string;
}

export interface StopRequest {
  signal?: string;
  /** A Go duration string, e.g. `10s`. */
  timeout?: string;
}

export interface LeaseData {
  nonce: string;
  expires_at: number;
  owner: string;
  description: string;
  version?: string;
}

export interface ApiLease {
  status: string;
  data: LeaseData;
}

export interface ExecResponse {
  exit_code: number;
  stdout: string;
  stderr: string;
}

export interface MachineVersion {
  user_config: MachineConfig;
  version: string;
}

export interface ApiVolume {
  id: string;
  name: string;
  state: string;
  size_gb: number;
  region: string;
  zone?: string;
  encrypted?: boolean;
  attached_machine_id?: string | null;
  created_at: string;
  [key: string]: unknown;
}

export interface CreateVolumeRequest {
  name: string;
  region?: string;
  size_gb?: number;
  encrypted?: boolean;
}

export interface ExtendVolumeResponse {
  needs_restart: boolean;
  volume: ApiVolume;
}

/** One secret in a listing: never its value (reference §1a "Secrets"). */
export interface ApiSecret {
  name: string;
  digest: string;
  created_at?: string;
  updated_at?: string;
}

export interface SecretsResponse {
  secrets: ApiSecret[];
  version?: number;
}

/** `GET /api/v1/whoami` */
export interface WhoAmI {
  org: string;
  role: string;
  token_name: string;
}

/** `POST /api/v1/tokens` → 201 */
export interface CreatedToken {
  token: string;
  role: string;
  org: string;
}

/** One log line in flyctl's shape (`fly-go/resource_logs.go`). */
export interface LogEntry {
  id: string;
  attributes: {
    timestamp: string;
    message: string;
    level: string;
    instance: string;
    region: string;
    meta?: Record<string, unknown>;
  };
}

/** `GET /api/v1/apps/{app}/logs` */
export interface LogsPage {
  data: LogEntry[];
  meta: { next_token: string };
}
