/**
 * Scale to zero end to end (reference §1c): a real server process (process driver, real
 * machines running examples/hello), two machines with `autostop = stop` and
 * `min_machines_running = 0`. The autostop loop stops both, one per round; the next request
 * through the proxy starts one and gets the app's 200.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../src/client/api.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'hangar-zero-'));
let child: ChildProcess | undefined;

after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child!.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
});

function startChild(): Promise<{ api: string; proxy: string; out: () => string }> {
  child = spawn(process.execPath, [join(ROOT, 'dist/test/proxy/fixtures/server-child.js'), dataDir, '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child!.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const api = /Machines API listening on (http:\/\/\S+)/.exec(out)?.[1];
      const proxy = /Edge proxy on (\S+):/.exec(out)?.[1];
      if (api && proxy) resolve({ api, proxy: `http://${proxy}`, out: () => out });
    });
    child!.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child!.once('exit', (code) => reject(new Error(`server exited (${code})\n${out}\n${err}`)));
  });
}

function get(proxyUrl: string, host: string): Promise<{ status: number; body: string }> {
  const u = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: Number(u.port), path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('scale to zero: two idle machines stop one per round; the next request starts one and gets a 200', { timeout: 90_000 }, async () => {
  const srv = await startChild();
  const client = new ApiClient({ apiUrl: srv.api, token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim() });
  await client.createApp({ app_name: 'zero' });
  const config = {
    image: `dir:${join(ROOT, 'examples/hello')}`,
    init: { exec: [process.execPath, 'server.mjs'] },
    services: [{ protocol: 'tcp' as const, internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }], autostop: true, autostart: true, min_machines_running: 0 }],
  };
  const a = await client.createMachine('zero', { config });
  const b = await client.createMachine('zero', { config });
  // Both start, then idle: the loop stops one per round until none runs. (Waiting for `started`
  // first would race with the loop, which may already have stopped the first one alone.)
  await client.waitMachine('zero', a.id, 'stopped', { timeoutMs: 30_000 });
  await client.waitMachine('zero', b.id, 'stopped', { timeoutMs: 30_000 });
  const stops = srv.out().match(/autostop: stop machine \S+ of app zero/g) ?? [];
  assert.deepEqual(new Set(stops), new Set([`autostop: stop machine ${a.id} of app zero`, `autostop: stop machine ${b.id} of app zero`]), srv.out());
  assert.equal(stops.length, 2, 'one action per machine, each in its own round');
  // The next request starts one and is answered by the app.
  const res = await get(srv.proxy, 'zero.localhost');
  assert.equal(res.status, 200, res.body);
  assert.match(res.body, /^Hello from Hangar machine [0-9a-f]+ in ams/);
  const states = (await client.listMachines('zero')).map((m) => m.state);
  assert.ok(states.includes('started'), `one machine was started: ${states.join(',')}`);
});
