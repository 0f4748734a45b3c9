/**
 * bench/machine-start: how long an isolated machine takes to serve its first HTTP response.
 *
 * The server under test is the same in every row: a Node HTTP server (`node -e`, the host's own
 * node binary). For crun it runs from an image built locally from that binary and its shared
 * libraries (test/helpers/images.ts `nodeImage`; no network pulls), imported into the data dir of
 * one `hangar server --driver crun`.
 *
 * Rows, in one run (STYLE.md habit 14):
 * - crun create → first response: `POST /v1/apps/bench/machines`, then the host polls the
 *   machine's 6PN address until the server answers 200;
 * - crun start from stopped → first response: `POST .../stop`, wait `stopped`, then
 *   `POST .../start` → first 200 (a fresh overlay upper dir, as on Fly);
 *   both take warm containers when one is ready (src/drivers/crun/warm.ts): the line after the
 *   table says how many did, and how long the cold first machine of the image took;
 * - bare host spawn → first response: `spawn(node, ['-e', same script])` with the same
 *   arguments, so it also listens on `::` (on a random port; polled the same way on `::1`).
 *   Node's first IPv6 address check compiles a large regular expression (~3 ms here), so a bare
 *   server on 127.0.0.1 would not be the same server. Target: crun create p50 ≤ 1.3 × bare spawn p50.
 * The rows are interleaved (machine i, then bare spawn i) so that noise from other work on the
 * host hits both sides alike. The machines are `performance-cpu-1x` by default: their cgroup's
 * cpu.shares (1024) then equals the bare process's, so on a busy host both compete for the CPU
 * on equal terms. Their quota is one CPU's time per period, while the bare process may use
 * every core, and Node's start-up does (its worker threads run alongside the main thread: about
 * 30 ms of CPU in 25 ms of wall time here); `--cpus <host cores>` gives the machine the same
 * allowance. `--cpu-kind shared` measures shared-cpu machines (cpu.shares 64 a CPU, Fly's 1/16
 * baseline), which a busy host serves later than the bare process by design.
 *
 * The image is built in a child process, so that this process stays small and its bare spawns
 * fork as cheaply as a shell's would (see importInChild).
 *
 * Prints a table; never asserts; holds the host-network test lock (a crun server cleans up
 * networking at start-up) and removes what it made.
 *
 *   npm run bench:machine-start -- [--count 30] [--cpus N] [--cpu-kind performance|shared]
 *   node dist/bench/machine-start.js [--count 30] [--cpus N] [--cpu-kind performance|shared]
 *
 * Needs root and crun (else it says why and exits).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { networkNumberOf } from '../src/core/net/sixpn.js';
import { TAKEN_FILE } from '../src/drivers/crun/warm.js';
import { hostNetworkLock } from '../test/helpers/host-lock.js';
import { api, removeServerNetworking, skipReason, startServer, stopServer, waitState, type Server } from '../test/isolation/harness.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '30' }, cpus: { type: 'string' }, 'cpu-kind': { type: 'string', default: 'performance' } } });
const CPU_KIND = values['cpu-kind'] === 'shared' ? 'shared' : 'performance';
const CPUS = Math.max(1, Math.min(availableParallelism(), Number(values.cpus ?? 1) || 1));
const COUNT = Math.max(1, Math.min(100, Number(values.count)));
const IMAGE = 'hangar-bench/node:1';
const NODE = '/usr/local/bin/node';
/**
 * The one server every row runs: answers 200 with $BODY on $HOST:$PORT. It exits on SIGINT (the
 * stop signal Hangar sends by default) and SIGTERM: as a container's PID 1 it has no default
 * handlers, so without these each stop would wait out the 5 s kill timeout.
 */
const SERVER_JS =
  "for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(0)); require('http').createServer((q, s) => s.end(process.env.BODY)).listen(Number(process.env.PORT), process.env.HOST)";

/**
 * Polls `host:port` with a GET every 2 ms until it answers 200; returns ms since `t0`. Each try
 * is bounded (a connection refused comes back at once; a SYN queued behind neighbour discovery
 * is abandoned after 50 ms), so the poll never waits long on one attempt.
 */
