/**
 * How the CLI shows API objects to a person: table rows and the address a started machine
 * answers on (from the Hangar-only `hangar_routing` its agent writes).
 */
import type { ApiMachine, ApiVolume } from '../../../client/types.js';

/** `http://<address>:<port>` for each service port of a started machine, in service order. */
export function machineUrls(m: ApiMachine): { internalPort: number; url: string }[] {
  const routing = m.hangar_routing;
  if (!routing || m.state !== 'started') return [];
  const host = routing.address.includes(':') ? `[${routing.address}]` : routing.address;
  const internalPorts = (m.config.services ?? []).map((s) => s.internal_port);
  // Services first (their order is the config's); then any other port the agent mapped.
  const ordered = [...new Set([...internalPorts.map(String), ...Object.keys(routing.ports)])];
  const urls: { internalPort: number; url: string }[] = [];
  for (const key of ordered) {
    const hostPort = routing.ports[key];
    if (hostPort === undefined) continue;
    urls.push({ internalPort: Number(key), url: `http://${host}:${hostPort}` });
  }
  return urls;
}

/** The first URL a started machine answers on, or '' (for table cells). */
export function machineAddress(m: ApiMachine): string {
  return machineUrls(m)[0]?.url ?? '';
}

export const MACHINE_HEADERS = ['ID', 'NAME', 'STATE', 'REGION', 'IMAGE', 'ADDRESS', 'CREATED', 'UPDATED'];

export function machineRow(m: ApiMachine): string[] {
  return [m.id, m.name, m.state, m.region, m.config.image, machineAddress(m), m.created_at, m.updated_at];
}

export const VOLUME_HEADERS = ['ID', 'STATE', 'NAME', 'SIZE', 'REGION', 'ZONE', 'ENCRYPTED', 'ATTACHED VM', 'CREATED AT'];

export function volumeRow(v: ApiVolume): string[] {
  return [v.id, v.state, v.name, `${v.size_gb}GB`, v.region, v.zone ?? '', String(v.encrypted ?? ''), v.attached_machine_id ?? '', v.created_at];
}

/** Prints `key: value` lines with the keys aligned. */
export function keyValues(rows: [string, string | number | boolean | undefined | null][]): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v === undefined || v === null ? '' : String(v)}`);
}

/** A Go duration string from a CLI value: `10` (seconds) or already `10s`/`1m`. */
export function goDurationArg(value: string): string {
  return /^\d+$/.test(value) ? `${value}s` : value;
}

/** Seconds from a CLI duration value (`10`, `10s`, `2m`), or undefined when unreadable. */
export function durationSeconds(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n / 1000 : unit === 's' ? n : unit === 'm' ? n * 60 : n * 3600;
}
