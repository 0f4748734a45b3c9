/**
 * `hangar server` end to end: a real server process with the process driver, machines created
 * over HTTP, kill -9 and restart, SIGTERM, and a second server on the same data dir.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TaskHandleRecord } from '../../src/agent/handles.js';
import type { MachineEvent } from '../../src/core/machine/types.js';
import { KINDS } from '../../src/core/model.js';
import { readEnviron, readStat } from '../../src/drivers/process/procfs.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PROGRAMS_DIR = join(ROOT, 'test/fixtures/programs');

interface Server {
  child: ChildProcess;
  url: string;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

interface MachineJson {
  id: string;
  state: string;
  events: MachineEvent[];
}

/** Starts `hangar server` and resolves once the API listens (or rejects with its output if it exits). */
function startServer(dataDir: string, extra: string[] = []): Promise<Server> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/hangar.js'), 'server', '--data-dir', dataDir, '--api-addr', '127.0.0.1:0', '--driver', 'process', '--log-level', 'warn', ...extra], {
    env: { ...process.env, HANGAR_CONFIG: join(dataDir, 'cli.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const srv: Server = { child, url: '', stdout: '', stderr: '', exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      srv.stdout += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(srv.stdout);
      if (m && srv.url === '') {
        srv.url = m[1] as string;
        resolve(srv);
      }
    });
    child.stderr?.on('data', (b: Buffer) => (srv.stderr += b.toString()));
    void srv.exited.then((code) => reject(new Error(`server exited (${code}) before listening\nstdout: ${srv.stdout}\nstderr: ${srv.stderr}`)));
  });
}

/** Server state shows within 30 s, polled every 50 ms. */
const until = <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> => waitFor(what, fn, 30_000, 50);

function alive(pid: number): boolean {
  const st = readStat(pid);
  return st !== undefined && st.state !== 'Z';
}

/** Processes on this host whose environment says they are machine `id`. */
function processesOf(id: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (readEnviron(pid)?.FLY_MACHINE_ID === id && alive(pid)) out.push(pid);
  }
  return out;
}


