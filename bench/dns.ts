/**
 * bench/dns: the `.internal` resolver's speed over UDP on 127.0.0.1.
 *
 * The server runs in the main thread with a zone of 1,000 apps × 10 started machines; the load
 * comes from a worker thread (several client sockets, each keeping a few queries in flight)
 * asking AAAA of `<app>.internal` and `<id>.vm.<app>.internal`. The baseline, measured in the
 * same run by the same client (STYLE.md habit 14), is a bare UDP echo server: the cost of Node's
 * UDP path alone. Targets: >= 20k qps and p99 <= 1 ms. Also times one zone build.
 *
 * Prints a table; never asserts. Bounded in time and count:
 *   node dist/bench/dns.js [--seconds 3] [--max 300000] [--sockets 4] [--window 8] [--apps 1000] [--rate 20000]
 *
 * Two loads per server: "max" (closed loop, throughput) and a fixed rate (open loop, latency at
 * the target load: a saturated closed loop measures its own queue, not the server).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { encode } from 'dns-packet';
import { buildZone, type ZoneApp, type ZoneMachine } from '../src/core/dns/zone.js';
import { DnsServer } from '../src/dns/server.js';

interface LoadSpec {
  port: number;
  queries: Uint8Array[];
  seconds: number;
  max: number;
  sockets: number;
  window: number;
  /** Queries per second (open loop); 0 = closed loop. */
  rate: number;
}

interface LoadResult {
  done: number;
  lost: number;
  elapsedMs: number;
  /** Latencies in microseconds, sorted. */
  latencies: number[];
}

/**
 * Client side (worker thread). `rate` 0: closed loop, `window` queries in flight per socket (the
 * most the server can do). `rate` > 0: open loop at that many queries per second spread over the
 * sockets (latency at a given load, without the queueing a saturated closed loop adds).
 */
async function load(spec: LoadSpec): Promise<LoadResult> {
  const latencies: number[] = [];
  let done = 0;
  let lost = 0;
  let sent = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(spec.seconds * 1e9);
  const queries = spec.queries.map((q) => Buffer.from(q));
  const over = () => sent >= spec.max || process.hrtime.bigint() >= deadline;
  const clients = Array.from({ length: spec.sockets }, (_, s) => {
    const sock: Socket = createSocket('udp4');
    const inflight = new Map<number, bigint>();
    let nextId = 0;
    let closed = false;
    let resolveDone: () => void = () => undefined;
    const finished = new Promise<void>((r) => (resolveDone = r));
    const finish = () => {
      if (closed) return;
      closed = true;
      lost += inflight.size;
      clearInterval(sweeper);
      sock.close();
      resolveDone();
    };
    const send = () => {
      if (over()) {
        if (inflight.size === 0) finish();
        return;
      }
      const q = queries[(sent * 7 + s) % queries.length]!;
      const id = nextId;
      nextId = (nextId + 1) & 0xffff;
      const buf = Buffer.from(q);
      buf.writeUInt16BE(id, 0);
      sent++;
      inflight.set(id, process.hrtime.bigint());
      sock.send(buf, spec.port, '127.0.0.1');
    };
    // a lost datagram must not stall the run: give up on queries older than 1 s
    const sweeper = setInterval(() => {
      const old = process.hrtime.bigint() - 1_000_000_000n;
      for (const [id, t] of inflight) {
        if (t < old) {
          inflight.delete(id);
          lost++;
          if (spec.rate === 0) send();
        }
      }
      if (over() && inflight.size === 0) finish();
    }, 200);
    sock.on('message', (msg) => {
      const id = msg.readUInt16BE(0);
      const t0 = inflight.get(id);
      if (t0 === undefined) return;
      inflight.delete(id);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
      done++;
      if (spec.rate === 0) send();
      else if (over() && inflight.size === 0) finish();
    });
    const bound = new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    return { send, finished, bound };
  });
  await Promise.all(clients.map((c) => c.bound));
  if (spec.rate === 0) {
    for (const c of clients) for (let i = 0; i < spec.window; i++) c.send();
  } else {
    // open loop: every millisecond, catch up with the schedule
    let turn = 0;
    const ticker = setInterval(() => {
      if (over()) {
        clearInterval(ticker);
        for (const c of clients) c.send(); // lets idle clients notice the end
        return;
      }
      const due = Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * spec.rate);
      while (sent < due && !over()) clients[turn++ % clients.length]!.send();
    }, 1);
  }
  await Promise.all(clients.map((c) => c.finished));
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  latencies.sort((a, b) => a - b);
  return { done, lost, elapsedMs, latencies };
}

