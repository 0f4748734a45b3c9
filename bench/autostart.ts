/**
 * bench/autostart: how long a request to a stopped machine takes through the proxy (autostart,
 * reference §1c), against the same request to the machine once it runs (the baseline, same
 * run). A real `hangar server` (in this process) with the process driver runs examples/hello.
 * Each round stops the machine through the API, waits for `stopped`, then times one GET.
 * Target: p50 ≤ 150 ms with the process driver. Prints a table; never asserts.
 *
 *   node dist/bench/autostart.js [--rounds 20]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../src/client/api.js';
import { startServer } from '../src/server/main.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' } } });
const rounds = Math.max(1, Number(values.rounds));
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hangar-bench-autostart-'));

function get(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const lines: string[] = [];
const server = await startServer({
  dataDir: dir,
  apiAddr: '127.0.0.1:0',
  driver: 'process',
  region: 'ams',
  logLevel: 'error',
  stopMachinesOnExit: true,
  print: (l) => lines.push(l),
  env: { HANGAR_CONFIG: join(dir, 'cli.json') },
  proxy: { httpAddr: '127.0.0.1:0', httpsAddr: null, autostopIntervalMs: 0 },
});
try {
  const proxyPort = Number(/Edge proxy on [^ ]+:(\d+):/.exec(lines.join('\n'))?.[1]);
  const client = new ApiClient({ apiUrl: server.url, token: readFileSync(join(dir, 'admin-token'), 'utf8').trim() });
  await client.createApp({ app_name: 'bench' });
  const m = await client.createMachine('bench', {
    config: {
      image: `dir:${join(root, 'examples/hello')}`,
      init: { exec: [process.execPath, 'server.mjs'] },
      services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }], autostart: true }],
    },
  });
  await client.waitMachine('bench', m.id, 'started', { timeoutMs: 30_000 });
  const cold: number[] = [];
  const warm: number[] = [];
  let failures = 0;
  for (let i = 0; i < rounds; i++) {
    await client.stopMachine('bench', m.id);
    await client.waitMachine('bench', m.id, 'stopped', { timeoutMs: 30_000 });
    // The proxy's table must have seen the stop too (it follows the store).
    await new Promise((r) => setTimeout(r, 50));
    let t = performance.now();
    const status = await get(proxyPort, 'bench.localhost');
    cold.push(performance.now() - t);
    if (status !== 200) failures += 1;
    t = performance.now();
    await get(proxyPort, 'bench.localhost');
    warm.push(performance.now() - t);
  }
  const row = (label: string, xs: number[]) => [label, String(xs.length), pct(xs, 50).toFixed(1), pct(xs, 90).toFixed(1), Math.max(...xs).toFixed(1)];
  const head = ['request', 'n', 'p50 ms', 'p90 ms', 'max ms'];
  const rows = [row('stopped machine (autostart)', cold), row('started machine (baseline)', warm)];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(`bench/autostart: process driver, examples/hello, ${rounds} rounds; loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}; non-200 answers: ${failures}; target p50 ≤ 150 ms`);
  console.log(fmt(head));
  for (const r of rows) console.log(fmt(r));
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
