/**
 * Tar entries as an async iterator over node-tar's Parser (gzip/zstd detected by magic bytes),
 * one at a time and with backpressure: the next entry is read only after the consumer has read
 * (or skipped) the body of the current one, so unpacking can await file-system work per entry.
 */
import type { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';

export async function* tarEntries(source: Readable): AsyncGenerator<ReadEntry> {
  const parser = new Parser({ strict: true });
  const queue: ReadEntry[] = [];
  let finished = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  parser.on('entry', (entry: ReadEntry) => {
    queue.push(entry);
    notify();
  });
  parser.on('end', () => {
    finished = true;
    notify();
  });
  const fail = (err: unknown): void => {
    failure ??= err;
    notify();
  };
  parser.on('error', fail);
  source.on('error', fail);
  source.pipe(parser as unknown as NodeJS.WritableStream);
  try {
    for (;;) {
      if (failure !== undefined) throw failure;
      const entry = queue.shift();
      if (entry) {
        yield entry;
        // Bodies the consumer did not read (directories, skipped entries) are drained here so
        // the parser moves on to the next header.
        entry.resume();
        continue;
      }
      if (finished) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    if (!finished) {
      source.unpipe(parser as unknown as NodeJS.WritableStream);
      source.destroy();
    }
  }
}
