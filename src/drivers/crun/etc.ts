/**
 * /etc/hosts, /etc/resolv.conf and /etc/hostname of a machine, as pure text builders. The driver
 * writes them into the bundle and bind-mounts them (as Docker does), so an image whose
 * /etc/resolv.conf is a symlink into /run keeps working and the image is never modified.
 *
 * As on Fly: the hostname is the machine id, /etc/hosts names the machine's 6PN address
 * `fly-local-6pn` and the resolver is the network's `::3` address (`fdaa::3` when not given).
 */
import type { MachineDnsConfig } from '../../core/fly/machine-config.js';

/** Fly's resolver address inside every machine. */
export const DEFAULT_NAMESERVER = 'fdaa::3';

export interface EtcInput {
  readonly hostname: string;
  /** The machine's private (6PN) address, when networking gave it one. */
  readonly privateIp?: string;
  /** Resolvers from the network (the `::3` address of the machine's 6PN network). */
  readonly nameservers?: readonly string[];
  readonly dns?: MachineDnsConfig;
}

export function hostsFile(input: EtcInput): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];
  if (input.privateIp) lines.push(`${input.privateIp}\tfly-local-6pn`, `${input.privateIp}\t${input.hostname}`);
  else lines.push(`127.0.1.1\t${input.hostname}`);
  return `${lines.join('\n')}\n`;
}

export function resolvConf(input: EtcInput): string {
  const ns = input.dns?.nameservers?.length ? input.dns.nameservers : input.nameservers?.length ? input.nameservers : [DEFAULT_NAMESERVER];
  const lines = ns.map((n) => `nameserver ${n}`);
  if (input.dns?.searches?.length) lines.push(`search ${input.dns.searches.join(' ')}`);
  const opts = (input.dns?.options ?? []).map((o) => (o.value === undefined || o.value === '' ? o.name : `${o.name}:${o.value}`));
  if (opts.length > 0) lines.push(`options ${opts.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export function hostnameFile(input: EtcInput): string {
  return `${input.hostname}\n`;
}