describe('hangar server (process driver, end to end)', { skip: process.platform !== 'linux' ? 'the process driver needs /proc' : false }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-server-'));
  const servers: Server[] = [];
  const machinePgids = new Set<number>();
  let server: Server;
  let token = '';

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
  const machine = (id: string) => api<MachineJson>('GET', `/v1/apps/e2e/machines/${id}`);
  const waitState = (id: string, state: string) => until(`machine ${id} ${state}`, async () => ((await machine(id)).state === state ? machine(id) : undefined));
  const create = async (args: string[], extra: Record<string, unknown> = {}) =>
    (await api<MachineJson>('POST', '/v1/apps/e2e/machines', { region: 'local', config: { image: `dir:${PROGRAMS_DIR}`, init: { exec: [process.execPath, 'server-machine.mjs', ...args] }, ...extra } })).id;
  const run = async (extra: string[] = []) => {
    const s = await startServer(dataDir, extra);
    servers.push(s);
    return s;
  };
  /** The persisted handles, read from the database while the server is down or alongside it. */
  const handles = async (): Promise<Map<string, number>> => {
    const store = new SqliteStore({ path: join(dataDir, 'hangar.db') });
    try {
      const out = new Map<string, number>();
      for (const e of await store.list<TaskHandleRecord>(KINDS.taskHandle)) {
        const h = e.value.handle as { pid?: number; pgid?: number } | null;
        if (h?.pid) out.set(e.id, h.pid);
        if (h?.pgid) machinePgids.add(h.pgid);
      }
      return out;
    } finally {
      await store.close();
    }
  };

  after(async () => {
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await handles().catch(() => undefined);
    for (const pgid of machinePgids) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('first start: admin token and CLI config written', async () => {
    server = await run();
    token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    assert.match(server.stdout, new RegExp(token));
    const cfg = JSON.parse(readFileSync(join(dataDir, 'cli.json'), 'utf8')) as { api_url: string; token: string };
    assert.deepEqual(cfg, { api_url: server.url, token });
    await api('POST', '/v1/apps', { app_name: 'e2e', org_slug: 'personal' });
  });

  test('a second server on the same data dir is refused', async () => {
    const second = spawn(process.execPath, [join(ROOT, 'bin/hangar.js'), 'server', '--data-dir', dataDir, '--api-addr', '127.0.0.1:0', '--driver', 'process'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    second.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    second.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((r) => second.once('exit', (c) => r(c)));
    assert.equal(code, 1);
    assert.match(out, new RegExp(`another hangar server \\(pid ${server.child.pid}`));
    assert.ok(existsSync(join(dataDir, 'server.lock')), 'the running server keeps its lock');
  });

  test('kill -9 with 20 machines, one killed meanwhile: restart keeps the 19 PIDs, records the exit, duplicates nothing', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await create(['serve']));
    for (const id of ids) await waitState(id, 'started');
    const before = await handles();
    assert.equal(before.size, 20);

    server.child.kill('SIGKILL');
    await server.exited;
    for (const [id, pid] of before) assert.ok(alive(pid), `machine ${id} (pid ${pid}) survives the server`);
    const victim = ids[7] as string;
    const victimPid = before.get(victim) as number;
    process.kill(victimPid, 'SIGKILL');
    await until('victim gone', async () => (alive(victimPid) ? undefined : true));

    server = await run();
    const back = await until('victim restarted with its exit recorded', async () => {
      const m = await machine(victim);
      return m.state === 'started' && m.events.some((e) => e.type === 'exit') ? m : undefined;
    });
    const exit = back.events.find((e) => e.type === 'exit');
    assert.equal(exit?.request?.exit_event?.requested_stop, false);
    assert.equal(exit?.request?.exit_event?.restarting, true);
    // Its status is known only if the driver still found it as a zombie; otherwise it says so.
    const code = exit?.request?.exit_event?.exit_code;
    if (code === -1) assert.equal(exit?.request?.exit_code_unknown, true);
    else assert.equal(code, 137);

    const afterRestart = await handles();
    for (const id of ids) {
      const m = await machine(id);
      assert.equal(m.state, 'started', `machine ${id}`);
      if (id !== victim) assert.equal(afterRestart.get(id), before.get(id), `machine ${id} kept its pid`);
      assert.deepEqual(processesOf(id), [afterRestart.get(id)], `machine ${id} runs exactly once`);
    }
    assert.notEqual(afterRestart.get(victim), victimPid);
  });

  test('a crash-looping machine (on-failure, max_retries=3) ends failed after exactly 3 restarts', async () => {
    const id = await create(['crash'], { restart: { policy: 'on-failure', max_retries: 3 } });
    const failed = await waitState(id, 'failed');
    const exits = failed.events.filter((e) => e.type === 'exit');
    assert.equal(exits.length, 4);
    assert.deepEqual(exits.map((e) => e.request?.exit_event?.restarting), [false, true, true, true]);
    assert.ok(exits.every((e) => e.request?.exit_event?.exit_code === 3));
    assert.equal(failed.events.filter((e) => e.type === 'start' && e.status === 'started').length, 4);
  });

  test('a user-stopped machine is never restarted', async () => {
    const id = await create(['serve'], { restart: { policy: 'always' } });
    await waitState(id, 'started');
    const pid = (await handles()).get(id) as number;
    await api('POST', `/v1/apps/e2e/machines/${id}/stop`, {});
    const stopped = await waitState(id, 'stopped');
    assert.equal(stopped.events.find((e) => e.type === 'exit')?.request?.exit_event?.requested_stop, true);
    assert.equal(alive(pid), false);
    // Give a (wrong) restart every chance to happen: the backoff is 100 ms.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await machine(id)).state, 'stopped');
    assert.deepEqual(processesOf(id), []);
  });

  test('SIGTERM shuts the server down cleanly and leaves machines running', async () => {
    const pids = await handles();
    assert.ok(pids.size >= 20);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.stderr);
    assert.equal(existsSync(join(dataDir, 'server.lock')), false, 'lock released');
    for (const [id, pid] of pids) assert.ok(alive(pid), `machine ${id} still runs`);
  });
});
