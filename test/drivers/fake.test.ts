import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FakeDriver, FakeHost, parseFakeHandle, type FakeRule } from '../../src/drivers/fake/index.js';
import { availableDrivers, createDriver } from '../../src/drivers/index.js';
import { DriverError, type ExecResult, type TaskHandle } from '../../src/drivers/types.js';
import { driverConformance, programSpec } from './conformance.js';

/** The fixture programs (test/fixtures/programs/*.mjs), as fake behaviours. */
function toolExec(argv: readonly string[], stdin: string, env: Readonly<Record<string, string>>, cwd: string): ExecResult | 'hang' {
  const [, script, mode, arg = ''] = argv;
  if (script !== 'tool.mjs') return { exit_code: 127, stdout: '', stderr: 'not found\n' };
  if (mode === 'cat') return { exit_code: Number(arg), stdout: stdin, stderr: 'tool-stderr\n' };
  if (mode === 'env') return { exit_code: 0, stdout: `${env[arg] ?? ''}\n`, stderr: '' };
  if (mode === 'cwd') return { exit_code: 0, stdout: `${cwd}\n`, stderr: '' };
  if (mode === 'hang') return 'hang';
  return { exit_code: 2, stdout: '', stderr: `unknown mode ${mode}\n` };
}

const ready = { stream: 'stdout', line: 'ready' } as const;
const PROGRAM_RULES: FakeRule[] = [
  { behaviour: { exec: toolExec } },
  {
    match: { argv: /machine\.mjs serve$/ },
    behaviour: { logs: [{ stream: 'stderr', line: 'ready-err' }, ready], onSignal: { SIGTERM: 7, SIGUSR1: 11, SIGUSR2: 12 } },
  },
  { match: { argv: /machine\.mjs ignore-term$/ }, behaviour: { logs: [ready], ignoreSignals: ['SIGTERM'] } },
  { match: { argv: /machine\.mjs family$/ }, behaviour: { logs: [ready], ignoreSignals: ['SIGTERM'] } },
  { match: { argv: /machine\.mjs exit 3$/ }, behaviour: { exitAfterMs: 0, exitCode: 3 } },
  { match: { argv: /machine\.mjs exit 5$/ }, behaviour: { exitAfterMs: 0, exitCode: 5 } },
  { match: { argv: /machine\.mjs exit 0$/ }, behaviour: { exitAfterMs: 0, exitCode: 0 } },
  { match: { argv: /^\.\/does-not-exist/ }, behaviour: { startError: 'cannot start "./does-not-exist": program not found' } },
];

// The fake's own "bye" on SIGTERM: the conformance logs test waits for it.
class ProgramHost extends FakeHost {
  override deliver(task: Parameters<FakeHost['deliver']>[0], sig: NodeJS.Signals): boolean {
    if (sig === 'SIGTERM' && task.behaviour.onSignal?.SIGTERM !== undefined && !task.exit) this.emitLog(task, 'stdout', 'bye');
    return super.deliver(task, sig);
  }
}

const sharedHost = new ProgramHost(PROGRAM_RULES);
driverConformance('fake', () => new FakeDriver({ host: sharedHost }), {
  leftovers: (h) => (sharedHost.tasks.has(parseFakeHandle(h).task_id) ? [`task ${parseFakeHandle(h).task_id}`] : []),
});

const isDriverError = (code: DriverError['code']) => (err: unknown) => err instanceof DriverError && err.code === code;

