/**
 * The machine as Hangar stores it, and the Fly shapes derived from it (reference §1a
 * "Machine object", "Machine states").
 *
 * One record per machine, kind `machine`, scope = app name. The API writes the *desired* side
 * (`desired`, `generation`, `config`, `cordoned`, `lease`); the host agent that owns
 * `host` writes the *observed* side (`state` once settled, `events`, `checks`, `private_ip`).
 * Both sides write with compare-and-set, so a lost race is retried, never overwritten.
 */
import type { MachineConfig } from '../fly/machine-config.js';
import type { MachineRouting } from '../model.js';

/** Fly's machine states (reference §1a "Machine states"). */
export type MachineState =
  | 'created'
  | 'starting'
  | 'started'
  | 'stopping'
  | 'stopped'
  | 'suspending'
  | 'suspended'
  | 'restarting'
  | 'updating'
  | 'replacing'
  | 'destroying'
  | 'destroyed'
  | 'failed'
  | 'launch_failed'
  | 'replaced'
  | 'migrated';

/** What the agent converges a machine to. */
export type DesiredState = 'created' | 'started' | 'stopped' | 'suspended' | 'destroyed';

export const PERSISTENT_STATES: readonly MachineState[] = ['created', 'started', 'stopped', 'suspended', 'failed'];
export const TERMINAL_STATES: readonly MachineState[] = ['destroyed', 'replaced', 'migrated'];

/** `exit_event` inside a machine event's `request` (reference §1a). */
export interface ExitEvent {
  exit_code: number;
  guest_exit_code?: number;
  guest_signal?: number;
  oom_killed: boolean;
  requested_stop: boolean;
  restarting: boolean;
  signal: number;
  exited_at: string;
}

export interface MachineEvent {
  /** ULID, so `from_event_id` comparisons are by order. */
  id: string;
  type: 'launch' | 'start' | 'stop' | 'exit' | 'restart' | 'update' | 'destroy' | 'suspend' | 'cordon' | 'uncordon';
  status: string;
  source: 'user' | 'flyd';
  /** Unix milliseconds. */
  timestamp: number;
  request?: {
    exit_event?: ExitEvent;
    MonitorEvent?: { exit_event?: ExitEvent };
    restart_count?: number;
    [key: string]: unknown;
  };
}

export interface CheckStatus {
  name: string;
  status: 'passing' | 'warning' | 'critical';
  output: string;
  updated_at: string;
}

export interface Lease {
  nonce: string;
  owner: string;
  description: string;
  /** Unix seconds. */
  expires_at: number;
  version: string;
}

export interface ImageRef {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  labels: Record<string, string>;
}

export interface MachineRecord {
  id: string;
  name: string;
  app: string;
  org: string;
  region: string;
  /** The host (agent) the machine is placed on. */
  host: string;
  /** The current version (ULID); bumped by every update. */
  instance_id: string;
  state: MachineState;
  desired: DesiredState;
  /**
   * Bumped on every request that needs the agent to act even when `desired` does not change
   * (restart, update): the agent acts when `generation` > the generation it last applied.
   */
  generation: number;
  /** The generation the agent last applied (written by the agent). */
  applied_generation: number;
  config: MachineConfig;
  private_ip: string;
  image_ref: ImageRef;
  /** Newest first, bounded (reference §1a: clients take the first match). */
  events: MachineEvent[];
  checks: CheckStatus[];
  cordoned: boolean;
  lease: Lease | null;
  /** Restarts by the restart policy since the last user start. */
  restart_count: number;
  host_status: 'ok' | 'unknown' | 'unreachable';
  /** Created with `skip_secrets`: the agent injects none of the app's secrets. */
  skip_secrets?: boolean;
  /** Where the started machine answers (written by its agent; null when not running). Hangar-only. */
  routing?: MachineRouting | null;
  created_at: string;
  updated_at: string;
}
