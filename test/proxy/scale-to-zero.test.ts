/**
 * Scale to zero end to end (reference §1c): a real server process (process driver, real
 * machines running examples/hello), two machines with `autostop = stop` and
 * `min_machines_running = 0`. The autostop loop stops both, one per round; the next request
 * through the proxy starts one and gets the app's 200.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../src/client/api.js';
import { getText } from './helpers.js';
import { startServerChild, type ServerChild } from './server-child.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'hangar-zero-'));
let running: ServerChild | undefined;

after(async () => {
  await running?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('scale to zero: two idle machines stop one per round; the next request starts one and gets a 200', { timeout: 90_000 }, async () => {
  const srv = await startServerChild(dataDir, 200);
  running = srv;
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
  const res = await getText(srv.proxy, 'zero.localhost');
  assert.equal(res.status, 200, res.body);
  assert.match(res.body, /^Hello from Hangar machine [0-9a-f]+ in ams/);
  const states = (await client.listMachines('zero')).map((m) => m.state);
  assert.ok(states.includes('started'), `one machine was started: ${states.join(',')}`);
});
