/**
 * bench/dns: the `.internal` resolver's speed over UDP on 127.0.0.1.
 *
 * Three processes, so the bench measures the resolver and not two event loops fighting over a
 * core: the server (`ThreadedDnsServer`, as `hangar server` runs it: a DnsServer on a worker
 * thread, with a zone of 1,000 apps × 10 started machines) pinned to core 0
 * with `taskset -c 0`, the load generator pinned to core 1, and this orchestrator, which sleeps
 * while a load runs. The baseline (STYLE.md habit 14) is a bare UDP echo server in the same kind
 * of process, same pinning, same socket options, same generator: the cost of Node's UDP path
 * alone. Both servers stay up for the whole run and the loads alternate between them (echo, DNS,
 * echo, DNS, ...), so a burst of noise from other work on the machine hits both.
 *
 * Per server: "max" (closed loop: `--window` queries in flight per socket) and the target rate
 * (open loop, paced evenly: latency at that load, without the queue a saturated closed loop
 * measures). Each row gives p50/p99/p99.9, the server's CPU µs per query (utime+stime deltas from
 * /proc/<pid>/stat), the event-loop utilization and GC pauses of the thread that answers (the
 * DNS worker, the echo server's main thread), and how long the server's threads and the
 * generator sat runnable but off-CPU (run-queue wait, /proc/<pid>/task/<tid>/schedstat): on a shared machine
 * that column says whether a bad p99 was the resolver or somebody else's process on its core.
 * The DNS server also times `Responder.respond` alone, without sockets (CPU ns per cached query).
 * Targets (issue): >= 20k qps, p99 <= 1 ms at 20k qps. Prints a table; never asserts.
 *
 *   node dist/bench/dns.js [--seconds 2.5] [--rounds 3] [--rate 20000] [--sockets 4] [--window 8] [--apps 1000]
 *
 * The queries ask AAAA of `<app>.internal` and `<id>.vm.<app>.internal`.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { PerformanceObserver, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encode } from 'dns-packet';
import { buildZone, type Zone, type ZoneApp, type ZoneMachine } from '../src/core/dns/zone.js';
import { Responder } from '../src/dns/respond.js';
import { literalLookup } from '../src/dns/server.js';
import { ThreadedDnsServer } from '../src/dns/thread.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    kind: { type: 'string', default: 'dns' },
    port: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '2.5' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '20000' },
    sockets: { type: 'string', default: '4' },
    window: { type: 'string', default: '8' },
    apps: { type: 'string', default: '1000' },
  },
});
// keeps the whole run well under a minute whatever is asked
const seconds = Math.min(4, Number(values.seconds));
const rounds = Math.min(3, Number(values.rounds));
const nApps = Number(values.apps);

function zoneInput(): { apps: ZoneApp[]; machines: ZoneMachine[] } {
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
  return { apps, machines };
}

/** 4,000 distinct questions, half `<app>.internal`, half `<id>.vm.<app>.internal`. */
function benchQueries(): Buffer[] {
  const { machines } = zoneInput();
  const queries: Buffer[] = [];
  for (let i = 0; i < 4000; i++) {
    const a = (i * 7919) % nApps;
    const name = i % 2 === 0 ? `app${a}.internal` : `${machines[a * 10 + (i % 10)]!.id}.vm.app${a}.internal`;
    queries.push(encode({ type: 'query', id: 0, flags: 1 << 8, questions: [{ name, type: 'AAAA' }] }));
  }
  return queries;
}

/**
 * CPU time of `Responder.respond` alone for cached questions (no sockets), ns per query: the
 * resolver's own share of the per-query cost, which the socket rows cannot separate from Node's
 * UDP path. CPU time rather than wall time, so a preempted run does not inflate it.
 */
function respondCost(zone: Zone): number {
  const r = new Responder();
  r.setZone(zone);
  const queries = benchQueries();
  for (const q of queries) r.respond('default', q, 'udp');
  const n = 400_000;
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) r.respond('default', queries[i % queries.length]!, 'udp');
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / n;
}

// ---------------------------------------------------------------- server process (core 0)

/**
 * Serves until stdin closes. Each line on stdin is a mark: it answers with the event-loop
 * utilization and GC pauses since the previous mark, so the orchestrator can bracket a load.
 */
