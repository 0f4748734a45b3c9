/**
 * PROXY protocol headers (HAProxy's spec, "The PROXY protocol", versions 1 and 2), written first
 * on an upstream connection of a port with the `proxy_proto` handler so the machine learns the
 * client's address (reference §1c: v1 by default, v2 with `proxy_proto_options.version = "v2"`).
 * Pure: addresses in, bytes out; `parseProxyHeader` reads them back (tests, and a future
 * PROXY-speaking front).
 */
import { formatIPv6, parseIPv6 } from '../net/sixpn.js';

export type ProxyProtoVersion = 'v1' | 'v2';

/** One end of the proxied connection as Node reports it (`remoteAddress`/`remotePort`, ...). */
export interface ProxyEndpoints {
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly dstAddress: string;
  readonly dstPort: number;
}

/** The v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function v4Bytes(a: string): number[] | null {
  const m = V4.exec(a);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.every((n) => n <= 255) ? b : null;
}

/** `::ffff:1.2.3.4` (how a dual-stack listener reports IPv4 peers) → `1.2.3.4`. */
function unmap(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a;
}

function v6Bytes(a: string): number[] | null {
  let v: bigint;
  try {
    v = parseIPv6(a.replace(/%.*$/, ''));
  } catch {
    return null;
  }
  const out: number[] = [];
  for (let i = 15; i >= 0; i--) out.push(Number((v >> BigInt(i * 8)) & 0xffn));
  return out;
}

interface Family {
  kind: 'tcp4' | 'tcp6';
  src: number[];
  dst: number[];
  srcText: string;
  dstText: string;
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

/**
 * Both addresses in one family (the spec requires it): IPv4 when both are IPv4, else IPv6 with
 * an IPv4 end written IPv4-mapped. `null`: an address or port is not usable (→ `UNKNOWN`/`LOCAL`).
 */
function family(e: ProxyEndpoints): Family | null {
  if (!validPort(e.srcPort) || !validPort(e.dstPort)) return null;
  const s = unmap(e.srcAddress);
  const d = unmap(e.dstAddress);
  const s4 = v4Bytes(s);
  const d4 = v4Bytes(d);
  if (s4 && d4) return { kind: 'tcp4', src: s4, dst: d4, srcText: s, dstText: d };
  const s6 = s4 ? v6Bytes(`::ffff:${s}`) : v6Bytes(s);
  const d6 = d4 ? v6Bytes(`::ffff:${d}`) : v6Bytes(d);
  if (!s6 || !d6) return null;
  const text = (b: number[]) => formatIPv6(b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n));
  return { kind: 'tcp6', src: s6, dst: d6, srcText: text(s6), dstText: text(d6) };
}

/** `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` (or `PROXY UNKNOWN\r\n` when the addresses are unusable). */
export function encodeProxyV1(e: ProxyEndpoints): string {
  const f = family(e);
  if (!f) return 'PROXY UNKNOWN\r\n';
  return `PROXY ${f.kind === 'tcp4' ? 'TCP4' : 'TCP6'} ${f.srcText} ${f.dstText} ${e.srcPort} ${e.dstPort}\r\n`;
}

/**
 * The v2 binary header: signature, `0x21` (version 2, PROXY), `0x11` TCP over IPv4 or `0x21`
 * TCP over IPv6, the address block length (12 or 36, big-endian), source address, destination
 * address, source port, destination port. Unusable addresses → a `LOCAL` header (`0x20`, family
 * `0x00`, length 0), which tells the receiver to use the connection's own addresses.
 */
export function encodeProxyV2(e: ProxyEndpoints): Buffer {
  const f = family(e);
  if (!f) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const alen = f.kind === 'tcp4' ? 12 : 36;
  const out = Buffer.alloc(16 + alen);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21;
  out[13] = f.kind === 'tcp4' ? 0x11 : 0x21;
  out.writeUInt16BE(alen, 14);
  const n = f.src.length;
  Buffer.from(f.src).copy(out, 16);
  Buffer.from(f.dst).copy(out, 16 + n);
  out.writeUInt16BE(e.srcPort, 16 + 2 * n);
  out.writeUInt16BE(e.dstPort, 18 + 2 * n);
  return out;
}

/** The header for `version`. */
export function encodeProxyHeader(version: ProxyProtoVersion, e: ProxyEndpoints): Buffer {
  return version === 'v2' ? encodeProxyV2(e) : Buffer.from(encodeProxyV1(e), 'latin1');
}

/**
 * `proxy_proto_options.version` → the version to write. flyctl does not validate the value; Fly
 * documents only `v2` (anything else is v1). Hangar also accepts `v1`, and reports any other
 * value as a problem while using v1, so a typo does not silently change the wire format unnoticed.
 */