function runWorker(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: spec });
    w.once('message', (r: LoadResult) => resolve(r));
    w.once('error', reject);
  });
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '3' },
      max: { type: 'string', default: '300000' },
      sockets: { type: 'string', default: '4' },
      window: { type: 'string', default: '8' },
      apps: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '20000' },
    },
  });
  const nApps = Number(values.apps);
  const apps: ZoneApp[] = [];
  const machines: ZoneMachine[] = [];
  const regions = ['iad', 'ams', 'sin', 'syd', 'gru'];
  for (let a = 0; a < nApps; a++) {
    apps.push({ name: `app${a}`, network: 'default', org: 'acme' });
    for (let m = 0; m < 10; m++) {
      const n = a * 10 + m + 1;
      machines.push({ id: `m${n.toString(16).padStart(13, '0')}`, app: `app${a}`, region: regions[m % regions.length]!, state: 'started', private_ip: `fdaa:0:1:${(m + 1).toString(16)}::${n.toString(16)}:2` });
    }
  }
  const t0 = process.hrtime.bigint();
  const zone = buildZone({ apps, machines, localRegion: 'iad' });
  const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const queries: Uint8Array[] = [];
  for (let i = 0; i < 4000; i++) {
    const a = (i * 7919) % nApps;
    const name = i % 2 === 0 ? `app${a}.internal` : `${machines[a * 10 + (i % 10)]!.id}.vm.app${a}.internal`;
    queries.push(encode({ type: 'query', id: 0, flags: 1 << 8, questions: [{ name, type: 'AAAA' }] }));
  }
  const spec = { queries, seconds: Number(values.seconds), max: Number(values.max), sockets: Number(values.sockets), window: Number(values.window) };

  // baseline: a UDP echo server, same client
  const echo = createSocket('udp4');
  echo.on('message', (msg, r) => echo.send(msg, r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
  const rate = Number(values.rate);
  const baseMax = await runWorker({ ...spec, rate: 0, port: echo.address().port });
  const baseRate = await runWorker({ ...spec, rate, port: echo.address().port });
  echo.close();

  const server = new DnsServer();
  server.setZone(zone);
  const l = await server.listen({ network: 'default', host: '127.0.0.1', port: 0 });
  const dnsMax = await runWorker({ ...spec, rate: 0, port: l.port });
  const dns = await runWorker({ ...spec, rate, port: l.port });
  await server.close();

  const row = (what: string, r: LoadResult, target: string) => {
    const qps = (r.done / r.elapsedMs) * 1000;
    return [what, r.done, r.lost, Math.round(qps), pct(r.latencies, 50).toFixed(0), pct(r.latencies, 99).toFixed(0), target];
  };
  const rows = [
    row('UDP echo, max (baseline)', baseMax, '—'),
    row('.internal AAAA, max', dnsMax, '>= 20000 qps'),
    row(`UDP echo at ${rate}/s (baseline)`, baseRate, '—'),
    row(`.internal AAAA at ${rate}/s`, dns, 'p99 <= 1000 µs'),
  ];
  const headers = ['load', 'answered', 'lost', 'qps', 'p50 µs', 'p99 µs', 'target'];
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  console.log(`zone: ${nApps} apps × 10 machines, built in ${buildMs.toFixed(1)} ms; ${spec.sockets} sockets (max: ${spec.window} in flight each), ${spec.seconds} s per load`);
  for (const r of cells) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  const dnsQps = (dnsMax.done / dnsMax.elapsedMs) * 1000;
  const p99 = pct(dns.latencies, 99);
  console.log(`targets: qps ${dnsQps >= 20000 ? 'met' : 'NOT met'}, p99 ${p99 <= 1000 ? 'met' : 'NOT met'}`);
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
} else {
  load(workerData as LoadSpec).then((r) => parentPort?.postMessage(r));
}
