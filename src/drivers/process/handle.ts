/**
 * The process driver's persisted handle. Version 1; a later version adds a parse branch here so
 * an agent upgraded while machines run can still recover them.
 */
import { z } from 'zod';
import { DriverError, type TaskHandle } from '../types.js';

const processHandleSchema = z.strictObject({
  driver: z.literal('process'),
  version: z.literal(1),
  machine_id: z.string(),
  instance_id: z.string(),
  /** The main process; also its process group and session id (spawned with setsid). */
  pid: z.number().int().positive(),
  pgid: z.number().int().positive(),
  /** /proc/<pid>/stat field 22: tells the machine apart from a later process that got the same pid. */
  start_ticks: z.number().int().nonnegative(),
  started_at: z.string(),
  cwd: z.string(),
  state_dir: z.string(),
  /** true when the driver created state_dir, so destroy may remove it. */
  created_state_dir: z.boolean(),
  stdout_path: z.string(),
  stderr_path: z.string(),
  log_max_bytes: z.number().int().positive(),
});

export type ProcessHandle = z.infer<typeof processHandleSchema> & TaskHandle;

/** Validates a handle given back by the agent; throws HANGAR_ERR_DRIVER_HANDLE when it is not ours or malformed. */
export function parseProcessHandle(handle: TaskHandle): ProcessHandle {
  if (handle.driver !== 'process') {
    throw new DriverError('HANGAR_ERR_DRIVER_HANDLE', `handle belongs to driver "${handle.driver}", not "process"`);
  }
  const parsed = processHandleSchema.safeParse(handle);
  if (!parsed.success) {
    throw new DriverError('HANGAR_ERR_DRIVER_HANDLE', `invalid process driver handle: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** The key a task is known by inside one host: pid alone is reused, pid + start time is not. */
export function taskKey(h: { pid: number; start_ticks: number }): string {
  return `${h.pid}:${h.start_ticks}`;
}