describe('fake driver', () => {
  const stateRoot = mkdtempSync(join(tmpdir(), 'hangar-test-'));
  after(() => rmSync(stateRoot, { recursive: true, force: true }));
  const spec = (over: Parameters<typeof programSpec>[2] = {}) => programSpec(stateRoot, ['serve'], over);

  test('a crash loop exits with its code for the first N starts, then runs', async () => {
    const host = new FakeHost([{ behaviour: { crashLoop: { exitAfterMs: 1, exitCode: 1, times: 2 } } }]);
    const d = new FakeDriver({ host });
    const s = spec();
    for (let i = 0; i < 2; i++) assert.equal((await d.wait(await d.start(s))).exit_code, 1);
    const h = await d.start(s);
    assert.equal(await d.recover(h), 'running');
    assert.equal(host.startCount(s.machineId), 3);
    await d.destroy(h);
  });

  test('exit after N ms with a code', async () => {
    const d = new FakeDriver({ host: new FakeHost([{ behaviour: { exitAfterMs: 5, exitCode: 42 } }]) });
    assert.equal((await d.wait(await d.start(spec()))).exit_code, 42);
  });

  test('start delay holds start back; start failure per machine id', async () => {
    const s = spec();
    const host = new FakeHost([
      { behaviour: { startDelayMs: 5 } },
      { match: { machineId: s.machineId }, behaviour: { startError: 'no capacity' } },
    ]);
    const d = new FakeDriver({ host });
    const pending = d.start(spec());
    assert.equal(host.tasks.size, 0, 'not started before the delay');
    await pending;
    assert.equal(host.tasks.size, 1);
    await assert.rejects(d.start(s), (e: unknown) => isDriverError('HANGAR_ERR_DRIVER_START')(e) && (e as Error).message === 'no capacity');
  });

  test('rules match by image and are merged in order', async () => {
    const host = new FakeHost([
      { match: { image: /^dir:/ }, behaviour: { exitAfterMs: 1, exitCode: 9 } },
      { match: { image: 'dir:/elsewhere' }, behaviour: { exitCode: 10 } },
    ]);
    const d = new FakeDriver({ host });
    assert.equal((await d.wait(await d.start(spec()))).exit_code, 9);
    assert.equal((await d.wait(await d.start(spec({ image: 'dir:/elsewhere' })))).exit_code, 10);
  });

  test('1,000 machines cost no timers', async () => {
    const d = new FakeDriver();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const handles: TaskHandle[] = [];
    for (let i = 0; i < 1000; i++) handles.push(await d.start(spec()));
    assert.equal(d.host.running().length, 1000);
    assert.equal(timers(), before);
    for (const h of handles) await d.destroy(h);
    assert.equal(d.host.tasks.size, 0);
  });

  test('a machine that died while no agent watched is recovered as exited with its code', async () => {
    const host = new FakeHost();
    const h = await new FakeDriver({ host }).start(spec());
    const task = host.tasks.get(parseFakeHandle(h).task_id);
    assert.ok(task);
    host.exit(task, { exit_code: 3, oom_killed: true, exited_at: new Date().toISOString() });
    const d2 = new FakeDriver({ host });
    assert.equal(await d2.recover(h), 'exited');
    assert.equal((await d2.wait(h)).oom_killed, true);
  });

  test('a handle unknown to the host (host rebooted) is exited with an unknown status', async () => {
    const h = await new FakeDriver().start(spec());
    const d2 = new FakeDriver();
    assert.equal(await d2.recover(h), 'exited');
    const r = await d2.wait(h);
    assert.deepEqual([r.exit_code, r.exit_code_unknown], [-1, true]);
    assert.equal((await d2.inspect(h)).running, false);
    assert.deepEqual(await d2.ps(h), []);
    await d2.destroy(h);
  });

  test('suspend is gated by its capability', async () => {
    const off = new FakeDriver();
    const h = await off.start(spec());
    assert.equal((await off.fingerprint()).capabilities.suspend, false);
    await assert.rejects(off.suspend(h), isDriverError('HANGAR_ERR_DRIVER_UNSUPPORTED'));
    const on = new FakeDriver({ host: off.host, suspend: true });
    assert.equal((await on.fingerprint()).capabilities.suspend, true);
    await on.suspend(h);
    assert.equal(on.host.tasks.get(parseFakeHandle(h).task_id)?.suspended, true);
    await on.resume(h);
    assert.equal(on.host.tasks.get(parseFakeHandle(h).task_id)?.suspended, false);
  });

  test('fingerprint can report the driver unavailable', async () => {
    const fp = await new FakeDriver({ unavailable: 'simulated: no KVM' }).fingerprint();
    assert.deepEqual([fp.available, fp.reason], [false, 'simulated: no KVM']);
  });

  test('malformed handles are refused', async () => {
    const d = new FakeDriver();
    await assert.rejects(d.inspect({ driver: 'fake', version: 1, machine_id: 'm', instance_id: 'i' }), isDriverError('HANGAR_ERR_DRIVER_HANDLE'));
  });
});

describe('createDriver', () => {
  test('creates the drivers it lists', async () => {
    assert.deepEqual(availableDrivers().sort(), ['crun', 'fake', 'process']);
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-test-drivers-'));
    try {
      for (const name of availableDrivers()) {
        const d = createDriver(name, { crun: { dataDir } });
        assert.equal(d.name, name);
        await d.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
  test('refuses an unknown name', () => {
    assert.throws(() => createDriver('docker'), isDriverError('HANGAR_ERR_DRIVER_UNKNOWN'));
    assert.throws(() => createDriver('toString'), isDriverError('HANGAR_ERR_DRIVER_UNKNOWN'));
  });
});
