/**
 * One `hangar server` per data dir: `<data-dir>/server.lock` holds the owner's pid and the
 * kernel start time of that process. A lock whose process is gone (or whose pid now belongs to
 * a process with another start time, after a kill -9 and pid reuse) is stale and taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readStat } from '../drivers/process/procfs.js';
import { ServerError } from './errors.js';

interface LockContent {
  pid: number;
  /** /proc/<pid>/stat start time; absent where /proc is not available. */
  start_ticks?: number;
  started_at: string;
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

function ownerAlive(lock: LockContent): boolean {
  try {
    process.kill(lock.pid, 0);
  } catch (err) {
    // EPERM: alive but someone else's; ESRCH: gone
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (lock.start_ticks === undefined) return true;
  const st = readStat(lock.pid);
  return st !== undefined && st.startTicks === lock.start_ticks && st.state !== 'Z';
}

function readLock(path: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockContent>;
    return typeof parsed.pid === 'number' ? (parsed as LockContent) : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the data dir's lock or throws HANGAR_ERR_SERVER_LOCKED naming the running server. */
export function acquireLock(dataDir: string): DataDirLock {
  const path = join(dataDir, 'server.lock');
  const st = readStat(process.pid);
  const content: LockContent = { pid: process.pid, ...(st ? { start_ticks: st.startTicks } : {}), started_at: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readLock(path);
      if (holder && ownerAlive(holder)) {
        throw new ServerError('HANGAR_ERR_SERVER_LOCKED', `another hangar server (pid ${holder.pid}, started ${holder.started_at}) is using the data dir ${dataDir}; stop it first or use another --data-dir`);
      }
      // Stale (its server died without cleaning up) or half-written: take it over.
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(content));
    } finally {
      closeSync(fd);
    }
    return {
      path,
      release() {
        // Only our own lock: a stale-lock takeover by another server must not be undone by us.
        if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
      },
    };
  }
  throw new ServerError('HANGAR_ERR_SERVER_LOCKED', `cannot take the lock ${path}: another server keeps replacing it`);
}
