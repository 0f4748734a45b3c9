import type { Io } from '../../src/cli/output.js';

/** An `Io` for `run(argv, io)` that keeps what the CLI printed (not a TTY). */
export function captureIo(): Io & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    isTTY: false,
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
  };
  return io;
}