async function serverRole(): Promise<void> {
  let threaded: ThreadedDnsServer | undefined;
  let port: number;
  let buildMs = 0;
  let respondNs = 0;
  if (values.kind === 'echo') {
    const echo = createSocket({ type: 'udp4', lookup: literalLookup });
    echo.on('message', (msg, r) => echo.send(msg, r.port, r.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
    port = echo.address().port;
  } else {
    const t0 = performance.now();
    const input = { ...zoneInput(), localRegion: 'iad' };
    const zone = buildZone(input);
    buildMs = performance.now() - t0;
    respondNs = respondCost(zone);
    // As `hangar server` runs it (src/server/dns.ts): on its own thread, zone built there.
    const server = new ThreadedDnsServer();
    await server.setZoneInput(input);
    port = (await server.listen({ network: 'default', host: '127.0.0.1', port: 0 })).port;
    threaded = server;
  }
  let gcCount = 0;
  let gcMs = 0;
  let gcMaxMs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcCount++;
      gcMs += e.duration;
      gcMaxMs = Math.max(gcMaxMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  // The thread that answers: the DNS server's worker, or the echo server's main thread.
  const loopUse = (a?: EventLoopUtilization, b?: EventLoopUtilization): EventLoopUtilization => (threaded ? threaded.eventLoopUtilization(a, b) : performance.eventLoopUtilization(a, b));
  let elu = loopUse();
  console.log(JSON.stringify({ port, buildMs, respondNs }));
  const lines = createInterface({ input: process.stdin });
  lines.on('line', () => {
    void (async () => {
      const now = loopUse();
      const gc = threaded ? await threaded.stats() : { gcCount, gcMs, gcMaxMs };
      console.log(JSON.stringify({ elu: loopUse(now, elu).utilization, ...gc }));
      elu = now;
      gcCount = 0;
      gcMs = 0;
      gcMaxMs = 0;
    })();
  });
  lines.on('close', () => process.exit(0));
}

// ---------------------------------------------------------------- load process (core 1)

interface LoadResult {
  /** The generator's run-queue wait during the load, ms. */
  waitMs: number;
  done: number;
  lost: number;
  elapsedMs: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Sends for `seconds`, then waits up to 1 s for the replies in flight (counted lost after that).
 * `rate` 0: closed loop. Otherwise open loop paced by setImmediate: each turn of the event loop
 * sends what the schedule says is due (usually one query), so queries go out evenly instead of in
 * 1 ms timer bursts whose queueing the server would be blamed for; replies are read between turns.
 * Times come from performance.now() and live in typed arrays, so the generator itself makes
 * almost no garbage.
 */
async function loadRole(): Promise<void> {
  const port = Number(values.port);
  const rate = Number(values.rate);
  const nSockets = Number(values.sockets);
  const window = Number(values.window);
  const queries = benchQueries();
  const latencies = new Float64Array(Math.ceil((rate || 400_000) * (seconds + 1)));
  let done = 0;
  let sent = 0;
  let inflight = 0;
  let sending = true;
  const socks: Socket[] = [];
  const sentAt: Float64Array[] = [];
  const nextId: number[] = [];
  const send = (s: number) => {
    const q = queries[sent % queries.length]!;
    const id = nextId[s]!;
    nextId[s] = (id + 1) & 0xffff;
    q[0] = id >> 8;
    q[1] = id & 0xff;
    sent++;
    inflight++;
    sentAt[s]![id] = performance.now();
    // dgram does not copy: a send the kernel defers still points at `q`, whose id the next
    // use rewrites; that use is 4,000 sends later
    socks[s]!.send(q, port, '127.0.0.1');
  };
  let drained: () => void = () => undefined;
  for (let s = 0; s < nSockets; s++) {
    const sock = createSocket({ type: 'udp4', lookup: literalLookup });
    const times = new Float64Array(65536);
    sock.on('message', (msg) => {
      const id = (msg[0]! << 8) | msg[1]!;
      const t0 = times[id]!;
      if (t0 === 0) return;
      times[id] = 0;
      inflight--;
      if (done < latencies.length) latencies[done] = (performance.now() - t0) * 1000;
      done++;
      if (sending && rate === 0) send(s);
      else if (!sending && inflight === 0) drained();
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    socks.push(sock);
    sentAt.push(times);
    nextId.push(0);
  }
  const wait0 = runQueueWaitMs('self');
  const start = performance.now();
  const end = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    const stop = () => {
      sending = false;
      if (inflight === 0) return resolve();
      const timer = setTimeout(resolve, 1000);
      drained = () => {
        clearTimeout(timer);
        resolve();
      };
    };
    if (rate === 0) {
      for (let s = 0; s < nSockets; s++) for (let i = 0; i < window; i++) send(s);
      setTimeout(stop, seconds * 1000);
      return;
    }
    let turn = 0;
    const pace = () => {
      const now = performance.now();
      if (now >= end) return stop();
      const due = Math.floor(((now - start) * rate) / 1000);
      while (sent < due) send(turn++ % nSockets);
      setImmediate(pace);
    };
    pace();
  });
  const elapsedMs = Math.min(performance.now(), end) - start;
  const sorted = latencies.subarray(0, Math.min(done, latencies.length)).sort();
  const pct = (p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!);
  const result: LoadResult = { waitMs: runQueueWaitMs('self') - wait0, done, lost: inflight, elapsedMs, p50: pct(0.5), p99: pct(0.99), p999: pct(0.999), max: pct(1) };
  console.log(JSON.stringify(result));
  for (const s of socks) s.close();
}

// ---------------------------------------------------------------- orchestrator

const script = fileURLToPath(import.meta.url);
const children: ChildProcess[] = [];

/** argv prefix pinning a process to `core`, or none (with a note) when taskset or a 2nd core is missing. */
let pinning: (core: number) => string[] = (core) => ['taskset', '-c', String(core)];

function nodeProcess(core: number, args: string[]): ChildProcess {
  const argv = [...pinning(core), process.execPath, script, ...args];
  const c = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(c);
  return c;
}

/** Reads JSON lines from a child's stdout, one per call. */
function jsonLines(c: ChildProcess): () => Promise<Record<string, number>> {
  const queue: string[] = [];
  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  createInterface({ input: c.stdout! }).on('line', (line) => {
    const w = waiting.shift();
    if (w) w.resolve(line);
    else queue.push(line);
  });
  c.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`${c.spawnargs.join(' ')} exited (${code})`));
  });
  return () =>
    new Promise((resolve, reject) => {
      const take = (line: string) => resolve(JSON.parse(line) as Record<string, number>);
      const line = queue.shift();
      if (line !== undefined) take(line);
      else waiting.push({ resolve: take, reject });
    });
}

