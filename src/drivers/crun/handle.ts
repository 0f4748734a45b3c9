/**
 * The crun driver's persisted handle (version 1) and the names of what the driver creates.
 * Everything a restarted agent needs to re-attach, signal, inspect and clean up is in it, so
 * recovery never depends on re-detecting the host.
 */
import { z } from 'zod';
import { DriverError, type TaskHandle } from '../types.js';

const cgroupDirs = z.strictObject({ memory: z.string().optional(), pids: z.string().optional(), cpu: z.string().optional() });

const crunHandleSchema = z.strictObject({
  driver: z.literal('crun'),
  version: z.literal(1),
  machine_id: z.string(),
  instance_id: z.string(),
  /** `hangar-<machine id>-<instance suffix>`: the OCI container id, also the cgroup and bundle name. */
  container_id: z.string().regex(/^hangar-[a-z0-9-]+$/),
  /** The OCI runtime binary that runs it (crun, or runc as fallback). */
  runtime: z.string(),
  runtime_root: z.string(),
  bundle: z.string(),
  /** The container's init process, as seen from the host, and its start time (pid reuse guard). */
  pid: z.number().int().positive(),
  start_ticks: z.number().int().nonnegative(),
  /** The monitor (`unshare` → sh → `crun run`) that waits for the container and records its status. */
  monitor_pid: z.number().int().positive(),
  monitor_start_ticks: z.number().int().nonnegative(),
  started_at: z.string(),
  cgroup: z.strictObject({ dirs: cgroupDirs, oomFile: z.string().optional() }),
  netns: z.string().regex(/^hangar-[a-z0-9-]+$/),
  state_dir: z.string(),
  created_state_dir: z.boolean(),
  stdout_path: z.string(),
  stderr_path: z.string(),
  log_max_bytes: z.number().int().positive(),
});

export type CrunHandle = z.infer<typeof crunHandleSchema> & TaskHandle;

/** Validates a handle given back by the agent; throws HANGAR_ERR_DRIVER_HANDLE when it is not ours or malformed. */
export function parseCrunHandle(handle: TaskHandle): CrunHandle {
  if (handle.driver !== 'crun') throw new DriverError('HANGAR_ERR_DRIVER_HANDLE', `handle belongs to driver "${handle.driver}", not "crun"`);
  const parsed = crunHandleSchema.safeParse(handle);
  if (!parsed.success) {
    throw new DriverError('HANGAR_ERR_DRIVER_HANDLE', `invalid crun driver handle: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** A name part safe for container ids, netns names and paths: lower-case alphanumerics and '-'. */
function safePart(s: string, what: string): string {
  const v = s.toLowerCase();
  if (!/^[a-z0-9][a-z0-9-]*$/.test(v) || v.length > 64) {
    throw new DriverError('HANGAR_ERR_DRIVER_START', `${what} ${JSON.stringify(s)} cannot name a container (letters, digits and '-' only)`);
  }
  return v;
}

/** The OCI container id of a machine version: `hangar-<machine id>-<last 10 chars of the instance id>`. Pure. */
export function containerId(machineId: string, instanceId: string): string {
  return `hangar-${safePart(machineId, 'machine id')}-${safePart(instanceId, 'instance id').slice(-10)}`;
}

/** The network namespace name of a machine (`ip netns` compatible). Pure. */
export function netnsName(machineId: string): string {
  return `hangar-${safePart(machineId, 'machine id')}`;
}
