/**
 * bench/proxy: Hangar's edge proxy against nginx and HAProxy (STYLE.md habit 14: baselines in
 * the same run). Each proxy runs alone pinned to core 0 (`taskset -c 0`), `wrk` on core 1, HTTP/1.1
 * keep-alive at 8 and 64 connections, against two upstreams: a Node HTTP app, and nginx serving a
 * small file (the proxy's own ceiling; CPU µs per request read from /proc/<pid>/stat). Then raw
 * TCP: Hangar's splice vs HAProxy `mode tcp`. `node splice` is a bare Node TCP splice (accept,
 * connect, pipe; bench/proxy-splice.ts) in the same conditions: the ceiling for anything built on
 * Node's sockets, HTTP proxy or not. Loopback only; every process started is killed.
 * Prints a table; never asserts.
 *
 *   node dist/bench/proxy.js [--seconds 4]
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' } } });
const seconds = Math.min(10, Number(values.seconds));
const dir = mkdtempSync(join(tmpdir(), 'hangar-bench-proxy-'));
const children: ChildProcess[] = [];
const P = { staticUp: 18801, appUp: 18802, nginx: 18810, haproxy: 18811, hangar: 18812, splice: 18813, haproxyTcp: 18821, hangarTcp: 18822 };

function start(cmd: string, args: string[], core?: number): ChildProcess {
  const argv = core === undefined ? [cmd, ...args] : ['taskset', '-c', String(core), cmd, ...args];
  const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } });
  c.stderr?.on('data', (d) => process.stderr.write(`[${cmd}] ${d}`));
  children.push(c);
  return c;
}

async function waitPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened`);
}

function nginxConf(name: string, body: string): string {
  const prefix = join(dir, name);
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;\nmaster_process off;\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/error.log;\nevents { worker_connections 4096; }\nhttp {\n access_log off;\n client_body_temp_path ${prefix}/t1; proxy_temp_path ${prefix}/t2; fastcgi_temp_path ${prefix}/t3; uwsgi_temp_path ${prefix}/t4; scgi_temp_path ${prefix}/t5;\n keepalive_requests 1000000;\n${body}\n}\n`,
  );
  return conf;
}

function startNginx(name: string, body: string, core?: number): ChildProcess {
  const conf = nginxConf(name, body);
  return start('nginx', ['-p', join(dir, name), '-c', conf, '-g', 'daemon off;'], core);
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

interface Run {
  label: string;
  rps: number;
  p50: string;
  p99: string;
  cpuUs: number;
}

function toUs(s: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(s);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 1 : m[2] === 'ms' ? 1000 : 1e6);
}

function wrk(label: string, port: number, conns: number, pid: number | undefined): Run {
  const before = pid ? cpuTicks(pid) : 0;
  const out = execFileSync('taskset', ['-c', '1', 'wrk', '-t1', `-c${conns}`, `-d${seconds}s`, '--latency', '-H', 'Host: web.localhost', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const after = pid ? cpuTicks(pid) : 0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const total = rps * seconds;
  const cpuUs = pid && total > 0 ? ((after - before) * 10_000) / total : NaN; // 100 ticks/s
  if (/Non-2xx/.test(out)) process.stderr.write(`${label}: ${/Non-2xx.*$/m.exec(out)?.[0]}\n`);
  return { label, rps, p50, p99, cpuUs };
}

function tcpRun(label: string, port: number, pid: number): Run {
  // HTTP over the TCP splice: wrk's keep-alive connections stay on one upstream connection each.
  return wrk(label, port, 64, pid);
}

async function main(): Promise<void> {
  const here = fileURLToPath(new URL('.', import.meta.url));
  writeFileSync(join(dir, 'index.html'), 'hello from the static upstream\n');
  startNginx('static', ` server { listen 127.0.0.1:${P.staticUp}; location / { root ${dir}; index index.html; } }`, 1);
  const appSrc = `require('http').createServer((q,s)=>{s.setHeader('content-type','text/plain');s.end('hello from the app\\n')}).listen(${P.appUp},'127.0.0.1')`;
  start(process.execPath, ['-e', appSrc], 1);
  await waitPort(P.staticUp);
  await waitPort(P.appUp);
  const rows: string[][] = [];
  const cpus = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim();
  for (const [upName, upPort] of [['static nginx', P.staticUp], ['node app', P.appUp]] as const) {
    const ng = startNginx(`proxy-${upPort}`, ` upstream u { server 127.0.0.1:${upPort}; keepalive 128; }\n server { listen 127.0.0.1:${P.nginx}; location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; } }`, 0);
    const hcfg = join(dir, `haproxy-${upPort}.cfg`);
    writeFileSync(hcfg, `global\n nbthread 1\ndefaults\n mode http\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n option forwardfor\n http-reuse always\nfrontend f\n bind 127.0.0.1:${P.haproxy}\n default_backend b\nbackend b\n server s1 127.0.0.1:${upPort}\nfrontend ft\n mode tcp\n bind 127.0.0.1:${P.haproxyTcp}\n default_backend bt\nbackend bt\n mode tcp\n server s1 127.0.0.1:${upPort}\n`);
    const ha = start('haproxy', ['-f', hcfg, '-db'], 0);
    const hg = start(process.execPath, [join(here, 'proxy-server.js'), String(upPort), String(P.hangar), String(P.hangarTcp)], 0);
    const sp = start(process.execPath, [join(here, 'proxy-splice.js'), String(upPort), String(P.splice)], 0);
    await Promise.all([waitPort(P.nginx), waitPort(P.haproxy), waitPort(P.hangar), waitPort(P.hangarTcp), waitPort(P.splice)]);
    for (const conns of [8, 64]) {
      const direct = wrk('direct', upPort, conns, undefined);
      const n = wrk('nginx', P.nginx, conns, ng.pid!);
      const h = wrk('haproxy', P.haproxy, conns, ha.pid!);
      const g = wrk('hangar', P.hangar, conns, hg.pid!);
      const b = wrk('node splice', P.splice, conns, sp.pid!);
      for (const r of [direct, n, h, g, b]) {
        rows.push([upName, String(conns), r.label, r.rps.toFixed(0), r.p50, r.p99, Number.isNaN(r.cpuUs) ? '-' : r.cpuUs.toFixed(1), (r.rps / n.rps).toFixed(2), (toUs(r.p99) / toUs(n.p99)).toFixed(2)]);
      }
    }
    if (upPort === P.staticUp) {
      const ht = tcpRun('haproxy tcp', P.haproxyTcp, ha.pid!);
      const gt = tcpRun('hangar tcp', P.hangarTcp, hg.pid!);
      const bt = tcpRun('node splice', P.splice, sp.pid!);
      for (const r of [ht, gt, bt]) rows.push([upName, '64', r.label, r.rps.toFixed(0), r.p50, r.p99, r.cpuUs.toFixed(1), `${(r.rps / ht.rps).toFixed(2)} (vs haproxy tcp)`, (toUs(r.p99) / toUs(ht.p99)).toFixed(2)]);
    }
    for (const c of [ng, ha, hg, sp]) c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
  }
  const head = ['upstream', 'conns', 'proxy', 'rps', 'p50', 'p99', 'cpu µs/req', 'rps/nginx', 'p99/nginx'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(`bench/proxy: ${seconds}s per run, proxies pinned to core 0, wrk to core 1; loadavg before: ${cpus}`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

process.on('SIGINT', () => (cleanup(), process.exit(130)));
try {
  await main();
} finally {
  cleanup();
}
