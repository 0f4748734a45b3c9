/**
 * `ps` for crun machines (Fly's ProcessStat, reference §1a GET /ps): the processes of the
 * machine's cgroup that live in the container's pid namespace (the monitor and the runtime share
 * the cgroup but not the namespace), read from /proc with host pids.
 */
import { readlinkSync } from 'node:fs';
import type { ProcessStat } from '../types.js';
import { PAGE_SIZE, bootTime, listeningSockets, readCmdline, readCwd, readStat, socketInodes, ticksToMs } from '../process/procfs.js';
import { cgroupPids, type MachineCgroup } from './cgroups.js';

function pidNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Host pids of the machine's own processes (those sharing the pid namespace of its init). */
export function machinePids(cg: MachineCgroup, initPid: number): number[] {
  const ns = pidNamespace(initPid);
  if (ns === undefined) return [];
  return cgroupPids(cg).filter((p) => pidNamespace(p) === ns);
}

export function machineProcessStats(cg: MachineCgroup, initPid: number, now = Date.now()): ProcessStat[] {
  const boot = bootTime();
  // Every process of the machine shares its network namespace: one read of the socket tables.
  const sockets = listeningSockets(initPid);
  const out: ProcessStat[] = [];
  for (const pid of machinePids(cg, initPid)) {
    const st = readStat(pid);
    if (!st || st.state === 'Z' || st.state === 'X') continue;
    const inodes = socketInodes(pid);
    const started = boot + ticksToMs(st.startTicks);
    const cmd = readCmdline(pid);
    out.push({
      pid,
      stime: started,
      rtime: Math.max(0, now - started),
      command: cmd.length > 0 ? cmd.join(' ') : st.comm,
      // The kernel shows the cwd relative to the process's own root, i.e. the path inside the machine.
      directory: readCwd(pid),
      cpu: ticksToMs(st.utime + st.stime),
      rss: st.rssPages * PAGE_SIZE,
      listen_sockets: sockets.filter((s) => inodes.has(s.inode)).map((s) => ({ proto: s.proto, address: s.address })),
    });
  }
  return out;
}
