import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ServerError } from '../../src/server/errors.js';
import { acquireLock } from '../../src/server/lock.js';
import { startServer } from '../../src/server/main.js';
import { createDriver } from '../../src/drivers/index.js';
import { chooseDriver, loadHostId, parseApiAddr, urlHost } from '../../src/server/setup.js';
import { resolveDataDir } from '../../src/env.js';

const isCode = (code: ServerError['code']) => (err: unknown) => err instanceof ServerError && err.code === code;

describe('server setup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-setup-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('data dir: flag, then HANGAR_DATA_DIR, then ~/.hangar', () => {
    assert.equal(resolveDataDir('/x', { HANGAR_DATA_DIR: '/y' }), '/x');
    assert.equal(resolveDataDir(undefined, { HANGAR_DATA_DIR: '/y' }), '/y');
    assert.match(resolveDataDir(undefined, {}), /\.hangar$/);
  });

  test('api address parsing', () => {
    assert.deepEqual(parseApiAddr('127.0.0.1:4280'), { host: '127.0.0.1', port: 4280 });
    assert.deepEqual(parseApiAddr('[::1]:0'), { host: '::1', port: 0 });
    assert.equal(urlHost('::1'), '[::1]');
    for (const bad of ['4280', 'host:', 'a:b', '1.2.3.4:70000', '::1:4280']) assert.throws(() => parseApiAddr(bad), isCode('HANGAR_ERR_SERVER_USAGE'), bad);
  });

  test('host id is created once and kept', () => {
    const id = loadHostId(dir);
    assert.match(id, /^host-[0-9a-f]{12}$/);
    assert.equal(loadHostId(dir), id);
    writeFileSync(join(dir, 'host-id'), 'NOT VALID\n');
    assert.notEqual(loadHostId(dir), 'NOT VALID');
  });

  test('driver choice: requested, unknown, unavailable, best available', async () => {
    const fake = await chooseDriver('fake');
    assert.equal(fake.driver.name, 'fake');
    await fake.driver.close();
    await assert.rejects(chooseDriver('nope'), /not available in this build/);
    // crun: chosen when asked and usable here (root, crun installed), refused with the reason otherwise
    const crunOpts = () => ({ crun: { dataDir: dir } });
    const crunUsable = (await createDriver('crun', crunOpts()).fingerprint()).available;
    if (crunUsable) {
      const crun = await chooseDriver('crun', crunOpts);
      assert.equal(crun.driver.name, 'crun');
      await crun.driver.close();
    } else {
      await assert.rejects(chooseDriver('crun', crunOpts), isCode('HANGAR_ERR_SERVER_DRIVER'));
    }
    // unasked, the process driver runs (dir: images need the host's programs), with a note on crun
    const best = await chooseDriver(undefined, crunOpts);
    assert.equal(best.driver.name, 'process');
    assert.match(best.notes.join('\n'), crunUsable ? /pass --driver crun/ : /crun not used/);
    await best.driver.close();
  });

  test('lock: refused while held by a live process, stale lock taken over', async () => {
    const lock = acquireLock(dir);
    assert.throws(() => acquireLock(dir), (err: unknown) => isCode('HANGAR_ERR_SERVER_LOCKED')(err) && /pid \d+/.test((err as Error).message));
    lock.release();
    // A lock left by a process that is gone (kill -9): taken over.
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid as number;
    await new Promise((r) => child.once('exit', r));
    writeFileSync(join(dir, 'server.lock'), JSON.stringify({ pid: deadPid, started_at: 'then' }));
    const again = acquireLock(dir);
    assert.equal(JSON.parse(readFileSync(join(dir, 'server.lock'), 'utf8')).pid, process.pid);
    // A live pid with another start time is a recycled pid: stale too.
    again.release();
    writeFileSync(join(dir, 'server.lock'), JSON.stringify({ pid: process.pid, start_ticks: 1, started_at: 'then' }));
    acquireLock(dir).release();
    // Garbage in the lock file: stale.
    writeFileSync(join(dir, 'server.lock'), 'garbage');
    acquireLock(dir).release();
  });
});

describe('startServer in-process (fake driver)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-srv-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('starts, refuses a second one, leaves an existing CLI config for another URL alone, closes', async () => {
    const cliConfig = join(dir, 'cli.json');
    writeFileSync(cliConfig, JSON.stringify({ api_url: 'http://elsewhere:1', token: 't' }));
    const lines: string[] = [];
    const opts = { dataDir: join(dir, 'data'), apiAddr: '127.0.0.1:0', driver: 'fake', region: 'local', logLevel: 'error', print: (l: string) => lines.push(l), env: { HANGAR_CONFIG: cliConfig } };
    const srv = await startServer(opts);
    try {
      assert.match(lines.join('\n'), /left unchanged[\s\S]*export HANGAR_API_URL=http:\/\/127\.0\.0\.1:\d+ HANGAR_API_TOKEN=/);
      assert.deepEqual(JSON.parse(readFileSync(cliConfig, 'utf8')), { api_url: 'http://elsewhere:1', token: 't' });
      const res = await fetch(`${srv.url}/v1/apps?org_slug=personal`);
      assert.equal(res.status, 401, 'the API answers (and wants a token)');
      await assert.rejects(startServer(opts), isCode('HANGAR_ERR_SERVER_LOCKED'));
    } finally {
      await srv.close();
    }
    // Second start: no new token, lock free again.
    const lines2: string[] = [];
    const srv2 = await startServer({ ...opts, print: (l: string) => lines2.push(l) });
    await srv2.close();
    assert.doesNotMatch(lines2.join('\n'), /Admin token/);
  });

  test('a bad address fails before anything is opened', async () => {
    await assert.rejects(startServer({ dataDir: join(dir, 'd2'), apiAddr: 'nope', region: 'local', print: () => {} }), isCode('HANGAR_ERR_SERVER_USAGE'));
  });

  test('a port in use fails the start and releases the lock', async () => {
    const opts = { dataDir: join(dir, 'd3'), apiAddr: '127.0.0.1:0', driver: 'fake', region: 'local', logLevel: 'silent', print: () => {}, env: { HANGAR_CONFIG: join(dir, 'c3.json') } };
    const a = await startServer(opts);
    const port = new URL(a.url).port;
    try {
      await assert.rejects(startServer({ ...opts, dataDir: join(dir, 'd4'), apiAddr: `127.0.0.1:${port}` }), /EADDRINUSE/);
      acquireLock(join(dir, 'd4')).release();
    } finally {
      await a.close();
    }
  });
});
