/**
 * Decoding an HTTP/1.1 chunked body (RFC 9112 §7.1) into its data and trailer fields, for the
 * paths that re-frame a body instead of forwarding its bytes (h2c-upstream.ts turns it into
 * HTTP/2 DATA frames). The byte-forwarding path only needs where a body ends
 * (`ChunkedScanner` in http-parse.ts).
 */
import { HeadError } from './http-parse.js';

export interface ChunkedPiece {
  /** Decoded body bytes found in this input (may be empty). */
  readonly data: Buffer[];
  /** The last chunk and the trailer section were read. */
  readonly done: boolean;
  /** Trailer fields, `[name, value]`, once `done`. */
  readonly trailers: [string, string][];
  /** Bytes after the body's end (the next message), once `done`. */
  readonly rest: Buffer | null;
}

const enum S {
  Size,
  Data,
  DataEnd,
  Trailers,
  Done,
}

/** Limits a size line or trailer section may use before it counts as malformed. */
const MAX_LINE = 8 * 1024;

export class ChunkedDecoder {
  private state = S.Size;
  private left = 0;
  private pending: Buffer | null = null;
  private readonly trailers: [string, string][] = [];

  /** Feeds more bytes; throws `HeadError` (400) on broken framing. */
  push(input: Buffer): ChunkedPiece {
    let buf = this.pending ? Buffer.concat([this.pending, input]) : input;
    this.pending = null;
    const data: Buffer[] = [];
    while (buf.length > 0 && this.state !== S.Done) {
      if (this.state === S.Data) {
        const n = Math.min(this.left, buf.length);
        data.push(buf.subarray(0, n));
        this.left -= n;
        buf = buf.subarray(n);
        if (this.left === 0) this.state = S.DataEnd;
        continue;
      }
      const eol = buf.indexOf('\r\n');
      if (eol < 0) {
        if (buf.length > MAX_LINE) throw new HeadError(400, 'malformed chunked body');
        this.pending = buf;
        break;
      }
      const line = buf.toString('latin1', 0, eol);
      buf = buf.subarray(eol + 2);
      if (this.state === S.DataEnd) {
        if (line !== '') throw new HeadError(400, 'malformed chunk end');
        this.state = S.Size;
      } else if (this.state === S.Size) {
        const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!size) throw new HeadError(400, 'malformed chunk size');
        this.left = parseInt(size[1]!, 16);
        this.state = this.left === 0 ? S.Trailers : S.Data;
      } else if (line === '') this.state = S.Done;
      else {
        const colon = line.indexOf(':');
        if (colon <= 0) throw new HeadError(400, 'malformed chunked trailer');
        this.trailers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
      }
    }
    const done = this.state === S.Done;
    return { data, done, trailers: done ? this.trailers : [], rest: done && buf.length > 0 ? buf : null };
  }
}
