/**
 * Machine config from `hangar machine run|update` flags, following flyctl's flag syntax
 * (reference §1e `machine run`): `-p port[:internal][/proto[:handler...]]`, `-e K=V`,
 * `--vm-size/--vm-cpus/--vm-memory/--vm-cpu-kind`, `--restart`, `--autostop/--autostart`,
 * `--entrypoint`. Pure: every function takes flag values and returns config or throws a usage error.
 */
import { isAbsolute, resolve } from 'node:path';
import { HangarError } from '../../../core/errors.js';
import type { MachineAutostop, MachineConfig, MachineGuest, MachinePort, MachineService } from '../../../core/fly/machine-config.js';
import { DEFAULT_VM_SIZE, presetGuest } from '../../../core/fly/presets.js';
import { shellSplit } from '../../../core/shell.js';
import { parseMemoryMb } from '../../../core/units.js';

const HANDLERS = new Set(['http', 'tls', 'pg_tls', 'proxy_proto']);
const PORT_SPEC = /^(\d+)(?:-(\d+))?(?::(\d+))?(?:\/([a-z]+)(?::([a-z_:]+))?)?$/i;

/** Flags shared by `machine run` and `machine update`. */
export interface MachineFlags {
  env?: string[];
  port?: string[];
  vmSize?: string;
  vmCpus?: string;
  vmMemory?: string;
  vmCpuKind?: string;
  restart?: string;
  autostop?: string | boolean;
  autostart?: string | boolean;
  entrypoint?: string;
}

function usage(message: string): HangarError {
  return new HangarError('HANGAR_ERR_USAGE', message);
}

function portNumber(text: string, spec: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw usage(`invalid port "${spec}": ${text} is not a port number (1-65535)`);
  return n;
}

/** One parsed `-p` value: the service key (internal port + protocol) and its public port. */
export interface PortSpec {
  internal_port: number;
  protocol: 'tcp' | 'udp';
  port: MachinePort;
}

/** Parses `-p 80:8080/tcp:http:tls`, `-p 8080`, `-p 5000-5010:5000/udp`. */
export function parsePortSpec(spec: string): PortSpec {
  const m = PORT_SPEC.exec(spec.trim());
  if (!m) throw usage(`invalid port "${spec}": expected port[:internal][/tcp|udp[:handler...]], e.g. 80:8080/tcp:http`);
  const [, startText = '', endText, internalText, protoText, handlersText] = m;
  const start = portNumber(startText, spec);
  const end = endText === undefined ? undefined : portNumber(endText, spec);
  if (end !== undefined && end < start) throw usage(`invalid port "${spec}": the range ends before it starts`);
  const internal = internalText === undefined ? start : portNumber(internalText, spec);
  const protocol = (protoText ?? 'tcp').toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') throw usage(`invalid port "${spec}": protocol must be tcp or udp, not "${protoText}"`);
  const handlers = handlersText === undefined ? [] : handlersText.split(':').filter((h) => h !== '').map((h) => h.toLowerCase());
  for (const h of handlers) {
    if (!HANDLERS.has(h)) throw usage(`invalid port "${spec}": unknown handler "${h}" (one of ${[...HANDLERS].join(', ')})`);
  }
  const port: MachinePort = end === undefined ? { port: start } : { start_port: start, end_port: end };
  if (handlers.length > 0) port.handlers = handlers;
  return { internal_port: internal, protocol, port };
}

/** `--autostop` as the API wants it: off/false → false, stop/true/bare → true, suspend → "suspend". */
export function parseAutostop(value: string | boolean): MachineAutostop {
  if (value === true || value === 'stop' || value === 'true') return true;
  if (value === false || value === 'off' || value === 'false') return false;
  if (value === 'suspend') return 'suspend';
  throw usage(`invalid --autostop "${String(value)}": use off, stop or suspend`);
}

function parseBool(flag: string, value: string | boolean): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw usage(`invalid ${flag} "${String(value)}": use true or false`);
}

