/**
 * bench/api: the control plane's speed, against a real `hangar server` child process.
 *
 *   1. create → started and create → first HTTP response of examples/hello machines (process
 *      driver), against spawning the same program directly in the same run (the baseline,
 *      STYLE.md habit 14); target: machine p50 ≤ 1.5 × direct p50.
 *   2. creating 1,000 machines with the fake driver; target ≤ 10 s.
 *   3. `GET /v1/apps/x/machines` with 10,000 machines (fake driver); target p50 ≤ 50 ms.
 *
 * Prints a table; never asserts. Sizes can be lowered for a quick run:
 *   node dist/bench/api.js [--machines 30] [--create 1000] [--list 10000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ApiClient } from '../src/client/api.js';
import type { ApiMachine } from '../src/client/types.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'hangar.js');
const HELLO = join(ROOT, 'examples', 'hello');
const POLL_MS = 2;

interface Server {
  client: ApiClient;
  url: string;
  token: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function startServer(driver: 'process' | 'fake'): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-bench-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'server', '--data-dir', dir, '--api-addr', `127.0.0.1:${port}`, '--driver', driver, '--stop-machines-on-exit', '--log-level', 'error'],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, HANGAR_CONFIG: join(dir, 'cli-config.json') } },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const tokenFile = join(dir, 'admin-token');
  for (let i = 0; i < 300; i++) {
    if (existsSync(tokenFile)) {
      const token = readFileSync(tokenFile, 'utf8').trim();
      const url = `http://127.0.0.1:${port}`;
      const client = new ApiClient({ apiUrl: url, token });
      try {
        await client.whoami();
        return { client, url, token, stop };
      } catch {
        // not listening yet
      }
    }
    await sleep(100);
  }
  await stop();
  throw new Error('hangar server did not start');
}

/** Polls `url` until it answers; resolves with the time it first did. */
async function firstResponse(url: string): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return performance.now();
    } catch {
      await sleep(POLL_MS);
    }
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

/** The direct baseline: spawn hello ourselves and time its first HTTP answer. */
async function directSpawn(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, ['server.mjs'], { cwd: HELLO, stdio: 'ignore', env: { PORT: String(port), FLY_PRIVATE_IP: '127.0.0.1' } });
  try {
    return (await firstResponse(`http://127.0.0.1:${port}/`)) - t0;
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

function urlOf(m: ApiMachine): string {
  const r = m.hangar_routing;
  const port = r?.ports['8080'];
  if (!r || port === undefined) throw new Error(`machine ${m.id} has no hangar_routing for port 8080`);
  return `http://${r.address.includes(':') ? `[${r.address}]` : r.address}:${port}/`;
}

async function machineStartup(n: number): Promise<{ started: number[]; http: number[]; direct: number[] }> {
  const server = await startServer('process');
  const { client } = server;
  const started: number[] = [];
  const http: number[] = [];
  const direct: number[] = [];
  try {
    await client.createApp({ app_name: 'bench-hello' });
    for (let i = 0; i < n; i++) {
      // Alternate so both sides see the same host conditions.
      direct.push(await directSpawn());
      const t0 = performance.now();
      const created = await client.createMachine('bench-hello', {
        config: {
          image: `dir:${HELLO}`,
          init: { exec: [process.execPath, 'server.mjs'] },
          services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }] }],
          restart: { policy: 'no' },
        },
      });
      await client.waitMachine('bench-hello', created.id, 'started', { instanceId: created.instance_id });
      started.push(performance.now() - t0);
      const m = await client.getMachine('bench-hello', created.id);
      http.push((await firstResponse(urlOf(m))) - t0);
      await client.destroyMachine('bench-hello', created.id, { force: true });
    }
  } finally {
    await server.stop();
  }
  return { started, http, direct };
}

/** Runs `fn(i)` for i in [from, to) with `concurrency` in flight. */
async function pool(from: number, to: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) await fn(next++);
    }),
  );
}

