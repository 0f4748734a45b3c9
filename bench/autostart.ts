/**
 * bench/autostart: how long a request to a stopped machine takes through the proxy (autostart,
 * reference §1c), against the same request to the machine once it runs (the baseline, same
 * run). A real `hangar server` (in this process) runs one machine: with the process driver
 * examples/hello, with `--driver crun` (root) the same kind of Node server from an image of the
 * host's node binary (test/helpers/images.ts; nothing is pulled). Each round stops the machine
 * through the API, waits for `stopped`, then times one GET. Target: p50 ≤ 150 ms with the
 * process driver. Prints a table; never asserts.
 *
 *   node dist/bench/autostart.js [--rounds 20] [--driver process|crun]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../src/client/api.js';
import type { MachineConfig } from '../src/core/fly/machine-config.js';
import { networkNumberOf } from '../src/core/net/sixpn.js';
import { startServer } from '../src/server/main.js';
import { hostNetworkLock } from '../test/helpers/host-lock.js';
import { importNodeImage, removeServerNetworking, skipReason } from '../test/isolation/harness.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' }, driver: { type: 'string', default: 'process' } } });
const rounds = Math.max(1, Number(values.rounds));
const driver = values.driver === 'crun' ? 'crun' : 'process';
const IMAGE = 'hangar-bench/node:1';
/** examples/hello's answer, as a one-liner that also stops on SIGTERM (Node as PID 1 would not). */
const SERVER_JS = "const s=require('http').createServer((q,r)=>r.end('hello\\n')).listen(8080,'::');process.on('SIGTERM',()=>process.exit(0))";
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hangar-bench-autostart-'));

/** The first non-200 answer, printed with the table (a failing autostart must not look fast). */
let firstFailure: string | undefined;

function get(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) firstFailure ??= `${res.statusCode}: ${body.trim()}`;
        resolve(res.statusCode ?? 0);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

if (driver === 'crun') {
  const reason = await skipReason();
  if (reason) {
    console.log(`bench/autostart --driver crun skipped: ${reason}`);
    process.exit(0);
  }
}
const release = driver === 'crun' ? await hostNetworkLock() : () => undefined;
let config: MachineConfig;
if (driver === 'crun') {
  await importNodeImage(dir, IMAGE);
  config = { image: IMAGE, init: { exec: ['/usr/local/bin/node', '-e', SERVER_JS] } };
} else config = { image: `dir:${join(root, 'examples/hello')}`, init: { exec: [process.execPath, 'server.mjs'] } };
config.services = [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }], autostart: true }];

/** This run's 6PN networks (their bridges are removed at the end, nobody else's). */
const networks = new Set<number>();
const lines: string[] = [];
const server = await startServer({
  dataDir: dir,
  apiAddr: '127.0.0.1:0',
  driver,
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
  const m = await client.createMachine('bench', { config });
  if (driver === 'crun' && m.private_ip) networks.add(networkNumberOf(m.private_ip));
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
  console.log(`bench/autostart: ${driver} driver, ${driver === 'crun' ? 'a Node server from an image of the host node' : 'examples/hello'}, ${rounds} rounds; loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}; non-200 answers: ${failures}; target p50 ≤ 150 ms`);
  console.log(fmt(head));
  for (const r of rows) console.log(fmt(r));
  if (firstFailure) console.log(`first failure: ${firstFailure}`);
} finally {
  await server.close();
  if (driver === 'crun') {
    // the machine is gone with --stop-machines-on-exit; its network bridge and table are not
    await removeServerNetworking([dir], networks);
  }
  rmSync(dir, { recursive: true, force: true });
  release();
}
