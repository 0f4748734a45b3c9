/**
 * Reading processes from Linux's /proc (proc(5)). Everything here is synchronous and small:
 * one file per call, used by the process driver for liveness, ps and PID-reuse protection.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** USER_HZ: the unit of /proc times. Fixed at 100 by the Linux ABI on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;

export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  /** R, S, D, Z (zombie), T (stopped), ... */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
  /** user / system CPU time, clock ticks */
  readonly utime: number;
  readonly stime: number;
  /** Start time in clock ticks since boot (field 22): with the pid it identifies a process uniquely. */
  readonly startTicks: number;
  /** Resident set size, pages. */
  readonly rssPages: number;
  /** waitpid(2)-style status, only meaningful for a zombie (field 52, Linux ≥ 3.5). */
  readonly exitStatus?: number;
}

/** Parses the text of /proc/<pid>/stat. The comm field may contain spaces and ')' so split after the last ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // rest[0] is field 3 (state): field N is rest[N - 3].
  const rest = text.slice(close + 2).trim().split(' ');
  const field = (n: number): number => Number(rest[n - 3] ?? NaN);
  const exitField = rest[52 - 3];
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid: field(4),
    pgrp: field(5),
    session: field(6),
    utime: field(14),
    stime: field(15),
    startTicks: field(22),
    rssPages: field(24),
    ...(exitField === undefined ? {} : { exitStatus: Number(exitField) }),
  };
}

/** /proc/<pid>/stat, or undefined when there is no such process (or it cannot be read). */
export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

let bootTimeMs: number | undefined;
/** The boot time (`btime` of /proc/stat), unix ms. */
export function bootTime(): number {
  if (bootTimeMs === undefined) {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    bootTimeMs = m ? Number(m[1]) * 1000 : 0;
  }
  return bootTimeMs;
}

export function ticksToMs(ticks: number): number {
  return Math.round((ticks * 1000) / CLOCK_TICKS_PER_SECOND);
}

/** Every process whose session id is `sid` (a detached child is the leader of its own session). */
export function sessionMembers(sid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st && (st.session === sid || st.pgrp === sid)) out.push(st);
  }
  return out;
}

export function readCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s, i, a) => s !== '' || i < a.length - 1);
  } catch {
    return [];
  }
}

export function readCwd(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}

/** The environment a process was started with (/proc/<pid>/environ). */
export function readEnviron(pid: number): Record<string, string> | undefined {
  try {
    const env: Record<string, string> = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return undefined;
  }
}

/** The socket inodes a process holds open (from the `socket:[inode]` links in /proc/<pid>/fd). */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // the fd closed while we looked
    }
  }
  return inodes;
}

export interface ListeningSocket {
  readonly proto: 'tcp' | 'udp';
  readonly address: string;
  readonly inode: string;
}

/** TCP sockets in LISTEN (0A) and bound UDP sockets (07 = unconnected) of the network namespace of `pid`. */
export function listeningSockets(pid: number): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  const tables: [string, 'tcp' | 'udp', string, boolean][] = [
    ['tcp', 'tcp', '0A', false],
    ['tcp6', 'tcp', '0A', true],
    ['udp', 'udp', '07', false],
    ['udp6', 'udp', '07', true],
  ];
  for (const [file, proto, listenState, v6] of tables) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      const local = cols[1];
      const inode = cols[9];
      if (!local || !inode || cols[3] !== listenState) continue;
      out.push({ proto, address: formatAddress(local, v6), inode });
    }
  }
  return out;
}

/**
 * Formats a /proc/net address (`0100007F:1F90`): the IP is hex in host byte order, 32 bits at a
 * time (little-endian on every host we run on), the port is big-endian hex.
 */
export function formatAddress(hex: string, v6: boolean): string {
  const [ipHex = '', portHex = '0'] = hex.split(':');
  const port = parseInt(portHex, 16);
  const bytes: number[] = [];
  for (let w = 0; w < ipHex.length; w += 8) {
    const word = ipHex.slice(w, w + 8);
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(word.slice(b, b + 2), 16));
  }
  if (!v6) return `${bytes.join('.')}:${port}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return `[${compressV6(groups)}]:${port}`;
}

function compressV6(groups: string[]): string {
  // Replace the longest run of zero groups with '::' (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export { CLOCK_TICKS_PER_SECOND, PAGE_SIZE };
