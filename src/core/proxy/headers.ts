/**
 * The headers the proxy adds (reference §1c "Request headers added"), built as ready-to-write
 * HTTP/1.1 header lines so the I/O side can put them in front of a forwarded head without
 * parsing or re-serializing anything else.
 *
 * `Via`: Fly sends `Via: 2 fly.io`; Hangar sends `Via: 1.1 hangar` (the protocol it actually
 * forwards with, and its own name, as RFC 9110 §7.6.3 asks), on requests and responses.
 */

export const VIA = 'Via: 1.1 hangar\r\n';

export interface ConnectionFacts {
  clientIp: string;
  /** The public port the client connected to (80, 443, or the service's port). */
  publicPort: number;
  proto: 'http' | 'https';
  region: string;
}

/**
 * The header lines that are the same for every request of one client connection:
 * `Fly-Client-IP`, `Fly-Forwarded-Port`, `Fly-Region`, `X-Forwarded-Proto`, `X-Forwarded-SSL`, `Via`.
 */
export function connectionHeaderBlock(c: ConnectionFacts): string {
  return (
    `Fly-Client-IP: ${c.clientIp}\r\n` +
    `Fly-Forwarded-Port: ${c.publicPort}\r\n` +
    `Fly-Region: ${c.region}\r\n` +
    `X-Forwarded-Proto: ${c.proto}\r\n` +
    `X-Forwarded-SSL: ${c.proto === 'https' ? 'on' : 'off'}\r\n` +
    VIA
  );
}

/** `X-Forwarded-For`, appending the client to what it sent (the rightmost entry is the peer). */
export function forwardedForLine(existing: string | undefined, clientIp: string): string {
  return existing ? `X-Forwarded-For: ${existing}, ${clientIp}\r\n` : `X-Forwarded-For: ${clientIp}\r\n`;
}

/** `X-Forwarded-Port` unless the client set one (reference §1c: it "may be client-set"). */
export function forwardedPortLine(publicPort: number): string {
  return `X-Forwarded-Port: ${publicPort}\r\n`;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 10 Crockford base32 characters of a millisecond timestamp (a ULID's time part). */
export function ulidTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** 16 Crockford characters from 16 random bytes (a ULID's random part). */
export function ulidRandom(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < 16; i++) out += CROCKFORD[(bytes[i] ?? 0) & 31]!;
  return out;
}

/** A region list header value (`iad,ord` / `iad, ord`) → region codes, lower case. */
export function parseRegionList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
}
