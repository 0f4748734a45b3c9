/**
 * Serializes test suites that change the host's network (bridges, veths, netns, nftables). A
 * `hangar server` now removes only networking its own data dir proves is its own, but suites
 * that use HostNetwork directly, clean up by hand, or measure (bench/) still must not overlap,
 * and node's runner runs two files in parallel. Each suite holds this lock from `before` to
 * `after`. A lock left by a dead process is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const LOCK = '/tmp/hangar-test-host-network.lock';

function holderAlive(): boolean {
  try {
    const pid = Number(readFileSync(LOCK, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) for the host-network lock; resolves with its release function. */
export async function hostNetworkLock(timeoutMs = 300_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(LOCK, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!holderAlive()) {
        rmSync(LOCK, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${LOCK}`);
      await sleep(200);
    }
  }
}
