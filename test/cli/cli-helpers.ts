/**
 * Running the CLI in-process for tests: `run(argv, io)` with captured output, against a real
 * `hangar server` whose URL and token are put in process.env (each test file runs in its own
 * process, so the environment is the file's own).
 */
import { run } from '../../src/cli/main.js';
import type { RunningServer } from '../client/hangar-server.js';
import { captureIo } from '../helpers/io.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function cli(argv: string[]): Promise<CliResult> {
  const io = captureIo();
  const code = await run(argv, io);
  return { code, out: io.out, err: io.err };
}

/** Runs the CLI and fails with its output unless it exits 0. */
export async function ok(argv: string[]): Promise<CliResult> {
  const r = await cli(argv);
  if (r.code !== 0) throw new Error(`hangar ${argv.join(' ')} exited ${r.code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  return r;
}

/** Runs the CLI with --json and parses stdout. */
export async function okJson<T>(argv: string[]): Promise<T> {
  return JSON.parse((await ok([...argv, '--json'])).out) as T;
}

/** Points the CLI at `server` through the environment; returns a function that restores it. */
export function useServer(server: RunningServer, configPath: string): () => void {
  const saved = { url: process.env.HANGAR_API_URL, token: process.env.HANGAR_API_TOKEN, config: process.env.HANGAR_CONFIG };
  process.env.HANGAR_API_URL = server.url;
  process.env.HANGAR_API_TOKEN = server.token;
  process.env.HANGAR_CONFIG = configPath;
  return () => {
    for (const [k, v] of [
      ['HANGAR_API_URL', saved.url],
      ['HANGAR_API_TOKEN', saved.token],
      ['HANGAR_CONFIG', saved.config],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
