/**
 * `ps` for the process driver: the machine's processes as Fly's ProcessStat (reference §1a,
 * GET /ps), read from /proc.
 */
import type { ProcessStat } from '../types.js';
import {
  PAGE_SIZE,
  bootTime,
  listeningSockets,
  readCmdline,
  readCwd,
  sessionMembers,
  socketInodes,
  ticksToMs,
  type ProcStat,
} from './procfs.js';

/**
 * The processes of the task whose leader is `pid` (session/group id) and started at `startTicks`:
 * members that started before the leader cannot be its descendants, so they are left out (the
 * session id may have been recycled by an unrelated process).
 */
export function taskProcesses(pid: number, startTicks: number): ProcStat[] {
  return sessionMembers(pid).filter((st) => st.startTicks >= startTicks && st.state !== 'Z' && st.state !== 'X');
}

/** ProcessStat for every live process of the task. */
export function processStats(pid: number, startTicks: number, now = Date.now()): ProcessStat[] {
  const members = taskProcesses(pid, startTicks);
  // All members share the host's network namespace: one read of the socket tables is enough.
  const first = members[0];
  const sockets = first ? listeningSockets(first.pid) : [];
  const boot = bootTime();
  return members.map((st) => {
    const inodes = socketInodes(st.pid);
    const started = boot + ticksToMs(st.startTicks);
    const cmd = readCmdline(st.pid);
    return {
      pid: st.pid,
      stime: started,
      rtime: Math.max(0, now - started),
      command: cmd.length > 0 ? cmd.join(' ') : st.comm,
      directory: readCwd(st.pid),
      cpu: ticksToMs(st.utime + st.stime),
      rss: st.rssPages * PAGE_SIZE,
      listen_sockets: sockets.filter((s) => inodes.has(s.inode)).map((s) => ({ proto: s.proto, address: s.address })),
    };
  });
}
