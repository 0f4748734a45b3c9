import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProcessDriver, parseProcessHandle, type ProcessHandle } from '../../src/drivers/process/index.js';
import { formatAddress, parseStat, readStat } from '../../src/drivers/process/procfs.js';
import { taskProcesses } from '../../src/drivers/process/ps.js';
import { DriverError, type RuntimeDriver, type TaskHandle } from '../../src/drivers/types.js';
import { PROGRAMS_DIR, driverConformance, isLine, programSpec, waitForLine } from './conformance.js';

/** What a destroyed process-driver task left behind: live processes of its group/session, files. */
function leftovers(handle: TaskHandle): string[] {
  const h = parseProcessHandle(handle);
  const out: string[] = [];
  for (const st of taskProcesses(h.pgid, h.start_ticks)) out.push(`process ${st.pid} (${st.comm})`);
  try {
    process.kill(-h.pgid, 0);
    out.push(`process group ${h.pgid} is not empty`);
  } catch {
    // ESRCH: empty, as it should be
  }
  for (const p of [h.stdout_path, h.stderr_path, `${h.stdout_path}.1`, `${h.stderr_path}.1`, h.state_dir]) if (existsSync(p)) out.push(`file ${p}`);
  return out;
}

driverConformance('process', () => new ProcessDriver({ pollMs: 50 }), { leftovers });

/** Whether a process with this pid and start time still runs (not a zombie). */
function alive(pid: number, startTicks: number): boolean {
  const st = readStat(pid);
  return st !== undefined && st.startTicks === startTicks && st.state !== 'Z';
}

const isDriverError = (code: DriverError['code']) => (err: unknown) => err instanceof DriverError && err.code === code;

