import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ApiClient } from '../../src/client/api.js';
import type { ApiMachine } from '../../src/client/types.js';
import { HANGAR_BIN, HELLO_DIR, startHangarServer, type RunningServer } from '../client/hangar-server.js';
import { cli, ok, okJson, useServer } from './cli-helpers.js';

const APP = 'cli-hello';

async function getText(url: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    try {
      return await (await fetch(url)).text();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

describe('hangar machine', { timeout: 180_000 }, () => {
  let server: RunningServer;
  let restore: () => void;
  let id = '';

  before(async () => {
    server = await startHangarServer({ driver: 'process' });
    restore = useServer(server, join(server.dataDir, 'test-cli-config.json'));
    await ok(['apps', 'create', APP]);
  });
  after(async () => {
    restore?.();
    await server?.stop();
  });

  it('runs a local directory and prints where it answers', async () => {
    const r = await ok(['machine', 'run', `dir:${HELLO_DIR}`, process.execPath, 'server.mjs', '-a', APP, '--name', 'web-1', '-p', '80:8080/tcp:http', '-e', 'GREETING=hi', '--restart', 'no']);
    const m = /^Machine ([0-9a-f]{14}) is started/m.exec(r.out);
    assert.ok(m, r.out);
    id = m[1] ?? '';
    const url = /internal port 8080 answers on (http:\/\/\S+)/.exec(r.out)?.[1];
    assert.ok(url, r.out);
    assert.equal(await getText(url), `Hello from Hangar machine ${id} in local\n`);
    assert.match(r.err, /created in local; waiting for it to start/);
  });

  it('lists and shows machines, as tables and JSON', async () => {
    const list = await ok(['machine', 'list', '-a', APP]);
    assert.match(list.out, /^ID\s+NAME\s+STATE\s+REGION\s+IMAGE\s+ADDRESS/m);
    assert.match(list.out, new RegExp(`^${id}\\s+web-1\\s+started\\s+local\\s+dir:${HELLO_DIR}\\s+http://`, 'm'));
    const machines = await okJson<ApiMachine[]>(['machines', 'list', '-a', APP]);
    assert.deepEqual(machines.map((x) => x.id), [id]);
    const status = await ok(['m', 'status', id, '-a', APP]);
    assert.match(status.out, /^State\s+started$/m);
    assert.match(status.out, /^Recent events$/m);
    const one = await okJson<ApiMachine>(['machine', 'status', id, '-a', APP]);
    assert.equal(one.config.env?.GREETING, 'hi');
    assert.deepEqual(one.config.init?.cmd, [process.execPath, 'server.mjs']);
    assert.deepEqual(one.config.services?.[0]?.ports, [{ port: 80, handlers: ['http'] }]);
  });

  it('stops, starts and restarts a machine', async () => {
    assert.match((await ok(['machine', 'stop', id, '-a', APP, '-s', 'SIGTERM', '--timeout', '5'])).out, new RegExp(`Machine ${id} has been stopped`));
    assert.equal((await okJson<ApiMachine>(['machine', 'status', id, '-a', APP])).state, 'stopped');
    assert.match((await ok(['machine', 'start', id, '-a', APP])).out, new RegExp(`Machine ${id} has been started`));
    const restarted = await okJson<ApiMachine>(['machine', 'restart', id, '-a', APP]);
    assert.equal(restarted.state, 'started');
  });

  it('updates a machine to a new version', async () => {
    const before = await okJson<ApiMachine>(['machine', 'status', id, '-a', APP]);
    const r = await ok(['machine', 'update', id, '-a', APP, '-e', 'GREETING=again', '--vm-memory', '512']);
    assert.match(r.err, /updated to instance/);
    const after = await okJson<ApiMachine>(['machine', 'status', id, '-a', APP]);
    assert.notEqual(after.instance_id, before.instance_id);
    assert.equal(after.config.env?.GREETING, 'again');
    assert.equal(after.config.guest?.memory_mb, 512);
    assert.equal(after.state, 'started');
  });

  it('runs a command in the machine and exits with its code', async () => {
    const r = await cli(['machine', 'exec', id, `${process.execPath} -e "console.log(process.env.GREETING); process.exit(3)"`, '-a', APP]);
    assert.equal(r.code, 3, r.err);
    assert.equal(r.out, 'again\n');
    const j = await okJson<{ exit_code: number; stdout: string }>(['machine', 'exec', id, `${process.execPath} -e "console.log(1)"`, '-a', APP]);
    assert.deepEqual([j.exit_code, j.stdout], [0, '1\n']);
  });

  it('views and clears leases', async () => {
    assert.match((await ok(['machine', 'leases', 'view', id, '-a', APP])).out, /has no lease/);
    assert.equal(await okJson(['machine', 'leases', 'view', id, '-a', APP]), null);
    const client = new ApiClient({ apiUrl: server.url, token: server.token });
    const lease = await client.acquireLease(APP, id, { ttl: 60, description: 'test holder' });
    const view = await ok(['machine', 'leases', 'view', id, '-a', APP]);
    assert.match(view.out, new RegExp(`^Nonce\\s+${lease.data.nonce}$`, 'm'));
    assert.match(view.out, /^Description\s+test holder$/m);
    // a held lease blocks changes from others, with the server's message and a suggestion
    const blocked = await cli(['machine', 'stop', id, '-a', APP]);
    assert.equal(blocked.code, 1);
    assert.match(blocked.err, /lease currently held by/);
    assert.match(blocked.err, /hangar machine leases clear/);
    assert.match((await ok(['machine', 'leases', 'clear', id, '-a', APP])).out, /Cleared the lease/);
    assert.match((await ok(['machine', 'leases', 'clear', id, '-a', APP])).out, /has no lease/);
  });

  it('clones a machine', async () => {
    const clone = await okJson<ApiMachine>(['machine', 'clone', id, '-a', APP, '--name', 'web-2']);
    assert.notEqual(clone.id, id);
    assert.equal(clone.name, 'web-2');
    assert.equal(clone.state, 'started');
    assert.equal(clone.config.env?.GREETING, 'again');
    await ok(['machine', 'destroy', clone.id, '-a', APP, '--force']);
  });

  it('shows logs, as lines and JSON', async () => {
    const r = await ok(['logs', '-a', APP, '--no-tail']);
    assert.match(r.out, new RegExp(`^\\S+ app\\[${id}\\] local \\[info\\] hello listening on `, 'm'));
    const j = await ok(['logs', '-a', APP, '-i', id, '--no-tail', '--json']);
    const lines = j.out.trim().split('\n').map((l) => JSON.parse(l) as { attributes: { instance: string; message: string } });
    assert.ok(lines.length > 0);
    assert.ok(lines.every((l) => l.attributes.instance === id));
  });

  it('follows logs until interrupted', { timeout: 30_000 }, async () => {
    const child = spawn(process.execPath, [HANGAR_BIN, 'logs', '-a', APP], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let out = '';
    const seen = (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (re.test(out)) resolve();
        };
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          check();
        });
        child.once('exit', (code) => reject(new Error(`logs exited ${code} before ${re}: ${out}`)));
        check();
      });
    try {
      await seen(/hello listening/);
      const before = out.match(/hello listening/g)?.length ?? 0;
      // a restart writes new lines (the old process says goodbye, the new one listens), which the follower must pick up
      await ok(['machine', 'restart', id, '-a', APP]);
      await seen(new RegExp(`(hello listening[\\s\\S]*){${before + 1}}`));
      assert.match(out, /hello got SIG[A-Z]+, shutting down/);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('rejects bad flags before calling the API', async () => {
    const r = await cli(['machine', 'run', `dir:${HELLO_DIR}`, '-a', APP, '-p', '80:http']);
    assert.equal(r.code, 1);
    assert.match(r.err, /invalid port "80:http": expected port\[:internal\]\[\/tcp\|udp\[:handler\.\.\.\]\]/);
    const env = await cli(['machine', 'run', `dir:${HELLO_DIR}`, '-a', APP, '-e', 'NOVALUE']);
    assert.match(env.err, /expected NAME=VALUE/);
    const restart = await cli(['machine', 'run', `dir:${HELLO_DIR}`, '-a', APP, '--restart', 'sometimes']);
    assert.notEqual(restart.code, 0);
  });

  it('explains an unknown machine', async () => {
    const r = await cli(['machine', 'status', '00000000000000', '-a', APP]);
    assert.equal(r.code, 1);
    assert.match(r.err, /not found/);
    assert.match(r.err, new RegExp(`hangar machine list -a ${APP}`));
  });

  it('destroys a machine (--force while it runs)', async () => {
    const r = await ok(['machine', 'destroy', id, '-a', APP, '-f']);
    assert.match(r.out, new RegExp(`Machine ${id} has been destroyed`));
    const left = await okJson<ApiMachine[]>(['machine', 'list', '-a', APP]);
    assert.ok(!left.some((m) => m.id === id && m.state !== 'destroyed' && m.state !== 'destroying'));
  });
});
