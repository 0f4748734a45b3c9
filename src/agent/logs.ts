/**
 * Machine log lines → the Bus stream `logs`, subject `logs.<app>.<region>.<machine>` (as Fly's
 * NATS log subjects, reference §1a "What flyctl needs beyond flaps"). The message shape is what
 * `fly logs` shows per line.
 */
import type { Bus } from '../bus/types.js';
import { STREAMS, SUBJECTS } from '../core/model.js';
import type { LogSubscription, RuntimeDriver, TaskHandle } from '../drivers/types.js';

export interface LogMessage {
  timestamp: string;
  message: string;
  level: 'info';
  instance: string;
  region: string;
  stream: 'stdout' | 'stderr';
}

/** Retention of the embedded log stream: bounded so a chatty machine cannot exhaust memory. */
export const LOG_STREAM_CONFIG = { ...STREAMS.logs, subjects: [...STREAMS.logs.subjects], maxMessages: 100_000, maxBytes: 64 * 1024 * 1024, maxAgeMs: 24 * 3600_000 };

export interface LogTarget {
  readonly app: string;
  readonly region: string;
  readonly machineId: string;
}

/**
 * Follows a task's logs and publishes every line; returns the subscription to close when the
 * task is gone. Publishing errors (a closed bus at shutdown) are reported, never thrown.
 */
export function forwardLogs(driver: RuntimeDriver, bus: Bus, handle: TaskHandle, target: LogTarget, onError: (err: unknown) => void): LogSubscription {
  const subject = SUBJECTS.logs(target.app, target.region, target.machineId);
  return driver.logs(handle, {
    // Everything the driver still keeps: after a server restart the embedded bus is empty, so
    // the kept lines are republished rather than lost (a durable bus would see them twice).
    from: 'start',
    onLine: (line) => {
      const msg: LogMessage = { timestamp: line.ts, message: line.line, level: 'info', instance: target.machineId, region: target.region, stream: line.stream };
      bus.publish(subject, msg).catch(onError);
    },
  });
}
