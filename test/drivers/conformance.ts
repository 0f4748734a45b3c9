/**
 * The RuntimeDriver conformance suite (STYLE.md habit 3): every driver runs it. The programs it
 * starts are in test/fixtures/programs (machine.mjs, tool.mjs); a driver that does not run real
 * programs (the fake) is configured to behave like them. A skipped feature prints its reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LogLine, RuntimeDriver, TaskHandle, TaskSpec } from '../../src/drivers/types.js';
import { DriverError } from '../../src/drivers/types.js';

/** test/fixtures/programs in the source tree (dist/test/drivers → ../../../test/...). */
export const PROGRAMS_DIR = fileURLToPath(new URL('../../../test/fixtures/programs', import.meta.url));

export type ConformanceFeature = 'exec' | 'ps' | 'logs' | 'recover' | 'signals' | 'leftovers';

export interface ConformanceOptions {
  readonly skip?: Partial<Record<ConformanceFeature, string>>;
  /** What is left of a destroyed task (processes, files), described; [] when nothing. */
  readonly leftovers?: (handle: TaskHandle) => string[] | Promise<string[]>;
}

let counter = 0;
/** A TaskSpec running `machine.mjs <args>` (or `exec` when given) from the fixture programs. */
export function programSpec(stateRoot: string, args: readonly string[], over: Partial<TaskSpec> & { exec?: string[] } = {}): TaskSpec {
  const n = ++counter;
  const { exec, ...rest } = over;
  const image = `dir:${PROGRAMS_DIR}`;
  return {
    machineId: `${process.pid.toString(16)}${n.toString(16).padStart(8, '0')}`,
    instanceId: `01HZZZZZZZZZZZZZZZZZZZ${String(n).padStart(4, '0')}`,
    appName: 'conformance',
    config: { image, init: { exec: exec ?? [process.execPath, 'machine.mjs', ...args] } },
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HANGAR_TEST_VAR: 'from-machine' },
    image,
    mounts: [],
    stateDir: join(stateRoot, `m${n}`),
    logs: { maxBytes: 1024 * 1024 },
    ...rest,
  };
}

/**
 * Resolves with the first log line matching `pred`; rejects if the task exits first
 * (so a broken program fails the test instead of hanging it).
 */
export function waitForLine(driver: RuntimeDriver, handle: TaskHandle, pred: (l: LogLine) => boolean, from: 'start' | 'end' = 'start'): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    let done = false;
    const sub = driver.logs(handle, {
      from,
      onLine: (l) => {
        if (done || !pred(l)) return;
        done = true;
        sub.close();
        resolve(l);
      },
    });
    driver.wait(handle).then(
      // Give the last lines a chance: a line printed right before exit is flushed on exit.
      (r) =>
        setImmediate(() => {
          if (done) return;
          done = true;
          sub.close();
          reject(new Error(`task exited (${JSON.stringify(r)}) before the expected log line`));
        }),
      reject,
    );
  });
}

export const isLine = (text: string, stream: 'stdout' | 'stderr' = 'stdout') => (l: LogLine) => l.line === text && l.stream === stream;

