/**
 * Writing a request upstream: the client's head as slices of its own buffer (never decoded),
 * the lines the proxy adds (reference §1c "Request headers added"), the final CRLF and the body
 * bytes that arrived with the head, as one Buffer in one `write` (bench/proxy: one syscall per
 * request, no string round trip).
 */
import type { Socket } from 'node:net';
import type { RequestHead } from './http-parse.js';

/** Head + body bytes sent as one Buffer up to this size; a larger body follows in its own write. */
const COALESCE_MAX = 64 * 1024;

/**
 * Writes the request head (+ `body[0, bodyLen)`) to `sock`. `added` is the proxy's lines, as a
 * per-connection Buffer in the common case or a string. Returns the Buffer written and whether
 * the body went in it (then `out` is the whole request, kept for a resend).
 */
export function writeUpstreamHead(sock: Socket, head: RequestHead, headBuf: Buffer, added: Buffer | string, body: Buffer | null, bodyLen: number): { out: Buffer; inline: boolean } {
  const headLen = head.forwardLength + added.length + 2;
  const inline = headLen + bodyLen <= COALESCE_MAX ? bodyLen : 0;
  const out = Buffer.allocUnsafe(headLen + inline);
  const s = head.slices;
  let o = 0;
  for (let i = 0; i < s.length; i += 2) o += headBuf.copy(out, o, s[i], s[i + 1]);
  if (head.tail.length > 0) o += out.write(head.tail, o, 'latin1');
  o += typeof added === 'string' ? out.write(added, o, 'latin1') : added.copy(out, o);
  out[o++] = 13;
  out[o++] = 10;
  if (inline > 0) body!.copy(out, o, 0, inline);
  if (inline === bodyLen) sock.write(out);
  else {
    sock.cork();
    sock.write(out);
    sock.write(body!.subarray(0, bodyLen));
    sock.uncork();
  }
  return { out, inline: inline === bodyLen };
}
