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
  const caps = [...DEFAULT_CAPABILITIES];
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