function assertDriverError(code: DriverError['code']) {
  return (err: unknown) => {
    assert.ok(err instanceof DriverError, `expected a DriverError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

/** Runs the conformance suite against drivers made by `factory` (called again to simulate an agent restart). */
export function driverConformance(name: string, factory: () => RuntimeDriver, opts: ConformanceOptions = {}): void {
  const skip = opts.skip ?? {};
  const skipOf = (f: ConformanceFeature) => (skip[f] === undefined ? {} : { skip: `${f}: ${skip[f]}` });
  const T = { timeout: 30_000 };

  describe(`RuntimeDriver conformance: ${name}`, () => {
    const stateRoot = mkdtempSync(join(tmpdir(), 'hangar-test-'));
    const drivers: RuntimeDriver[] = [];
    const started: [RuntimeDriver, TaskHandle][] = [];
    const make = () => {
      const d = factory();
      drivers.push(d);
      return d;
    };
    const driver = make();
    const start = async (args: readonly string[], over: Parameters<typeof programSpec>[2] = {}, d = driver) => {
      const h = await d.start(programSpec(stateRoot, args, over));
      started.push([d, h]);
      return h;
    };
    const ready = (h: TaskHandle, d = driver) => waitForLine(d, h, isLine('ready'));

    after(async () => {
      for (const [d, h] of started) await d.destroy(h).catch(() => {});
      for (const d of drivers) await d.close();
      rmSync(stateRoot, { recursive: true, force: true });
    });

    test('fingerprint reports availability and capabilities', async () => {
      const fp = await driver.fingerprint();
      assert.equal(fp.available, true, fp.reason);
      assert.equal(typeof fp.capabilities.suspend, 'boolean');
      assert.equal(typeof fp.capabilities.exec, 'boolean');
      assert.ok(['none', 'container', 'vm'].includes(fp.capabilities.isolation));
      assert.equal(typeof driver.suspend === 'function' || !fp.capabilities.suspend, true, 'suspend capability without a suspend method');
    });

    test('start → running → inspect', T, async () => {
      const h = await start(['serve']);
      assert.equal(h.driver, driver.name);
      assert.equal(h.version, 1);
      assert.deepEqual(JSON.parse(JSON.stringify(h)), h, 'the handle survives JSON');
      const info = await driver.inspect(h);
      assert.equal(info.running, true);
      assert.equal(typeof info.pid, 'number');
      assert.ok(!Number.isNaN(Date.parse(info.started_at)));
      assert.equal(info.exit, undefined);
      assert.equal(await driver.recover(h), 'running');
    });

    test('wait gives the exit code', T, async () => {
      const h = await start(['exit', '3']);
      const r = await driver.wait(h);
      assert.equal(r.exit_code, 3);
      assert.equal(r.signal, undefined);
      assert.equal(r.oom_killed, false);
      assert.ok(!Number.isNaN(Date.parse(r.exited_at)));
      const info = await driver.inspect(h);
      assert.equal(info.running, false);
      assert.equal(info.exit?.exit_code, 3);
      assert.deepEqual(await driver.wait(h), r, 'wait resolves with the same result again');
    });

    test('stop with a signal the program handles gives its graceful exit code', T, async () => {
      const h = await start(['serve']);
      await ready(h);
      const r = await driver.stop(h, { signal: 'SIGTERM', timeoutMs: 20_000 });
      assert.equal(r.exit_code, 7);
      assert.equal(r.signal, undefined);
      assert.equal((await driver.inspect(h)).running, false);
      assert.deepEqual(await driver.stop(h, { signal: 'SIGTERM', timeoutMs: 1000 }), r, 'stopping a stopped task returns its exit');
    });

    test('stop with a signal the program ignores ends in SIGKILL after the timeout', T, async () => {
      const h = await start(['ignore-term']);
      await ready(h);
      const r = await driver.stop(h, { signal: 'SIGTERM', timeoutMs: 300 });
      assert.equal(r.signal, 'SIGKILL');
      assert.equal(r.exit_code, 128 + 9);
    });

    describe('signals', skipOf('signals'), () => {
      test('by name', T, async () => {
        const h = await start(['serve']);
        await ready(h);
        await driver.signal(h, 'SIGUSR1');
        assert.equal((await driver.wait(h)).exit_code, 11);
      });
      test('by number', T, async () => {
        const h = await start(['serve']);
        await ready(h);
        await driver.signal(h, osConstants.signals.SIGUSR2);
        assert.equal((await driver.wait(h)).exit_code, 12);
      });
      test('an unknown signal is rejected and the task keeps running', T, async () => {
        const h = await start(['serve']);
        await ready(h);
        await assert.rejects(driver.signal(h, 'SIGNOPE'), assertDriverError('HANGAR_ERR_DRIVER_SIGNAL'));
        await assert.rejects(driver.signal(h, 999), assertDriverError('HANGAR_ERR_DRIVER_SIGNAL'));
        assert.equal((await driver.inspect(h)).running, true);
      });
      test('signalling an exited task fails with NOT_RUNNING', T, async () => {
        const h = await start(['exit', '0']);
        await driver.wait(h);
        await assert.rejects(driver.signal(h, 'SIGTERM'), assertDriverError('HANGAR_ERR_DRIVER_NOT_RUNNING'));
      });
    });

    const leftoversSkip = opts.leftovers ? skipOf('leftovers') : { skip: 'leftovers: no leftovers() hook given for this driver' };
    test('destroy stops the task and removes what the driver created', { ...T, ...leftoversSkip }, async () => {
      const h = await start(['family']);
      await ready(h);
      await driver.destroy(h);
      assert.deepEqual(await opts.leftovers?.(h), []);
      await driver.destroy(h); // destroying twice is harmless
    });

    test('start fails clearly for a missing program, and for no program', T, async () => {
      await assert.rejects(driver.start(programSpec(stateRoot, [], { exec: ['./does-not-exist'] })), assertDriverError('HANGAR_ERR_DRIVER_START'));
      const spec = programSpec(stateRoot, []);
      await assert.rejects(driver.start({ ...spec, config: { image: spec.image } }), assertDriverError('HANGAR_ERR_DRIVER_START'));
      await assert.rejects(driver.start({ ...spec, config: { image: spec.image, init: { exec: [] } } }), assertDriverError('HANGAR_ERR_DRIVER_START'));
    });

    describe('exec', skipOf('exec'), () => {
      test('stdout, stderr, exit code and stdin', T, async () => {
        const h = await start(['serve']);
        const r = await driver.exec(h, { argv: [process.execPath, 'tool.mjs', 'cat', '3'], stdin: 'hello\nworld\n', timeoutMs: 20_000 });
        assert.deepEqual(r, { exit_code: 3, stdout: 'hello\nworld\n', stderr: 'tool-stderr\n' });
      });
      test("runs with the machine's environment and working directory", T, async () => {
        const h = await start(['serve']);
        const env = await driver.exec(h, { argv: [process.execPath, 'tool.mjs', 'env', 'HANGAR_TEST_VAR'], timeoutMs: 20_000 });
        assert.equal(env.stdout, 'from-machine\n');
        const over = await driver.exec(h, { argv: [process.execPath, 'tool.mjs', 'env', 'HANGAR_TEST_VAR'], env: { HANGAR_TEST_VAR: 'override' }, timeoutMs: 20_000 });
        assert.equal(over.stdout, 'override\n');
        const cwd = await driver.exec(h, { argv: [process.execPath, 'tool.mjs', 'cwd'], timeoutMs: 20_000 });
        assert.equal(cwd.stdout, `${PROGRAMS_DIR}\n`);
      });
      test('a command that outlives its timeout is killed', T, async () => {
        const h = await start(['serve']);
        const r = await driver.exec(h, { argv: [process.execPath, 'tool.mjs', 'hang'], timeoutMs: 300 });
        assert.equal(r.timed_out, true);
        assert.equal(r.exit_code, -1);
      });
      test('exec in a task that is not running fails with NOT_RUNNING', T, async () => {
        const h = await start(['exit', '0']);
        await driver.wait(h);
        await assert.rejects(driver.exec(h, { argv: [process.execPath, 'tool.mjs', 'cwd'], timeoutMs: 1000 }), assertDriverError('HANGAR_ERR_DRIVER_NOT_RUNNING'));
      });
    });

    test("ps lists the task's processes", { ...T, ...skipOf('ps') }, async () => {
      const h = await start(['serve']);
      await ready(h);
      const pid = (await driver.inspect(h)).pid;
      const procs = await driver.ps(h);
      const main = procs.find((p) => p.pid === pid);
      assert.ok(main, `ps ${JSON.stringify(procs)} lacks the main pid ${pid}`);
      assert.match(main.command, /machine\.mjs serve/);
      assert.equal(main.directory, PROGRAMS_DIR);
      assert.ok(main.stime > 0 && main.rtime >= 0 && main.cpu >= 0 && main.rss >= 0);
      assert.ok(Array.isArray(main.listen_sockets));
      await driver.stop(h, { signal: 'SIGKILL', timeoutMs: 1000 });
      assert.deepEqual(await driver.ps(h), [], 'an exited task has no processes');
    });

    describe('recover', skipOf('recover'), () => {
      test('a new driver instance re-attaches to a running task from its serialized handle and can stop it', T, async () => {
        const h = await start(['serve']);
        await ready(h);
        const pid = (await driver.inspect(h)).pid;
        const d2 = make();
        const h2 = JSON.parse(JSON.stringify(h)) as TaskHandle;
        assert.equal(await d2.recover(h2), 'running');
        const info = await d2.inspect(h2);
        assert.equal(info.running, true);
        assert.equal(info.pid, pid);
        const r = await d2.stop(h2, { signal: 'SIGTERM', timeoutMs: 20_000 });
        assert.ok(r.exit_code === 7 || (r.exit_code === -1 && r.exit_code_unknown === true), JSON.stringify(r));
        assert.equal((await d2.inspect(h2)).running, false);
        assert.equal((await driver.wait(h)).exit_code, 7, 'the original instance saw the graceful exit');
      });
      test('a task that died meanwhile is reported exited', T, async () => {
        const h = await start(['exit', '5']);
        await driver.wait(h);
        const d2 = make();
        const h2 = JSON.parse(JSON.stringify(h)) as TaskHandle;
        assert.equal(await d2.recover(h2), 'exited');
        const r = await d2.wait(h2);
        assert.ok(r.exit_code === 5 || (r.exit_code === -1 && r.exit_code_unknown === true), JSON.stringify(r));
        assert.equal((await d2.inspect(h2)).running, false);
      });
      test('a handle of another driver is refused', T, async () => {
        const foreign = { driver: 'some-other-driver', version: 1, machine_id: 'x', instance_id: 'y' } as const;
        await assert.rejects(driver.recover(foreign), assertDriverError('HANGAR_ERR_DRIVER_HANDLE'));
      });
    });

    describe('logs', skipOf('logs'), () => {
      test('deliver stdout and stderr lines with timestamps', T, async () => {
        const h = await start(['serve']);
        const err = await waitForLine(driver, h, isLine('ready-err', 'stderr'));
        const out = await waitForLine(driver, h, isLine('ready'));
        for (const l of [err, out]) assert.ok(!Number.isNaN(Date.parse(l.ts)));
      });
      test("from 'end' delivers only new lines", T, async () => {
        const h = await start(['serve']);
        await ready(h);
        const seen: string[] = [];
        const sub = driver.logs(h, { from: 'end', onLine: (l) => seen.push(l.line) });
        const bye = waitForLine(driver, h, isLine('bye'), 'end');
        await driver.signal(h, 'SIGTERM');
        await bye;
        sub.close();
        assert.ok(seen.includes('bye'), JSON.stringify(seen));
        assert.ok(!seen.includes('ready'), JSON.stringify(seen));
      });
    });
  });
}
