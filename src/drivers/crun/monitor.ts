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
 * Handshake. The driver hands a monitor its machine once the overlay's upper dir holds the
 * machine's `files[]` (they go into the upper dir, which must happen before the overlay is
 * mounted): the monitor mounts the root at once, while the driver still writes the rest of the
 * bundle and waits for the network; then one line "go" on stdin, once the monitor is in the
 * machine's cgroup, so crun and the container start inside the cgroup. Without a start gate
 * "go" also waits for the network, so the container starts with eth0 configured; with one
 * (a spare's: it made the FIFO ahead, see {@link openGate}) the runtime sets the container up
 * meanwhile and waits at the gate.
 *
 * Every path the monitor needs is derived from the bundle dir (layout: rootfs.ts `layerPaths`,
 * `runtime.log`, `exit`), and it runs the runtime from inside the bundle dir with relative
 * paths: a spare reads its machine from a pipe, and sh reads a pipe one byte per system call
 * (it must not read past a line), so every byte not sent is a system call not made on the start path.
 *
 * The script takes everything as argv or stdin lines (never a shell string, STYLE.md habit 8);
 * the driver writes it into its data dir from this constant, so the build needs no extra file copying.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const MONITOR_SCRIPT = `#!/bin/sh
# Hangar crun monitor, written by the crun driver (src/drivers/crun/monitor.ts). Do not edit.
# usage: monitor.sh run <unmount-or-empty> <bundle> <lowerdir> <runtime argv...>
#        monitor.sh spare <unmount-or-empty> <runtime-or-empty> <read-only copy> <gate-or-empty> <own cgroup dirs...>
#          (the rest on stdin, one a line: bundle, lowerdir, stdout, stderr, runtime argv..., empty line)
#        monitor.sh exec <runtime argv...>
#        monitor.sh netns <netns> <host ip batch> <inside ip batch> <command...>
#        monitor.sh warm <unmount-or-empty> <runtime-or-empty> <read-only copy> <bundle> <lowerdir> <cgroup dirs, a line each> <runtime argv...>
# then "go" on stdin. The runtime runs in the bundle dir; its argv is relative to it.
mode=$1
shift
if [ "$mode" = exec ]; then
  IFS= read -r go || exit 125
  [ "$go" = go ] || exit 125
  exec "$@"
fi
if [ "$mode" = netns ]; then
  # A warm container's netns (warm.ts), made here in the host's mount namespace (where /run/netns
  # must be): the host batch (it creates the netns), then the one inside it; then the command.
  ns=$1 host=$2 inside=$3
  shift 3
  if [ -n "$host" ]; then printf '%s' "$host" | ip -batch - || exit 125; fi
  if [ -n "$inside" ]; then printf '%s' "$inside" | ip -n "$ns" -batch - || exit 125; fi
  exec "$@"
fi
if [ "$mode" = warm ]; then
  # A warm container (warm.ts): set up now, its init (hangar-init) reads the machine from the
  # rest of this stdin once the driver takes it. Not taken (EOF: the agent closed it or died):
  # the init exits, and this removes the bundle and the cgroup, so nothing is left.
  unified=$1 runtime=$2 ro=$3 bundle=$4 lower=$5 cgdirs=$6
  shift 6
  unwanted() {
    cd / || return
    umount "$bundle/rootfs" 2>/dev/null
    rm -rf "$bundle"
    IFS='
'
    for dir in $cgdirs; do echo $$ >"\${dir%/*}/cgroup.procs"; done 2>/dev/null
    for dir in $cgdirs; do rmdir "$dir"; done 2>/dev/null
  }
  if [ -n "$unified" ]; then umount "$unified" || exit 125; fi
  if [ -n "$runtime" ] && ! mount --bind -o ro "$runtime" "$ro" 2>/dev/null; then runtime=; fi
  cd "$bundle" || exit 125
  mkfifo -m 600 status || exit 125
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$bundle/upper,workdir=$bundle/work" "$bundle/rootfs" 2>>runtime.log || exit 125
  if ! IFS= read -r go || [ "$go" != go ]; then
    unwanted
    exit 125
  fi
  if [ "$1" = "$runtime" ]; then
    shift
    set -- "$ro" "$@"
    export _LIBCONTAINER_CLONED_BINARY=1
  fi
  "$@"
  status=$?
  printf '%s\n' "$status" >exit
  # The driver writes "machine" when it takes the container; after that the bundle is the machine's.
  if [ ! -e machine ]; then unwanted; fi
  exit "$status"
fi
# The unmount needs no cgroup and no network: done while the driver still sets up the machine
# (or, for a spare, before there is a machine).
unified=$1
shift
if [ "$mode" = spare ]; then
  if [ -n "$unified" ]; then umount "$unified" || exit 125; fi
  # crun copies itself and runs the copy before anything else (the CVE-2019-5736 guard: a container
  # must not be able to write the runtime through /proc/<pid>/exe), unless its binary is on a
  # read-only mount and _LIBCONTAINER_CLONED_BINARY is set. A read-only bind mount in this
  # namespace gives the same guarantee, made here, before there is a machine, instead of
  # by crun on the start path. Without it (the mount failed) crun copies itself as usual.
  runtime=$1 ro=$2
  if [ -n "$runtime" ] && ! mount --bind -o ro "$runtime" "$ro" 2>/dev/null; then runtime=; fi
  # The start gate's FIFO (oci-spec.ts gateHook), made now so that the start path forks no mkfifo.
  gate=$3
  shift 3
  if [ -n "$gate" ]; then mkfifo -m 600 "$gate" || exit 125; fi
  if ! IFS= read -r bundle; then
    # The agent went away before it needed this spare: leave the spare's cgroup and remove it.
    for dir in "$@"; do echo $$ >"\${dir%/*}/cgroup.procs"; done 2>/dev/null
    rmdir "$@" 2>/dev/null
    if [ -n "$gate" ]; then rm -f "$gate"; fi
    exit 125
  fi
  IFS= read -r lower && IFS= read -r out && IFS= read -r err || exit 125
  set --
  while IFS= read -r arg && [ -n "$arg" ]; do set -- "$@" "$arg"; done
  [ $# -gt 0 ] || exit 125
  if [ "$1" = "$runtime" ]; then
    shift
    set -- "$ro" "$@"
    export _LIBCONTAINER_CLONED_BINARY=1
  fi
  exec >>"$out" 2>>"$err"
else
  bundle=$1 lower=$2
  shift 2
  if [ -n "$unified" ]; then umount "$unified" 2>>"$bundle/runtime.log" || exit 125; fi
fi
cd "$bundle" || exit 125
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$bundle/upper,workdir=$bundle/work" "$bundle/rootfs" 2>>runtime.log || exit 125
IFS= read -r go || exit 125
[ "$go" = go ] || exit 125
"$@" </dev/null
status=$?
# Read only after this process is gone, so a plain write is enough.
printf '%s\\n' "$status" >exit
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
  /** The cgroup2 mount to unmount first (hybrid hosts), or ''. */
  readonly unmount: string;
  /** The bundle dir: upper/work/rootfs, runtime.log and the exit file are in it (runtime.ts `runArgv`). */
  readonly bundle: string;
  /** The overlay's lower dir: the image's unpacked rootfs. */
  readonly lower: string;
  /** The runtime's argv, its paths relative to the bundle dir. */
  readonly runtimeArgv: readonly string[];
}

/** What a spare monitor (spares.ts) is told on stdin: the per-machine part of a {@link MonitorRun}. */
export type MonitorParams = Omit<MonitorRun, 'script' | 'unmount'>;

/** Where a machine's start gate (oci-spec.ts `gateHook`) is, when its monitor brought one. */
export function gateFileOf(bundle: string): string {
  return join(bundle, 'gate');
}

/** Where the monitor records the runtime's exit status. */
export function exitFileOf(bundle: string): string {
  return join(bundle, 'exit');
}

/**
 * Characters that would break overlayfs' comma-separated mount options or its ':'-separated
 * lowerdir list. Paths are the driver's own; this guards against an odd data dir.
 */
export function overlayPathProblem(path: string): string | undefined {
  return /[,:\\\n]/.test(path) ? `${path} contains a character overlayfs mount options cannot carry (, : \\ or newline)` : undefined;
}

/** The argv that starts a monitor in its own mount namespace. Pure. */
export function monitorArgv(run: MonitorRun): string[] {
  return ['-m', '--propagation', 'slave', '--', '/bin/sh', run.script, 'run', run.unmount, run.bundle, run.lower, ...run.runtimeArgv];
}

/**
 * Spawns `unshare … monitor.sh run …` detached, with the machine's log files as stdout/stderr
 * (crun passes them on to the container). `unshare` execs the script in the same process, so
 * the returned child's pid is the monitor's. It mounts the root at once: call it only once the
 * upper dir holds the machine's files. The caller moves it into the cgroup, then calls `go`.
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

/** Releases a monitor waiting in its handshake: it may now start the runtime. */
export function go(child: ChildProcess, stdin = ''): void {
  child.stdin?.on('error', () => {});
  child.stdin?.end(`go\n${stdin}`);
}

/**
 * Opens a container's start gate (oci-spec.ts `gateHook`) for writing and closes it again: the
 * hook, blocked opening it for reading, returns, and the runtime goes on to `pivot_root` and the
 * exec. When the runtime has not reached its hook yet, this waits for it, or for the monitor's
 * exit (a runtime that failed before its hook never opens the gate). true: the gate was passed.
 */
export async function openGate(gate: string, monitorExited: Promise<unknown>): Promise<boolean> {
  try {
    closeSync(openSync(gate, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (err) {
    // ENXIO: no reader yet. Anything else (the FIFO is gone) is the caller's error.
    if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
  }
  // The hook opens its end once the runtime reaches it.
  const fh = await openFifoUnlessExited(gate, 'write', monitorExited);
  await fh?.close();
  return fh !== undefined;
}

/**
 * Opens one end of a FIFO that a process of the machine's monitor opens the other end of: a
 * blocking open on libuv's thread pool, which returns once the other end is opened. undefined
 * when the monitor exits first: nobody will open the other end, so an end of our own lets the
 * pending open return, and no thread stays blocked.
 */
export async function openFifoUnlessExited(fifo: string, end: 'read' | 'write', monitorExited: Promise<unknown>): Promise<FileHandle | undefined> {
  const pending = open(fifo, end === 'read' ? constants.O_RDONLY : constants.O_WRONLY);
  const opened = await Promise.race([pending.then(() => true), monitorExited.then(() => false)]);
  if (opened) return pending;
  const other = openSync(fifo, (end === 'read' ? constants.O_WRONLY : constants.O_RDONLY) | constants.O_NONBLOCK);
  try {
    await (await pending).close();
  } finally {
    closeSync(other);
  }
  return undefined;
}

/** The exit status the monitor recorded; undefined when it recorded none (it was killed, or failed before crun ran). */
export function readExitFile(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const n = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}