export function proxyProtoVersion(options: { version?: string } | undefined): { version: ProxyProtoVersion; problem?: string } {
  const v = options?.version;
  if (v === undefined || v === '' || v.toLowerCase() === 'v1' || v === '1') return { version: 'v1' };
  if (v.toLowerCase() === 'v2' || v === '2') return { version: 'v2' };
  return { version: 'v1', problem: `proxy_proto_options.version '${v}' is not 'v1' or 'v2'; using v1` };
}

/** A parsed PROXY header. `command: 'local'` / `family: 'unknown'` carry no addresses. */
export interface ParsedProxyHeader {
  readonly version: 1 | 2;
  readonly command: 'proxy' | 'local';
  readonly family: 'tcp4' | 'tcp6' | 'unknown';
  readonly src?: { address: string; port: number };
  readonly dst?: { address: string; port: number };
  /** Bytes the header took; the connection's own data starts there. */
  readonly length: number;
}

/** Why a PROXY header could not be read. */
export class ProxyHeaderError extends Error {}

const V1_MAX = 107;

/**
 * Reads a PROXY header at the start of `buf`: `null` while more bytes are needed, throws
 * `ProxyHeaderError` when the bytes are not a valid header.
 */
export function parseProxyHeader(buf: Uint8Array): ParsedProxyHeader | null {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const sigLen = Math.min(b.length, 12);
  if (sigLen > 0 && b.subarray(0, sigLen).equals(V2_SIGNATURE.subarray(0, sigLen))) return sigLen < 12 ? null : parseV2(b);
  const prefix = Buffer.from('PROXY ', 'latin1');
  const n = Math.min(b.length, prefix.length);
  if (!b.subarray(0, n).equals(prefix.subarray(0, n))) throw new ProxyHeaderError('not a PROXY protocol header');
  const end = b.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    if (b.length >= V1_MAX) throw new ProxyHeaderError('PROXY v1 line longer than 107 bytes');
    return null;
  }
  const parts = b.toString('latin1', 0, end).split(' ');
  if (parts[1] === 'UNKNOWN') return { version: 1, command: 'proxy', family: 'unknown', length: end + 2 };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) throw new ProxyHeaderError('malformed PROXY v1 line');
  const [, fam, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const ports = [sport, dport].map((p) => (/^(0|[1-9][0-9]{0,4})$/.test(p) ? Number(p) : -1));
  if (ports.some((p) => p < 0 || p > 65535)) throw new ProxyHeaderError('bad port in PROXY v1 line');
  const ok = fam === 'TCP4' ? v4Bytes(src) && v4Bytes(dst) : v6Bytes(src) && v6Bytes(dst);
  if (!ok) throw new ProxyHeaderError('bad address in PROXY v1 line');
  return { version: 1, command: 'proxy', family: fam === 'TCP4' ? 'tcp4' : 'tcp6', src: { address: src, port: ports[0]! }, dst: { address: dst, port: ports[1]! }, length: end + 2 };
}

function parseV2(b: Buffer): ParsedProxyHeader | null {
  if (b.length < 16) return null;
  const verCmd = b[12]!;
  if (verCmd >> 4 !== 2) throw new ProxyHeaderError('PROXY v2 header with a version other than 2');
  const cmd = verCmd & 0x0f;
  if (cmd > 1) throw new ProxyHeaderError('PROXY v2 header with an unknown command');
  const len = b.readUInt16BE(14);
  if (b.length < 16 + len) return null;
  const total = 16 + len;
  if (cmd === 0) return { version: 2, command: 'local', family: 'unknown', length: total };
  const fam = b[13]!;
  const read = (n: number): { src: string; dst: string; at: number } => {
    const s = b.subarray(16, 16 + n);
    const d = b.subarray(16 + n, 16 + 2 * n);
    const text = (x: Buffer) => (n === 4 ? [...x].join('.') : formatIPv6(x.reduce((acc, y) => (acc << 8n) | BigInt(y), 0n)));
    return { src: text(s), dst: text(d), at: 16 + 2 * n };
  };
  if (fam === 0x11 || fam === 0x21) {
    const n = fam === 0x11 ? 4 : 16;
    if (len < 2 * n + 4) throw new ProxyHeaderError('PROXY v2 address block too short');
    const r = read(n);
    return {
      version: 2,
      command: 'proxy',
      family: fam === 0x11 ? 'tcp4' : 'tcp6',
      src: { address: r.src, port: b.readUInt16BE(r.at) },
      dst: { address: r.dst, port: b.readUInt16BE(r.at + 2) },
      length: total,
    };
  }
  return { version: 2, command: 'proxy', family: 'unknown', length: total };
}
