/**
 * Where CLI commands write. Commands never touch process.stdout directly, so tests can run
 * `run(argv, io)` in-process and capture everything (STYLE.md habit 9).
 */

export interface GlobalOptions {
  app?: string;
  config?: string;
  json?: boolean;
  debug?: boolean;
}

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** true when stdout is a terminal (progress and colours only then). */
  isTTY: boolean;
}

export const processIo: Io = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  isTTY: Boolean(process.stdout.isTTY),
};

export interface Output {
  readonly io: Io;
  readonly json: boolean;
  /** A line on stdout. */
  line(text?: string): void;
  /** A line on stderr (warnings, progress). */
  err(text: string): void;
  /** Pretty JSON on stdout. */
  printJson(value: unknown): void;
  /** A plain-text table with a header row; columns padded to their widest cell. */
  table(headers: string[], rows: (string | number | undefined)[][]): void;
}

export function createOutput(globals: GlobalOptions, io: Io = processIo): Output {
  return {
    io,
    json: Boolean(globals.json),
    line: (text = '') => io.stdout(`${text}\n`),
    err: (text) => io.stderr(`${text}\n`),
    printJson: (value) => io.stdout(`${JSON.stringify(value, null, 2)}\n`),
    table(headers, rows) {
      const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
      const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
      for (const r of cells) io.stdout(`${r.map((c, i) => (c ?? '').padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`);
    },
  };
}
