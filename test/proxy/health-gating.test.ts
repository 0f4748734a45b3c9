/**
 * Health gating end to end (issue: "a machine whose http check fails stops receiving traffic
 * within two intervals and gets it back when it passes again; zero failed requests under `wrk`
 * while that happens to one of three machines"). A real `hangar server` (process driver), three
 * real machines whose `/health` fails while a marker file exists, `wrk` through the edge proxy.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from '../../src/client/api.js';
import { freePort, startHangarServer, type RunningServer } from '../client/hangar-server.js';
import { getText } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const INTERVAL_MS = 1000;
const APP = `// answers with its machine id; /health fails while <ctl>/<machine id>.sick exists
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
const id = process.env.FLY_MACHINE_ID;
const sick = process.env.CTL_DIR + '/' + id + '.sick';
createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(existsSync(sick) ? 503 : 200).end();
    return;
  }
  res.end(id);
}).listen(Number(process.env.PORT), process.env.FLY_PRIVATE_IP || '0.0.0.0');
`;

const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
const dir = mkdtempSync(join(tmpdir(), 'hangar-test-gating-'));
let server: RunningServer | undefined;
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function answeredBy(port: number): Promise<string> {
  const r = await getText(`http://127.0.0.1:${port}/`, 'gate.localhost');
  if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body}`);
  return r.body;
}

async function machinesAnswering(port: number, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(await answeredBy(port));
  return seen;
}

/** Check and route changes show within 20 s, polled every 100 ms. */
const until = (what: string, fn: () => Promise<boolean>): Promise<boolean> => waitFor(what, fn, 20_000, 100);

async function checkStatus(client: ApiClient, id: string): Promise<string | undefined> {
  const m = await client.getMachine('gate', id);
  return m.checks?.[0]?.status;
}


test('a machine failing its http check gets no traffic within two intervals, gets it back when passing, and wrk sees no failed request', { skip: hasWrk ? false : 'wrk is not installed (scripts/setup.sh installs it)', timeout: 120_000 }, async (t) => {
  writeFileSync(join(dir, 'server.mjs'), APP);
  const httpPort = await freePort();
  server = await startHangarServer({ args: ['--http-addr', `127.0.0.1:${httpPort}`, '--https-addr', '127.0.0.1:0', '--autostop-interval', '0'] });
  const client = new ApiClient({ apiUrl: server.url, token: server.token });
  await client.createApp({ app_name: 'gate' });
  const config = {
    image: `dir:${dir}`,
    init: { exec: [process.execPath, 'server.mjs'] },
    env: { CTL_DIR: dir },
    services: [
      {
        protocol: 'tcp' as const,
        internal_port: 8080,
        ports: [{ port: 80, handlers: ['http'] }],
        autostop: false,
        autostart: false,
        concurrency: { type: 'requests' as const, soft_limit: 50, hard_limit: 100 },
        checks: [{ type: 'http' as const, interval: `${INTERVAL_MS}ms`, timeout: '500ms', grace_period: '0s', method: 'get', path: '/health' }],
      },
    ],
  };
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await client.createMachine('gate', { config })).id);
  for (const id of ids) await until(`machine ${id} passing`, async () => (await checkStatus(client, id)) === 'passing');
  assert.deepEqual(await machinesAnswering(httpPort, 60), new Set(ids), 'all three machines take traffic');
  const sickId = ids[1]!;

  const wrk = new Promise<string>((resolve, reject) => {
    execFile('wrk', ['-t1', '-c8', '-d8s', '-H', 'Host: gate.localhost', `http://127.0.0.1:${httpPort}/`], (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  await sleep(1000);
  writeFileSync(join(dir, `${sickId}.sick`), '');
  const sickAt = Date.now();
  // Within two intervals (plus a little for the request round trips) it is out of the table.
  await sleep(2 * INTERVAL_MS + 300);
  const whileSick = await machinesAnswering(httpPort, 60);
  assert.equal(whileSick.has(sickId), false, `machine ${sickId} still got traffic ${Date.now() - sickAt} ms after its check began failing`);
  assert.equal(whileSick.size, 2);
  assert.equal(await checkStatus(client, sickId), 'critical');

  rmSync(join(dir, `${sickId}.sick`));
  await until(`machine ${sickId} passing again`, async () => (await checkStatus(client, sickId)) === 'passing');
  await until(`machine ${sickId} taking traffic again`, async () => (await machinesAnswering(httpPort, 30)).has(sickId));

  const out = await wrk;
  t.diagnostic(out);
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  assert.ok(total > 100, `wrk made requests: ${out}`);
  assert.doesNotMatch(out, /Non-2xx or 3xx responses/, 'no request failed while the machine went out and back');
  assert.doesNotMatch(out, /Socket errors/, 'no connection failed');
});