/** GET with node:http, collecting raw bytes: time to the last byte without a client's decoding. */
function getRaw(url: string, token: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * The listing measured two ways: time to the last byte of the response (what the API costs),
 * and the same plus decoding the JSON as a client must (7 MB for 10,000 machines).
 */
async function fakeScale(createCount: number, listCount: number): Promise<{ createSeconds: number; list: number[]; decoded: number[] }> {
  const server = await startServer('fake');
  const { client } = server;
  try {
    await client.createApp({ app_name: 'x' });
    const create = (i: number) => client.createMachine('x', { config: { image: 'bench:latest', init: { exec: ['/bin/true'] } }, name: `m-${i}` });
    const t0 = performance.now();
    await pool(0, createCount, 16, create);
    const createSeconds = (performance.now() - t0) / 1000;
    await pool(createCount, listCount, 32, create);
    // Measure a settled app: while the agent is still starting thousands of machines every
    // listing sees them change and competes with the agent for the CPU.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const all = JSON.parse((await getRaw(`${server.url}/v1/apps/x/machines`, server.token)).toString('utf8')) as { state: string }[];
      if (all.filter((m) => m.state === 'started').length >= listCount) break;
      if (Date.now() > deadline) {
        console.error('warning: the agent did not start every machine within 3 minutes; measuring anyway');
        break;
      }
      await sleep(500);
    }
    const list: number[] = [];
    const decoded: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const body = await getRaw(`${server.url}/v1/apps/x/machines`, server.token);
      list.push(performance.now() - t);
      const machines = JSON.parse(body.toString('utf8')) as unknown[];
      decoded.push(performance.now() - t);
      if (i === 0 && machines.length < listCount) console.error(`warning: listed ${machines.length} machines, expected ${listCount}`);
    }
    return { createSeconds, list, decoded };
  } finally {
    await server.stop();
  }
}

function ms(v: number): string {
  return `${v.toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { machines: { type: 'string', default: '30' }, create: { type: 'string', default: '1000' }, list: { type: 'string', default: '10000' } } });
  const n = Number(values.machines);
  const createCount = Number(values.create);
  const listCount = Math.max(Number(values.list), createCount);

  console.error(`bench/api: ${n} hello machines (process driver), then ${createCount} and ${listCount} machines (fake driver)...`);
  const startup = await machineStartup(n);
  const scale = await fakeScale(createCount, listCount);

  const directP50 = percentile(startup.direct, 50);
  const httpP50 = percentile(startup.http, 50);
  const rows: [string, string, string, string, string][] = [
    [`direct spawn → first HTTP (n=${n})`, ms(directP50), ms(percentile(startup.direct, 99)), 'baseline', ''],
    [`machine create → started (n=${n})`, ms(percentile(startup.started, 50)), ms(percentile(startup.started, 99)), '', ''],
    [`machine create → first HTTP (n=${n})`, ms(httpP50), ms(percentile(startup.http, 99)), '≤ 1.5× direct', `${(httpP50 / directP50).toFixed(2)}×`],
    [`create ${createCount} machines (fake)`, `${scale.createSeconds.toFixed(2)} s total`, '', '≤ 10 s', scale.createSeconds <= 10 ? 'met' : 'missed'],
    [`GET /v1/apps/x/machines (${listCount}, fake)`, ms(percentile(scale.list, 50)), ms(percentile(scale.list, 99)), '≤ 50 ms', percentile(scale.list, 50) <= 50 ? 'met' : 'missed'],
    ['  … plus the client decoding the JSON', ms(percentile(scale.decoded, 50)), ms(percentile(scale.decoded, 99)), '', ''],
  ];
  const headers = ['measure', 'p50', 'p99', 'target', 'result'];
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  for (const r of all) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  const ratio = httpP50 / directP50;
  console.log(`\nmachine first-HTTP p50 is ${ratio.toFixed(2)}× the direct spawn (${ratio <= 1.5 ? 'within' : 'over'} the 1.5× target)`);
}

await main();