/** Services from `-p` flags: one per (internal port, protocol), ports in flag order. */
export function servicesFromPorts(specs: readonly string[], flags: Pick<MachineFlags, 'autostop' | 'autostart'> = {}): MachineService[] {
  const services: MachineService[] = [];
  for (const spec of specs) {
    const p = parsePortSpec(spec);
    let svc = services.find((s) => s.internal_port === p.internal_port && s.protocol === p.protocol);
    if (!svc) {
      svc = { protocol: p.protocol, internal_port: p.internal_port, ports: [] };
      if (flags.autostop !== undefined) svc.autostop = parseAutostop(flags.autostop);
      if (flags.autostart !== undefined) svc.autostart = parseBool('--autostart', flags.autostart);
      services.push(svc);
    }
    svc.ports?.push(p.port);
  }
  return services;
}

/** `-e K=V` values as a map; later values win, as with repeated flags everywhere. */
export function parseEnvPairs(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`invalid environment variable "${pair}": expected NAME=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** The guest from `--vm-*` flags on top of `base` (or the default size); undefined when none is set. */
export function guestFromFlags(flags: MachineFlags, base?: MachineGuest): MachineGuest | undefined {
  if (flags.vmSize === undefined && flags.vmCpus === undefined && flags.vmMemory === undefined && flags.vmCpuKind === undefined) return undefined;
  let guest: MachineGuest;
  if (flags.vmSize !== undefined || !base) {
    const preset = presetGuest(flags.vmSize ?? DEFAULT_VM_SIZE);
    if (!preset.ok) throw usage(preset.error);
    guest = preset.guest;
  } else {
    guest = { ...base };
  }
  if (flags.vmCpuKind !== undefined) {
    if (flags.vmCpuKind !== 'shared' && flags.vmCpuKind !== 'performance') throw usage(`invalid --vm-cpu-kind "${flags.vmCpuKind}": use shared or performance`);
    guest.cpu_kind = flags.vmCpuKind;
  }
  if (flags.vmCpus !== undefined) {
    const cpus = Number(flags.vmCpus);
    if (!Number.isInteger(cpus) || cpus < 1) throw usage(`invalid --vm-cpus "${flags.vmCpus}": expected a whole number of CPUs`);
    guest.cpus = cpus;
  }
  if (flags.vmMemory !== undefined) {
    const mb = parseMemoryMb(flags.vmMemory);
    if (mb === undefined || mb <= 0) throw usage(`invalid --vm-memory "${flags.vmMemory}": expected a size such as 512, 512mb or 1gb`);
    guest.memory_mb = mb;
  }
  return guest;
}

/** `--entrypoint "a b"` as an argv. */
export function parseEntrypoint(text: string): string[] {
  const r = shellSplit(text);
  if (!r.ok) throw usage(`invalid --entrypoint "${text}": ${r.error}`);
  return r.argv;
}

/** `dir:<path>` images are made absolute (the agent runs elsewhere); other images pass unchanged. */
export function resolveImage(image: string, cwd: string = process.cwd()): string {
  if (!image.startsWith('dir:')) return image;
  const path = image.slice(4);
  if (path === '') throw usage('invalid image "dir:": name a directory, e.g. dir:./examples/hello');
  return `dir:${isAbsolute(path) ? path : resolve(cwd, path)}`;
}

/**
 * Applies the flags to `config` (a copy is returned): env is merged, `-p` replaces the
 * services, the others replace their field when given.
 */
export function applyMachineFlags(config: MachineConfig, flags: MachineFlags): MachineConfig {
  const next: MachineConfig = structuredClone(config);
  if (flags.env && flags.env.length > 0) next.env = { ...(next.env ?? {}), ...parseEnvPairs(flags.env) };
  if (flags.port && flags.port.length > 0) next.services = servicesFromPorts(flags.port, flags);
  else if ((flags.autostop !== undefined || flags.autostart !== undefined) && next.services) {
    for (const svc of next.services) {
      if (flags.autostop !== undefined) svc.autostop = parseAutostop(flags.autostop);
      if (flags.autostart !== undefined) svc.autostart = parseBool('--autostart', flags.autostart);
    }
  }
  const guest = guestFromFlags(flags, next.guest);
  if (guest) {
    next.guest = guest;
    delete next.size;
  }
  if (flags.restart !== undefined) {
    if (flags.restart !== 'no' && flags.restart !== 'always' && flags.restart !== 'on-failure') {
      throw usage(`invalid --restart "${flags.restart}": use no, always or on-failure`);
    }
    next.restart = { policy: flags.restart };
  }
  if (flags.entrypoint !== undefined) next.init = { ...(next.init ?? {}), entrypoint: parseEntrypoint(flags.entrypoint) };
  return next;
}