async function firstResponse(host: string, port: number, t0: number, limitMs = 30_000, gone: () => boolean = () => false): Promise<number> {
  for (;;) {
    if (gone()) throw new Error(`[${host}]:${port}: the server exited`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = request({ host, port, path: '/', agent: false, timeout: 50 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`[${host}]:${port}: no response in ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/**
 * One bare host spawn of the same server → first response (ms). A random port may be taken by
 * another program on the host: the server then exits (EADDRINUSE) and the try is made again on
 * another port.
 */
async function bareOnce(i: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const t0 = performance.now();
    const child = spawn(process.execPath, ['-e', SERVER_JS], { stdio: 'ignore', env: { PORT: String(port), HOST: '::', BODY: `bare${i}\n` } });
    let exited = false;
    child.once('exit', () => (exited = true));
    try {
      return await firstResponse('::1', port, t0, 30_000, () => exited);
    } catch (err) {
      if (!exited || attempt >= 5) throw err;
    } finally {
      child.kill('SIGKILL');
    }
  }
}

/**
 * Builds and imports the image in a child process. Building it reads the node binary and its
 * libraries into memory, and this process would keep that memory (~250 MB of RSS): every
 * bare spawn would then pay for forking a large process (page tables copied, ~4 ms here), which
 * a shell starting the server does not.
 */
function importInChild(dataDir: string, ref: string): void {
  const harness = new URL('../test/isolation/harness.js', import.meta.url).href;
  const script = `const { importNodeImage } = await import(${JSON.stringify(harness)}); await importNodeImage(${JSON.stringify(dataDir)}, ${JSON.stringify(ref)});`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`image import failed: ${r.stderr.trim() || `exit ${r.status}`}`);
}

function machineConfig(i: number): Record<string, unknown> {
  return {
    image: IMAGE,
    init: { exec: [NODE, '-e', SERVER_JS] },
    env: { PORT: '8080', HOST: '::', BODY: `m${i}\n` },
    guest: { cpu_kind: CPU_KIND, cpus: CPUS, memory_mb: 256 },
    restart: { policy: 'no' },
  };
}

/**
 * Whether machine `id` just took a warm container: a bundle of the server's crun dir, not counted
 * before, whose `machine` file names it (src/drivers/crun/warm.ts TAKEN_FILE).
 */
function tookWarm(dataDir: string, id: string, seen: Set<string>): boolean {
  const root = join(dataDir, 'crun');
  for (const n of readdirSync(root)) {
    if (!n.startsWith('hangar-warm-') || seen.has(n)) continue;
    let owner = '';
    try {
      owner = readFileSync(join(root, n, TAKEN_FILE), 'utf8');
    } catch {
      continue; // not taken
    }
    if (owner === id) {
      seen.add(n);
      return true;
    }
  }
  return false;
}

async function main(): Promise<void> {
  const reason = await skipReason();
  if (reason) {
    console.log(`machine-start bench skipped: ${reason}`);
    return;
  }
  const release = await hostNetworkLock();
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-bench-start-'));
  let srv: Server | undefined;
  const ids: string[] = [];
  const networks = new Set<number>();
  try {
    importInChild(dataDir, IMAGE);
    srv = await startServer(dataDir);
    const s = srv;
    await api(s, 'POST', '/v1/apps', { app_name: 'bench', org_slug: 'personal' });
    // one untimed round first: page cache, the bridge, the nftables table, JIT of the server
    // (It is also the first machine of the image and network, so it starts cold and the later
    // starts find warm containers of that kind: src/drivers/crun/warm.ts.)
    const tFirst = performance.now();
    const warm = await api(s, 'POST', '/v1/apps/bench/machines', { config: machineConfig(-1), region: 'local' });
    if (warm.status !== 200) throw new Error(`create: ${warm.status} ${JSON.stringify(warm.json)}`);
    ids.push(String(warm.json['id']));
    networks.add(networkNumberOf(String(warm.json['private_ip'])));
    const first = await firstResponse(String(warm.json['private_ip']), 8080, tFirst);
    await bareOnce(-1);

    const create: number[] = [];
    const bare: number[] = [];
    const seen = new Set<string>();
    let warmCreates = 0;
    let warmStarts = 0;
    const ips = new Map<string, string>();
    for (let i = 0; i < COUNT; i++) {
      const t0 = performance.now();
      const r = await api(s, 'POST', '/v1/apps/bench/machines', { config: machineConfig(i), region: 'local' });
      if (r.status !== 200) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
      const id = String(r.json['id']);
      const ip = String(r.json['private_ip']);
      ids.push(id);
      ips.set(id, ip);
      networks.add(networkNumberOf(ip));
      create.push(await firstResponse(ip, 8080, t0));
      if (tookWarm(dataDir, id, seen)) warmCreates++;
      bare.push(await bareOnce(i));
    }
    const restart: number[] = [];
    for (const [id, ip] of ips) {
      await api(s, 'POST', `/v1/apps/bench/machines/${id}/stop`, {});
      await waitState(s, 'bench', id, 'stopped');
      const t0 = performance.now();
      const r = await api(s, 'POST', `/v1/apps/bench/machines/${id}/start`, {});
      if (r.status !== 200) throw new Error(`start: ${r.status} ${JSON.stringify(r.json)}`);
      restart.push(await firstResponse(ip, 8080, t0));
      if (tookWarm(dataDir, id, seen)) warmStarts++;
    }
    const row = (name: string, xs: number[]) => `${name.padEnd(46)} ${pct(xs, 50).toFixed(1).padStart(8)} ${pct(xs, 99).toFixed(1).padStart(8)}`;
    console.log(`machine start → first HTTP response of a Node HTTP server, ${COUNT} machines, ${CPU_KIND}-cpu-${CPUS}x (ms)`);
    console.log(`${'case'.padEnd(46)} ${'p50'.padStart(8)} ${'p99'.padStart(8)}`);
    console.log(row('crun: create → first response', create));
    console.log(row('crun: start from stopped → first response', restart));
    console.log(row('bare host spawn (baseline) → first response', bare));
    const ratio = pct(create, 50) / pct(bare, 50);
    const ratioStart = pct(restart, 50) / pct(bare, 50);
    console.log(`crun create p50 / bare spawn p50 = ${ratio.toFixed(2)} (target ≤ 1.30: ${ratio <= 1.3 ? 'met' : 'NOT met'}); start from stopped: ${ratioStart.toFixed(2)}`);
    console.log(`warm containers taken: ${warmCreates}/${COUNT} creates, ${warmStarts}/${COUNT} starts (the others started cold); untimed first create: ${first.toFixed(1)} ms (cold, and the image's first unpack, the bridge, the nftables table)`);
  } finally {
    if (srv) await stopServer(srv, ids.map((id) => ({ app: 'bench', id })));
    await removeServerNetworking([dataDir], networks);
    rmSync(dataDir, { recursive: true, force: true });
    release();
  }
}

await main();
