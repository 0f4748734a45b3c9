/**
 * The driver's side of `hangar-init` (init/hangar-init.c), the first process of a warm container
 * (warm.ts): where its binary is, the spec it is sent on stdin, and the outcome it reports on
 * its status FIFO. The C file's header documents the protocol; this file and it change together.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openFifoUnlessExited } from './monitor.js';

/** Where the container sees the init binary and its status FIFO (bind mounts it removes before the exec). */
export const INIT_PATH = '/dev/hangar-init';
export const STATUS_PATH = '/dev/hangar-status';

/**
 * Capabilities only the init holds: CAP_SYS_ADMIN, for sethostname and unmounting its helper
 * mounts, and CAP_NET_ADMIN, for configuring eth0. The init drops them from every set before the exec, so the machine gets exactly what
 * a cold start gives it (oci-spec.ts DEFAULT_CAPABILITIES). Numbers from linux/capability.h.
 */
export const INIT_ONLY_CAPABILITIES: ReadonlyArray<readonly [string, number]> = [
  ['CAP_SYS_ADMIN', 21],
  ['CAP_NET_ADMIN', 12],
];

/**
 * The init binary built with the package (`npm run build` compiles init/hangar-init.c next to
 * this module), or undefined where it was not built (no C compiler): then there are no warm
 * containers and every start is a cold one.
 */
export function initBinary(): string | undefined {
  const path = fileURLToPath(new URL('./hangar-init', import.meta.url));
  return existsSync(path) ? path : undefined;
}

export interface InitSpec {
  readonly hostname: string;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly cwd: string;
  readonly argv: readonly string[];
  /** `KEY=value` entries. */
  readonly env: readonly string[];
  /** The machine's `files[]`: written into the root before the exec (rootfs.ts `writeMachineFiles` for a cold start). */
  readonly files?: readonly InitFile[];
  /** What `eth0` gets (src/net/pool-plan.ts `memberEth0`); unset: the init leaves the network alone. */
  readonly eth0?: InitEth0;
}

export interface InitFile {
  /** Absolute, inside the machine. */
  readonly path: string;
  readonly mode: number;
  /** The content, base64 (as `raw_value` carries it). */
  readonly base64: string;
}

export interface InitEth0 {
  readonly mac: string;
  readonly alias: string;
  /** A /64 address, added without duplicate address detection. */
  readonly address: string;
  /** The default route's gateway. */
  readonly gateway: string;
}

/** The stdin bytes of hangar-init: `key NUL value NUL` records ending with `end`. Pure. */
export function encodeInitSpec(spec: InitSpec): Buffer {
  const records: Array<[string, string]> = [
    ['v', '1'],
    ['hostname', spec.hostname],
    ['uid', String(spec.uid)],
    ['gid', String(spec.gid)],
    ['groups', spec.groups.join(',')],
    ['cwd', spec.cwd],
    ...INIT_ONLY_CAPABILITIES.map(([, n]): [string, string] => ['drop', String(n)]),
    ...(spec.files ?? []).flatMap((f): Array<[string, string]> => [
      ['file.path', f.path],
      ['file.mode', String(f.mode & 0o7777)],
      ['file.data', f.base64],
    ]),
    ...(spec.eth0
      ? ([
          ['net.mac', spec.eth0.mac],
          ['net.alias', spec.eth0.alias],
          ['net.addr', spec.eth0.address],
          ['net.gw', spec.eth0.gateway],
        ] as Array<[string, string]>)
      : []),
    ...spec.argv.map((a): [string, string] => ['arg', a]),
    ...spec.env.map((e): [string, string] => ['env', e]),
    ['end', ''],
  ];
  for (const [k, v] of records) {
    if (v.includes('\0')) throw new Error(`the machine's ${k} ${JSON.stringify(v.slice(0, 40))} contains a NUL character`);
  }
  return Buffer.from(records.map(([k, v]) => `${k}\0${v}\0`).join(''), 'utf8');
}

/**
 * The init's outcome: '' when it exec'd the machine's command (its close-on-exec end closed with
 * nothing written), its message when it failed, undefined when the monitor exited before the
 * init opened its end (the runtime or the init died early: their stderr tells why).
 */
export async function readInitStatus(fifo: string, monitorExited: Promise<unknown>): Promise<string | undefined> {
  const fh = await openFifoUnlessExited(fifo, 'read', monitorExited);
  if (fh === undefined) return undefined;
  try {
    return (await fh.readFile('utf8')).trim();
  } finally {
    await fh.close();
  }
}
