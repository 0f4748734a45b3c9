/**
 * What a machine runs: the image config (Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts)
 * merged with the machine's `init`, env and user. Pure.
 *
 * Rules (Fly's machine config, reference §1a `init`): `init.exec` replaces the whole command;
 * otherwise `init.entrypoint` replaces the image's Entrypoint and `init.cmd` its Cmd, each on its
 * own. Env is the image's, then the machine's on top. Unlike `docker run --entrypoint`, a new
 * entrypoint does not clear the image's Cmd: Fly documents the two fields as independent overrides.
 */
import type { MachineInit } from '../core/fly/machine-config.js';
import type { ImageConfig } from './manifest.js';

/** The container-side half of an image config (OCI `config` object). */
export type ImageRunConfig = NonNullable<ImageConfig['config']>;

export interface MachineRunInput {
  init?: MachineInit;
  /** The machine's env (config env, secrets, FLY_* variables), applied over the image's. */
  env?: Record<string, string>;
  /** A user for the process (`processes[].user`), over the image's User. */
  user?: string;
  /** A working directory over the image's WorkingDir. */
  workingDir?: string;
}

export interface ExposedPort {
  port: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export interface ProcessSpec {
  /** The command line; empty when neither image nor machine names one (a start error). */
  argv: string[];
  env: Record<string, string>;
  workingDir: string;
  /** `user[:group]` as the image or machine wrote it; `root` when neither says. */
  user: string;
  exposedPorts: ExposedPort[];
  stopSignal?: string;
}

/** Docker's PATH for images that set none, so `sh` and friends resolve as they do under Docker. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function mergeImageConfig(image: ImageRunConfig | null | undefined, machine: MachineRunInput): ProcessSpec {
  const init = machine.init ?? {};
  let argv: string[];
  if (init.exec && init.exec.length > 0) argv = [...init.exec];
  else argv = [...(init.entrypoint ?? image?.Entrypoint ?? []), ...(init.cmd ?? image?.Cmd ?? [])];

  const env: Record<string, string> = {};
  for (const pair of image?.Env ?? []) {
    const eq = pair.indexOf('=');
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  env.PATH ??= DEFAULT_PATH;
  Object.assign(env, machine.env ?? {});

  const spec: ProcessSpec = {
    argv,
    env,
    workingDir: machine.workingDir || image?.WorkingDir || '/',
    user: machine.user || image?.User || 'root',
    exposedPorts: parseExposedPorts(image?.ExposedPorts ?? {}),
  };
  if (image?.StopSignal) spec.stopSignal = image.StopSignal;
  return spec;
}

/** `{"8080/tcp": {}, "53/udp": {}, "9000": {}}` → ports; malformed keys are skipped. */
export function parseExposedPorts(ports: Record<string, unknown>): ExposedPort[] {
  const out: ExposedPort[] = [];
  for (const key of Object.keys(ports)) {
    const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(key);
    const port = m ? Number(m[1]) : NaN;
    if (!m || port < 1 || port > 65535) continue;
    out.push({ port, protocol: (m[2]?.toLowerCase() ?? 'tcp') as ExposedPort['protocol'] });
  }
  return out.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}