/**
 * Time `pid`'s threads spent runnable but waiting for a CPU, ms (2nd field of each thread's
 * schedstat): the DNS server answers on a worker thread, the echo server on its main thread.
 */
function runQueueWaitMs(pid: number | 'self'): number {
  try {
    return readdirSync(`/proc/${pid}/task`).reduce((sum, tid) => sum + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]) / 1e6, 0);
  } catch {
    // kernels without CONFIG_SCHEDSTATS
    return NaN;
  }
}

let clkTck = 100;
/** utime + stime of `pid` in µs (fields 14 and 15 of /proc/<pid>/stat, after the `(comm)`). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clkTck;
}

interface Server {
  kind: 'echo' | 'dns';
  proc: ChildProcess;
  port: number;
  next: () => Promise<Record<string, number>>;
}

async function startServer(kind: 'echo' | 'dns'): Promise<Server & { buildMs: number; respondNs: number }> {
  const proc = nodeProcess(0, ['--role', 'server', '--kind', kind, '--apps', String(nApps)]);
  const next = jsonLines(proc);
  const { port, buildMs, respondNs } = await next();
  return { kind, proc, port: port!, next, buildMs: buildMs ?? 0, respondNs: respondNs ?? NaN };
}

interface Row {
  load: string;
  r: LoadResult;
  cpuPerQuery: number;
  serverWaitMs: number;
  elu: number;
  gc: string;
}

async function runLoad(server: Server, rate: number, secs: number): Promise<Row> {
  server.proc.stdin!.write('mark\n');
  await server.next();
  const cpu0 = cpuMicros(server.proc.pid!);
  const wait0 = runQueueWaitMs(server.proc.pid!);
  const load = nodeProcess(1, ['--role', 'load', '--port', String(server.port), '--rate', String(rate), '--seconds', String(secs), '--sockets', String(values.sockets), '--window', String(values.window), '--apps', String(nApps)]);
  const r = (await jsonLines(load)()) as unknown as LoadResult;
  const cpu = cpuMicros(server.proc.pid!) - cpu0;
  const serverWaitMs = runQueueWaitMs(server.proc.pid!) - wait0;
  server.proc.stdin!.write('mark\n');
  const s = await server.next();
  const what = server.kind === 'echo' ? 'UDP echo (baseline)' : '.internal AAAA';
  return {
    load: `${what}, ${rate === 0 ? 'max' : `${rate}/s`}`,
    r,
    cpuPerQuery: cpu / Math.max(1, r.done),
    serverWaitMs,
    elu: s.elu ?? NaN,
    gc: `${s.gcCount} / ${(s.gcMs ?? 0).toFixed(1)} / ${(s.gcMaxMs ?? 0).toFixed(2)}`,
  };
}

function printTable(rows: Row[]): void {
  const headers = ['load', 'answered', 'lost', 'qps', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs', 'server CPU µs/q', 'server ELU', 'GCs / ms / max ms', 'run-queue wait ms srv / gen'];
  const cells = [
    headers,
    ...rows.map(({ load, r, cpuPerQuery, serverWaitMs, elu, gc }) => [
      load,
      String(r.done),
      String(r.lost),
      String(Math.round((r.done / r.elapsedMs) * 1000)),
      r.p50.toFixed(0),
      r.p99.toFixed(0),
      r.p999.toFixed(0),
      r.max.toFixed(0),
      cpuPerQuery.toFixed(1),
      elu.toFixed(2),
      gc,
      `${serverWaitMs.toFixed(1)} / ${r.waitMs.toFixed(1)}`,
    ]),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  for (const c of cells) console.log(c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const rate = Number(values.rate);
  try {
    clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    // Linux has used 100 everywhere for decades
  }
  if (spawnSync('taskset', ['-V']).error) {
    pinning = () => [];
    console.log('note: taskset not found; server and load generator are not pinned and may share a core');
  } else if (availableParallelism() < 2) {
    pinning = () => [];
    console.log('note: one CPU only; server and load generator share it');
  }
  const [echo, dns] = await Promise.all([startServer('echo'), startServer('dns')]);
  // warm-up: JIT both servers and fill the DNS reply cache (4,000 distinct questions)
  for (const s of [echo, dns]) await runLoad(s, 0, 0.5);

  const rows: Row[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const r of [0, rate]) for (const s of [echo, dns]) rows.push(await runLoad(s, r, seconds));
  }
  for (const s of [echo, dns]) s.proc.stdin!.end();

  const [l1, l5] = loadavg();
  console.log(`zone: ${nApps} apps × 10 machines, built in ${dns.buildMs.toFixed(1)} ms; Responder.respond alone (cached, no sockets): ${dns.respondNs.toFixed(0)} ns CPU per query`);
  console.log(`server on core 0, generator on core 1; ${values.sockets} sockets (max: ${values.window} in flight each); ${rounds} rounds of ${seconds} s per load, interleaved; load average ${l1!.toFixed(2)} ${l5!.toFixed(2)}`);
  printTable(rows.sort((a, b) => (a.load < b.load ? -1 : a.load > b.load ? 1 : 0)));
  const maxQps = median(rows.filter((x) => x.load === '.internal AAAA, max').map((x) => (x.r.done / x.r.elapsedMs) * 1000));
  const p99s = rows.filter((x) => x.load === `.internal AAAA, ${rate}/s`).map((x) => x.r.p99);
  const p99 = median(p99s);
  const echoP99 = median(rows.filter((x) => x.load === `UDP echo (baseline), ${rate}/s`).map((x) => x.r.p99));
  console.log(`targets (median of ${rounds} rounds): qps ${Math.round(maxQps)} ${maxQps >= 20000 ? 'met' : 'NOT met'} (>= 20000); p99 at ${rate}/s ${p99.toFixed(0)} µs ${p99 <= 1000 ? 'met' : 'NOT met'} (<= 1000; best round ${Math.min(...p99s).toFixed(0)} µs; echo baseline ${echoP99.toFixed(0)} µs)`);
}

if (values.role === 'server') await serverRole();
else if (values.role === 'load') await loadRole();
else {
  const killAll = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  await main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
  killAll();
}
