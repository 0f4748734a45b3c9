/**
 * The per-machine monitor: the one process that owns a running container (STYLE.md habit 2).
 *
 * `crun run` in the foreground is the container's parent and exits with its status; the monitor
 * (a POSIX sh script, so starting it costs a millisecond, not a Node start) runs it and writes the
 * status to the bundle, so an agent that restarted meanwhile still learns the exit code. It is
 * spawned detached (own session, files for stdio), so it and the machine outlive the agent.
 *
 * It runs under `unshare -m --propagation slave`: a private mount namespace in which
 *  - on a hybrid host the cgroup2 mount is unmounted (crun refuses hybrid hosts otherwise), and
 *  - the overlay root is mounted, so it exists only for the machine's lifetime and never shows
 *    in (or leaks from) the host's mount table. `slave` (not `private`) so that host unmounts,
 *    e.g. `ip netns delete` of another machine, still reach this namespace and free that netns.
 *
 * Handshake, two lines on stdin. The driver spawns the monitor first thing in a start, so that
 * its move into the machine's cgroup (which waits for an RCU grace period, see cgroups.ts
 * `enterCgroupAsync`) and its unmount overlap the bundle writing and the network setup. "mount"
 * comes once the bundle is written (files[] go into the upper dir, which must happen before the
 * overlay is mounted); "go" once the monitor is in the cgroup and the machine's network is ready,
 * so crun and the container start inside the cgroup and with eth0 configured.
 *
 * The script takes everything as argv (never a shell string, STYLE.md habit 8); the driver
 * writes it into its data dir from this constant, so the build needs no extra file copying.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const MONITOR_SCRIPT = `#!/bin/sh
# Hangar crun monitor, written by the crun driver (src/drivers/crun/monitor.ts). Do not edit.
# usage: monitor.sh run <log> <exit-file> <unmount-or-empty> <lowerdir> <upperdir> <workdir> <rootfs> <runtime argv...>
#        monitor.sh spare <unmount-or-empty> <own cgroup dirs...>   (the rest on stdin, one a line: log, exit file,
#          stdout, stderr, lowerdir, upperdir, workdir, rootfs, runtime argv..., empty line)
#        monitor.sh exec <runtime argv...>
mode=$1
shift
if [ "$mode" = exec ]; then
  IFS= read -r go || exit 125
  [ "$go" = go ] || exit 125
  exec "$@"
fi
# The mounts need no cgroup and no network: done while the driver still sets up the machine's
# network (or, for a spare, before there is a machine); the overlay only once the driver says
# the bundle is written.
if [ "$mode" = spare ]; then
  unified=$1
  shift
  if [ -n "$unified" ]; then umount "$unified" || exit 125; fi
  if ! IFS= read -r log; then
    # The agent went away before it needed this spare: leave the spare's cgroup and remove it.
    for dir in "$@"; do echo $$ >"\${dir%/*}/cgroup.procs"; done 2>/dev/null
    rmdir "$@" 2>/dev/null
    exit 125
  fi
  IFS= read -r exit_file && IFS= read -r out && IFS= read -r err || exit 125
  IFS= read -r lower && IFS= read -r upper && IFS= read -r work && IFS= read -r rootfs || exit 125
  set --
  while IFS= read -r arg && [ -n "$arg" ]; do set -- "$@" "$arg"; done
  [ $# -gt 0 ] || exit 125
  exec >>"$out" 2>>"$err"
else
  log=$1 exit_file=$2 unified=$3 lower=$4 upper=$5 work=$6 rootfs=$7
  shift 7
  if [ -n "$unified" ]; then umount "$unified" 2>>"$log" || exit 125; fi
fi
IFS= read -r step || exit 125
[ "$step" = mount ] || exit 125
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$rootfs" 2>>"$log" || exit 125
IFS= read -r go || exit 125
[ "$go" = go ] || exit 125
"$@" </dev/null
status=$?
# Read only after this process is gone, so a plain write is enough.
printf '%s\\n' "$status" >"$exit_file"
exit "$status"
`;

/** Writes the monitor script to `path` unless it is already there with this content. */
export function installMonitor(path: string): void {
  try {
    if (readFileSync(path, 'utf8') === MONITOR_SCRIPT) return;
  } catch {
    // missing: write it
  }
  mkdirSync(dirname(path), { recursive: true });
  // A new file renamed into place: sh reads a script as it goes, so monitors of running machines
  // (started by an older Hangar) keep reading their own copy instead of a file changed under them.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, MONITOR_SCRIPT, { mode: 0o755 });
  renameSync(tmp, path);
}

export interface MonitorRun {
  readonly script: string;
  readonly log: string;
  readonly exitFile: string;
  /** The cgroup2 mount to unmount first (hybrid hosts), or ''. */
  readonly unmount: string;
  readonly lower: string;
  readonly upper: string;
  readonly work: string;
  readonly rootfs: string;
  readonly runtimeArgv: readonly string[];
}

/** What a spare monitor (spares.ts) is told on stdin: the per-machine part of a {@link MonitorRun}. */
export type MonitorParams = Omit<MonitorRun, 'script' | 'unmount'>;

/**
 * Characters that would break overlayfs' comma-separated mount options or its ':'-separated
 * lowerdir list. Paths are the driver's own; this guards against an odd data dir.
 */
export function overlayPathProblem(path: string): string | undefined {
  return /[,:\\\n]/.test(path) ? `${path} contains a character overlayfs mount options cannot carry (, : \\ or newline)` : undefined;
}

/** The argv that starts a monitor in its own mount namespace. Pure. */
export function monitorArgv(run: MonitorRun): string[] {
  return ['-m', '--propagation', 'slave', '--', '/bin/sh', run.script, 'run', run.log, run.exitFile, run.unmount, run.lower, run.upper, run.work, run.rootfs, ...run.runtimeArgv];
}

/**
 * Spawns `unshare … monitor.sh run …` detached, with the machine's log files as stdout/stderr
 * (crun passes them on to the container). `unshare` execs the script in the same process, so
 * the returned child's pid is the monitor's. The caller moves it into the cgroup, then calls `go`.
 */
export function spawnMonitor(run: MonitorRun, stdoutPath: string, stderrPath: string): ChildProcess {
  // O_APPEND: the driver may truncate the files under the machine (log bounding) and writes still land at the end.
  const out = openSync(stdoutPath, 'a');
  const err = openSync(stderrPath, 'a');
  try {
    return spawn('unshare', monitorArgv(run), { detached: true, stdio: ['pipe', out, err], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

/** Tells a `run` monitor that the bundle is written: it may mount the overlay root. */
export function mountNow(child: ChildProcess): void {
  child.stdin?.on('error', () => {});
  child.stdin?.write('mount\n');
}

/** Releases a monitor waiting in its handshake: it may now start the runtime. */
export function go(child: ChildProcess, stdin = ''): void {
  child.stdin?.on('error', () => {});
  child.stdin?.end(`go\n${stdin}`);
}

/** The exit status the monitor recorded; undefined when it recorded none (it was killed, or failed before crun ran). */
export function readExitFile(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const n = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}