describe('process driver', () => {
  const stateRoot = mkdtempSync(join(tmpdir(), 'hangar-test-'));
  const drivers: ProcessDriver[] = [];
  const handles: ProcessHandle[] = [];
  const make = () => {
    const d = new ProcessDriver({ pollMs: 50 });
    drivers.push(d);
    return d;
  };
  const driver = make();
  const start = async (args: string[], over: Parameters<typeof programSpec>[2] = {}, d = driver) => {
    const h = parseProcessHandle(await d.start(programSpec(stateRoot, args, over)));
    handles.push(h);
    return h;
  };

  after(async () => {
    // Whatever a failed test left running: kill it by its (pid, start time) so nothing else is hit.
    for (const h of handles) {
      if (alive(h.pid, h.start_ticks)) process.kill(-h.pgid, 'SIGKILL');
      for (const st of taskProcesses(h.pgid, h.start_ticks)) process.kill(st.pid, 'SIGKILL');
    }
    for (const d of drivers) await d.close();
    rmSync(stateRoot, { recursive: true, force: true });
  });

  test('20 tasks are recovered by a new driver instance with the same pids', { timeout: 60_000 }, async () => {
    const started = await Promise.all(Array.from({ length: 20 }, () => start(['serve'])));
    await Promise.all(started.map((h) => waitForLine(driver, h, isLine('ready'))));
    const d2 = make();
    for (const h of started) {
      const copy = JSON.parse(JSON.stringify(h)) as TaskHandle;
      assert.equal(await d2.recover(copy), 'running');
      assert.equal((await d2.inspect(copy)).pid, h.pid);
    }
    const results = await Promise.all(started.map((h) => d2.stop(h, { signal: 'SIGTERM', timeoutMs: 20_000 })));
    assert.equal(results.length, 20);
    for (const h of started) assert.equal(alive(h.pid, h.start_ticks), false);
  });

  test('the machine survives the agent being killed (kill -9), and a new agent recovers and stops it', { timeout: 30_000 }, async () => {
    const spec = programSpec(stateRoot, ['serve']);
    const driverModule = fileURLToPath(new URL('../../src/drivers/process/index.js', import.meta.url));
    const agent = spawn(process.execPath, [join(PROGRAMS_DIR, 'agent.mjs'), driverModule, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      agent.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
      });
      agent.once('exit', (code) => reject(new Error(`agent exited early (${code})`)));
    });
    const h = parseProcessHandle(JSON.parse(line) as TaskHandle);
    handles.push(h);
    const agentGone = new Promise((resolve) => agent.once('exit', resolve));
    agent.kill('SIGKILL');
    await agentGone;

    assert.equal(alive(h.pid, h.start_ticks), true, 'the machine outlived its agent');
    const d2 = make();
    assert.equal(await d2.recover(h), 'running');
    await waitForLine(d2, h, isLine('ready'));
    const r = await d2.stop(h, { signal: 'SIGTERM', timeoutMs: 20_000 });
    // Nobody in this process is the machine's parent: its status is lost unless it was read from its zombie.
    assert.ok((r.exit_code === -1 && r.exit_code_unknown === true) || r.exit_code === 7, JSON.stringify(r));
    assert.equal(alive(h.pid, h.start_ticks), false);
  });

  test('a handle whose start time does not match (a recycled pid) is reported exited and never signalled', { timeout: 30_000 }, async () => {
    const h = await start(['serve']);
    await waitForLine(driver, h, isLine('ready'));
    const forged: ProcessHandle = { ...h, start_ticks: h.start_ticks + 1 };
    const d2 = make();
    assert.equal(await d2.recover(forged), 'exited');
    const r = await d2.wait(forged);
    assert.equal(r.exit_code, -1);
    assert.equal(r.exit_code_unknown, true);
    await d2.stop(forged, { signal: 'SIGKILL', timeoutMs: 1000 });
    assert.equal(alive(h.pid, h.start_ticks), true, 'the real process was not touched');
    assert.equal((await driver.inspect(h)).running, true);
    await driver.stop(h, { signal: 'SIGKILL', timeoutMs: 1000 });
  });

  test('a log file is kept within its limit, the newest part kept in <file>.1', { timeout: 30_000 }, async () => {
    const maxBytes = 16 * 1024;
    const h = await start(['flood', '2000'], { logs: { maxBytes } });
    const lines: string[] = [];
    const sub = driver.logs(h, { onLine: (l) => lines.push(l.line) });
    await waitForLine(driver, h, isLine('done'));
    sub.close();
    assert.ok(statSync(h.stdout_path).size <= maxBytes, `stdout.log is ${statSync(h.stdout_path).size} bytes`);
    const kept = readFileSync(`${h.stdout_path}.1`, 'utf8');
    assert.ok(kept.length > 0 && kept.length <= maxBytes, `stdout.log.1 is ${kept.length} bytes`);
    assert.match(kept, /^(line \d+ x+\n)+(done\n)*$/, 'the kept part starts and ends on line boundaries');
    assert.ok(lines.length > maxBytes / 100, 'the follower read more than the file keeps');
    assert.ok(lines.includes('line 1999 ' + 'x'.repeat(80)));
  });

  test('ps lists child processes and listening sockets', { timeout: 30_000 }, async () => {
    const fam = await start(['family']);
    const childLine = await waitForLine(driver, fam, (l) => l.line.startsWith('child '));
    const childPid = Number(childLine.line.split(' ')[1]);
    const pids = (await driver.ps(fam)).map((p) => p.pid);
    assert.ok(pids.includes(fam.pid) && pids.includes(childPid), JSON.stringify(pids));

    const srv = await start(['listen']);
    const ready = await waitForLine(driver, srv, (l) => l.line.startsWith('ready port '));
    const port = ready.line.split(' ')[2];
    const main = (await driver.ps(srv)).find((p) => p.pid === srv.pid);
    assert.deepEqual(main?.listen_sockets, [{ proto: 'tcp', address: `127.0.0.1:${port}` }]);

    // The machine's exit takes the rest of its group with it, as a VM shutdown would.
    // SIGTERM ends the main process; its child ignores SIGTERM and is killed with the machine.
    await driver.stop(fam, { signal: 'SIGTERM', timeoutMs: 20_000 });
    assert.equal(alive(childPid, readStat(childPid)?.startTicks ?? -1), false, 'the child is gone');
    assert.deepEqual(leftovers(fam).filter((l) => l.startsWith('process')), []);
  });

  test('start errors: non-dir image, missing image dir, non-executable program', async () => {
    await assert.rejects(driver.start(programSpec(stateRoot, ['serve'], { image: 'registry.fly.io/app:latest' })), isDriverError('HANGAR_ERR_DRIVER_START'));
    await assert.rejects(driver.start(programSpec(stateRoot, ['serve'], { image: 'dir:relative/path' })), isDriverError('HANGAR_ERR_DRIVER_START'));
    await assert.rejects(driver.start(programSpec(stateRoot, ['serve'], { image: `dir:${join(stateRoot, 'nope')}` })), isDriverError('HANGAR_ERR_DRIVER_START'));
    const dir = mkdtempSync(join(stateRoot, 'img-'));
    writeFileSync(join(dir, 'prog'), 'not a program');
    chmodSync(join(dir, 'prog'), 0o644);
    await assert.rejects(
      driver.start(programSpec(stateRoot, [], { image: `dir:${dir}`, exec: ['./prog'] })),
      (e: unknown) => isDriverError('HANGAR_ERR_DRIVER_START')(e) && /not executable/.test((e as Error).message),
    );
  });

  test('exec of a missing command fails with a start error', { timeout: 30_000 }, async () => {
    const h = await start(['serve']);
    await assert.rejects(driver.exec(h, { argv: ['./no-such-tool'], timeoutMs: 5000 }), isDriverError('HANGAR_ERR_DRIVER_START'));
    await assert.rejects(driver.exec(h, { argv: [], timeoutMs: 5000 }), isDriverError('HANGAR_ERR_DRIVER_START'));
    await driver.stop(h, { signal: 'SIGKILL', timeoutMs: 1000 });
  });

  test('destroy leaves a state dir it did not create', { timeout: 30_000 }, async () => {
    const stateDir = mkdtempSync(join(stateRoot, 'given-'));
    writeFileSync(join(stateDir, 'agent-file'), 'not the driver’s');
    const h = await start(['serve'], { stateDir });
    assert.equal(h.created_state_dir, false);
    await driver.destroy(h);
    assert.equal(existsSync(h.stdout_path), false);
    assert.equal(existsSync(join(stateDir, 'agent-file')), true);
  });

  test('invalid handles are refused', () => {
    const good = { driver: 'process', version: 1, machine_id: 'm', instance_id: 'i', pid: 1, pgid: 1, start_ticks: 1, started_at: '', cwd: '/', state_dir: '/x', created_state_dir: false, stdout_path: '/x/o', stderr_path: '/x/e', log_max_bytes: 1 };
    assert.deepEqual(parseProcessHandle(good as TaskHandle), good);
    assert.throws(() => parseProcessHandle({ ...good, version: 2 } as unknown as TaskHandle), isDriverError('HANGAR_ERR_DRIVER_HANDLE'));
    assert.throws(() => parseProcessHandle({ ...good, pid: 'x' } as unknown as TaskHandle), isDriverError('HANGAR_ERR_DRIVER_HANDLE'));
    assert.throws(() => parseProcessHandle({ ...good, extra: 1 } as unknown as TaskHandle), isDriverError('HANGAR_ERR_DRIVER_HANDLE'));
  });

  test('fingerprint: no suspend (SIGSTOP is not Fly suspend), no isolation', async () => {
    const fp = await driver.fingerprint();
    assert.equal(fp.available, true);
    assert.equal(fp.capabilities.suspend, false);
    assert.equal(fp.capabilities.isolation, 'none');
    assert.equal((driver as RuntimeDriver).suspend, undefined);
  });
});

describe('procfs parsing', () => {
  test('stat: a comm with spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'S';
    const st = parseStat(`123 (a) b (c) ${fields.join(' ')}`);
    assert.equal(st?.pid, 123);
    assert.equal(st?.comm, 'a) b (c');
    assert.equal(st?.state, 'S');
    assert.equal(st?.ppid, 4);
    assert.equal(st?.startTicks, 22);
    assert.equal(st?.exitStatus, 52);
    assert.equal(parseStat('garbage'), undefined);
  });
  test('/proc/net addresses', () => {
    assert.equal(formatAddress('0100007F:1F90', false), '127.0.0.1:8080');
    assert.equal(formatAddress('00000000000000000000000000000000:0050', true), '[::]:80');
    assert.equal(formatAddress('00000000000000000000000001000000:0050', true), '[::1]:80');
    assert.equal(formatAddress('0000AAFD000000000000000001000000:01BB', true), '[fdaa::1]:443');
  });
});
