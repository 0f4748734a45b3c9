/**
 * Starts a real `hangar server` as a child process for end-to-end tests (CLI verbs, fly-admin
 * compatibility): a temp data dir, a free loopback port, the admin token the server writes to
 * `<data-dir>/admin-token`. `stop()` ends the server (which stops its machines, by
 * --stop-machines-on-exit) and removes the data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

/** The repository root (tests run from dist/test/...). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const HANGAR_BIN = join(REPO_ROOT, 'bin', 'hangar.js');
/** examples/hello, runnable by the process driver as `dir:<this>` with `init.exec: [node, 'server.mjs']`. */
export const HELLO_DIR = join(REPO_ROOT, 'examples', 'hello');

export interface RunningServer {
  url: string;
  token: string;
  dataDir: string;
  child: ChildProcess;
  /** stdout + stderr of the server so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `hangar server` (with `args` added to its flags) and resolves once its API answers with the admin token. */
export async function startHangarServer(opts: { driver?: 'process' | 'fake'; timeoutMs?: number; args?: string[] } = {}): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-e2e-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [HANGAR_BIN, 'server', '--data-dir', dataDir, '--api-addr', `127.0.0.1:${port}`, '--driver', opts.driver ?? 'process', '--stop-machines-on-exit', '--log-level', 'warn', ...(opts.args ?? [])],
    // The server points the CLI config at itself on first start: keep that inside the temp dir.
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HANGAR_CONFIG: join(dataDir, 'cli-config.json') } },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => ((exit = String(signal ?? code)), resolve())));

  const stop = async (): Promise<void> => {
    if (exit === undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const tokenFile = join(dataDir, 'admin-token');
  while (Date.now() < deadline) {
    if (exit !== undefined) {
      await stop();
      throw new Error(`hangar server exited (${exit}) before answering:\n${output}`);
    }
    if (existsSync(tokenFile)) {
      const token = readFileSync(tokenFile, 'utf8').trim();
      try {
        const res = await fetch(`${url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
        if (res.ok) return { url, token, dataDir, child, log: () => output, stop };
      } catch {
        // not listening yet
      }
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`hangar server did not answer at ${url} in time:\n${output}`);
}
