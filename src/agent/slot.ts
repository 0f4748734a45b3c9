/**
 * What the agent knows in memory about one machine of its host. Only the machine's queue job
 * touches a slot's task, so no two operations on one machine interleave.
 */
import type { LogSubscription, TaskHandle } from '../drivers/types.js';

export interface RunningTask {
  readonly handle: TaskHandle;
  /** The machine version this task runs. */
  readonly instanceId: string;
  /** Identifies this run: an exit notice carrying another token is stale and ignored. */
  readonly token: number;
  readonly logs: LogSubscription;
}

export interface Slot {
  readonly id: string;
  app: string;
  region: string;
  task: RunningTask | undefined;
  /** Increments on every attach/detach, invalidating older exit notices. */
  token: number;
  /** true while the agent itself stops the task: its exit is a requested one. */
  stopping: boolean;
  /** true while the task is suspended by the driver (only drivers with the capability). */
  suspended: boolean;
  restartTimer: NodeJS.Timeout | undefined;
  /** `internal_port` → host port of the current or last run. */
  ports: Record<string, number>;
  /** A converge job is queued and has not started yet (dedupes watch bursts). */
  convergeQueued: boolean;
}

export function newSlot(id: string, app: string, region: string): Slot {
  return { id, app, region, task: undefined, token: 0, stopping: false, suspended: false, restartTimer: undefined, ports: {}, convergeQueued: false };
}
