/**
 * bench/machine-start: how long an isolated machine takes to serve its first HTTP response.
 *
 * One run of `hangar server --driver crun` on a temp data dir with a busybox image; for each of
 * `--count` machines (busybox httpd on :8080): create (API) → first HTTP response from the host
 * over 6PN, then stop → start → first response. Baseline in the same run (STYLE.md habit 14): a
 * bare host spawn of the same server (`busybox httpd` on a loopback port) → first response.
 * Target: crun create p50 ≤ 1.3 × bare spawn p50. Prints a table; never asserts; cleans up.
 *
 *   node dist/bench/machine-start.js [--count 30]
 *
 * Needs root and crun (else it says why and exits).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { networkNumberOf } from '../src/core/net/sixpn.js';
import { NetRunner } from '../src/net/apply.js';
import { cleanup } from '../src/net/cleanup.js';
import { api, httpdConfig, importImage, skipReason, startServer, waitState, type Server } from '../test/isolation/harness.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '30' } } });
const COUNT = Math.max(1, Math.min(100, Number(values.count)));

async function firstResponse(url: string, t0: number, limitMs = 20_000): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(50) });
      await res.text();
      if (res.ok) return performance.now() - t0;
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > limitMs) throw new Error(`${url}: no response in ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function bare(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const t0 = performance.now();
    const child = spawn('/usr/bin/busybox', ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/etc'], { stdio: 'ignore' });
    try {
      out.push(await firstResponse(`http://127.0.0.1:${port}/hostname`, t0));
    } finally {
      child.kill('SIGKILL');
    }
  }
  return out;
}

async function main(): Promise<void> {
  const reason = await skipReason();
  if (reason) {
    console.log(`machine-start bench skipped: ${reason}`);
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-bench-start-'));
  let srv: Server | undefined;
  const ids: string[] = [];
  const networks = new Set<number>();
  try {
    await importImage(dataDir);
    srv = await startServer(dataDir);
    await api(srv, 'POST', '/v1/apps', { app_name: 'bench', org_slug: 'personal' });
    const create: number[] = [];
    const restart: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      const t0 = performance.now();
      const r = await api(srv, 'POST', '/v1/apps/bench/machines', { config: httpdConfig(`m${i}\n`), region: 'local' });
      if (r.status !== 200) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
      const id = String(r.json['id']);
      const ip = String(r.json['private_ip']);
      ids.push(id);
      networks.add(networkNumberOf(ip));
      create.push(await firstResponse(`http://[${ip}]:8080/`, t0));
    }
    for (const id of ids.slice(0, Math.min(ids.length, COUNT))) {
      const m = (await api(srv, 'GET', `/v1/apps/bench/machines/${id}`)).json;
      await api(srv, 'POST', `/v1/apps/bench/machines/${id}/stop`, {});
      await waitState(srv, 'bench', id, 'stopped');
      const t0 = performance.now();
      await api(srv, 'POST', `/v1/apps/bench/machines/${id}/start`, {});
      restart.push(await firstResponse(`http://[${String(m['private_ip'])}]:8080/`, t0));
    }
    const base = await bare();
    const row = (name: string, xs: number[]) => `${name.padEnd(44)} ${pct(xs, 50).toFixed(1).padStart(8)} ${pct(xs, 99).toFixed(1).padStart(8)}`;
    console.log(`machine start → first HTTP response, ${COUNT} machines (ms)`);
    console.log(`${'case'.padEnd(44)} ${'p50'.padStart(8)} ${'p99'.padStart(8)}`);
    console.log(row('crun: create → first response', create));
    console.log(row('crun: start from stopped → first response', restart));
    console.log(row('bare host spawn (busybox httpd) → response', base));
    const ratio = pct(create, 50) / pct(base, 50);
    console.log(`crun create p50 / bare spawn p50 = ${ratio.toFixed(2)} (target ≤ 1.30: ${ratio <= 1.3 ? 'met' : 'not met'})`);
  } finally {
    if (srv) {
      for (const id of ids) await api(srv, 'DELETE', `/v1/apps/bench/machines/${id}?kill=true`).catch(() => undefined);
      for (const id of ids) await waitState(srv, 'bench', id, 'destroyed', 15_000).catch(() => undefined);
      srv.child.kill('SIGTERM');
      await srv.exited;
    }
    await cleanup(new NetRunner(), (t) => (t.kind === 'bridge' && networks.has(t.network)) || (t.kind === 'table' && t.name === 'hangar')).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
