/**
 * The OCI runtime `config.json` of one machine, as a pure function of what the driver resolved
 * (runtime-spec 1.0: https://github.com/opencontainers/runtime-spec/blob/main/config.md).
 *
 * Cgroups are not in it: the driver owns the machine's cgroup (limits, OOM counter, process list)
 * and runs crun with `--cgroup-manager=disabled` inside it (see cgroups.ts), so the same bundle
 * works on v1, v2 and hybrid hosts. runc, which has no such switch, gets `cgroupsPath` pointing
 * below the machine's cgroup so the limits set there still hold.
 */

export interface OciBindMount {
  /** Path inside the machine. */
  readonly destination: string;
  /** Path on the host. */
  readonly source: string;
  readonly readonly?: boolean;
}

export interface OciSpecInput {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids?: readonly number[];
  readonly hostname: string;
  /** The merged (overlay) root directory; the bundle's `rootfs`. */
  readonly rootfs: string;
  /** `/run/netns/hangar-<machine id>`: the network namespace the driver made for the machine. */
  readonly netnsPath: string;
  /** Volumes, then the driver's /etc/hosts, /etc/resolv.conf and /etc/hostname files. */
  readonly binds: readonly OciBindMount[];
  /** RLIMIT_NOFILE for the machine (soft = hard); must not exceed the host's hard limit. */
  readonly nofile: number;
  /** Only for runtimes that must manage cgroups themselves (runc). */
  readonly cgroupsPath?: string;
  /**
   * A FIFO that holds the container at its `createContainer` hook until the driver opens it
   * for writing ({@link gateHook}); unset: the container runs straight through.
   */
  readonly gate?: string;
  /** Capabilities on top of the defaults: a warm container's init (init.ts `INIT_ONLY_CAPABILITIES`), which drops them again. */
  readonly extraCapabilities?: readonly string[];
}

/**
 * How long a container waits at its gate before the runtime gives up on it (s): a driver that
 * died between "go" and opening the gate must not leave a half-made container behind forever.
 */
export const GATE_TIMEOUT_S = 60;

/**
 * The start gate: a `createContainer` hook that opens `gate` (a FIFO) for reading, which blocks
 * until the driver opens it for writing, and exits. The runtime runs that hook in the
 * container's namespaces after its mounts and before `pivot_root` (runtime-spec config.md
 * "createContainer Hooks"), so everything but `pivot_root` and the exec is done while the
 * driver still waits for the network. `/bin/sh` resolves on the host there (the monitor runs
 * it too). The hook first reads its stdin to the end: the runtime writes the container's state
 * there, and a hook that exited before that write (its gate already open) would fail it with
 * EPIPE, which crun reports as "error executing hook (exit code: -33)".
 */
export function gateHook(gate: string): Record<string, unknown> {
  return { path: '/bin/sh', args: ['sh', '-c', 'while read -r _; do :; done; : <"$1"', 'hangar-gate', gate], timeout: GATE_TIMEOUT_S };
}

/** Docker's default capability set: what a root process in an ordinary container may do. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Env as the OCI `KEY=value` list, in a stable order. */
export function envList(env: Readonly<Record<string, string>>): string[] {
  return Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k] ?? ''}`);
}

/** The config.json object for one machine. Pure. */
export function buildOciSpec(input: OciSpecInput): Record<string, unknown> {
  const caps = [...DEFAULT_CAPABILITIES, ...(input.extraCapabilities ?? [])];
  const linux: Record<string, unknown> = {
    namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network', path: input.netnsPath }],
    maskedPaths: MASKED_PATHS,
    readonlyPaths: READONLY_PATHS,
    // Mount events inside the machine must not reach the host (and the monitor's namespace).
    rootfsPropagation: 'rprivate',
  };
  if (input.cgroupsPath !== undefined) linux.cgroupsPath = input.cgroupsPath;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: input.uid, gid: input.gid, ...(input.additionalGids && input.additionalGids.length > 0 ? { additionalGids: [...input.additionalGids] } : {}) },
      args: [...input.args],
      env: envList(input.env),
      cwd: input.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: input.nofile, soft: input.nofile }],
      noNewPrivileges: false,
    },
    root: { path: input.rootfs, readonly: false },
    hostname: input.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      ...input.binds.map((b) => ({ destination: b.destination, type: 'bind', source: b.source, options: ['rbind', b.readonly ? 'ro' : 'rw'] })),
    ],
    linux,
    ...(input.gate === undefined ? {} : { hooks: { createContainer: [gateHook(input.gate)] } }),
  };
}

/**
 * The open-files limit for machines: 1 M like a Fly VM would allow is more than many hosts
 * permit, and crun fails to start a container whose limit exceeds the host's hard limit
 * (raising it needs CAP_SYS_RESOURCE), so take the smaller of the two.
 */
export function nofileLimit(hostHard: number | undefined, wanted = 65_536): number {
  if (hostHard === undefined || !Number.isFinite(hostHard) || hostHard <= 0) return 1024;
  return Math.min(hostHard, wanted);
}

/** The hard "Max open files" of a /proc/<pid>/limits text; undefined for "unlimited" or unreadable. */
export function parseNofileHard(limitsText: string): number | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limitsText);
  if (!m || m[2] === 'unlimited') return m ? Number.MAX_SAFE_INTEGER : undefined;
  const n = Number(m[2]);
  return Number.isFinite(n) ? n : undefined;
}
