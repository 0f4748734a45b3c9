/**
 * Runs test/proxy/fixtures/server-child.ts (a `hangar server` with the process driver, its proxy
 * on a free port and a given autostop period) as a child process for the proxy's end-to-end
 * tests, and stops it (SIGTERM, then SIGKILL after 15 s) when asked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ServerChild {
  readonly api: string;
  /** `http://host:port` of the proxy's HTTP listener. */
  readonly proxy: string;
  readonly proxyPort: number;
  /** stdout so far. */
  out(): string;
  stop(): Promise<void>;
}

export function startServerChild(dataDir: string, autostopIntervalMs: number): Promise<ServerChild> {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'dist/test/proxy/fixtures/server-child.js'), dataDir, String(autostopIntervalMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const api = /Machines API listening on (http:\/\/\S+)/.exec(out)?.[1];
      const at = /Edge proxy on (\S+):(\d+):/.exec(out);
      if (api && at) resolve({ api, proxy: `http://${at[1]!}:${at[2]!}`, proxyPort: Number(at[2]), out: () => out, stop });
    });
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.once('exit', (code) => reject(new Error(`server exited (${code})\n${out}\n${err}`)));
  });
}
