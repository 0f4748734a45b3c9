import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskHandleRecord } from '../../src/agent/handles.js';
import { KINDS, type VolumeRecord } from '../../src/core/model.js';
import type { ExitEvent } from '../../src/core/machine/types.js';
import { FakeDriver, parseFakeHandle } from '../../src/drivers/fake/index.js';
import { HOST, Harness, machineRecord } from './harness.js';

const exitEvents = (r: { events: { type: string; request?: { exit_event?: ExitEvent } }[] }) =>
  r.events.filter((e) => e.type === 'exit').map((e) => e.request?.exit_event as ExitEvent);

describe('agent lifecycle (fake driver)', () => {
  const h = new Harness([
    { match: { argv: /crash/ }, behaviour: { exitAfterMs: 5, exitCode: 3 } },
    { match: { argv: /clean-exit/ }, behaviour: { exitAfterMs: 5, exitCode: 0 } },
    { match: { argv: /graceful/ }, behaviour: { onSignal: { SIGINT: 0, SIGTERM: 143 } } },
    { match: { argv: /stubborn/ }, behaviour: { ignoreSignals: ['SIGINT', 'SIGTERM'] } },
    { match: { argv: /talk/ }, behaviour: { logs: [{ stream: 'stdout', line: 'hello from the machine' }] } },
  ]);
  after(() => h.close());

  test('a created machine is started: handle persisted, routing and env set', async () => {
    await h.agent();
    const rec = await h.create(machineRecord({ config: { init: { exec: ['serve'] }, services: [{ protocol: 'tcp', internal_port: 3000 }], env: { FLY_REGION: 'fake', MY: 'var' } } }));
    const started = await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    assert.equal(started.applied_generation, 1);
    assert.match(started.private_ip, /^127\.77\.\d+\.\d+$/);
    assert.equal(started.routing?.address, started.private_ip);
    const hostPort = started.routing?.ports['3000'];
    assert.ok(typeof hostPort === 'number' && hostPort > 0);
    assert.equal(started.events[0]?.type, 'start');
    const handle = (await h.store.get<TaskHandleRecord>(KINDS.taskHandle, rec.id))?.value;
    assert.ok(handle?.handle, 'handle stored');
    assert.equal(handle.host, HOST);
    const task = h.fakeHost.tasks.get(parseFakeHandle(handle.handle).task_id);
    assert.ok(task && !task.exit);
    assert.equal(task.env.FLY_MACHINE_ID, rec.id);
    assert.equal(task.env.FLY_REGION, 'local', 'platform FLY_* wins over config env');
    assert.equal(task.env.MY, 'var');
    assert.equal(task.env.PORT, String(hostPort));
    assert.equal(task.env.PORT_3000, String(hostPort));
    assert.equal(task.env.FLY_PRIVATE_IP, started.private_ip);
  });

  test('crash loop with on-failure max_retries=3: exactly 3 restarts, then failed', async () => {
    const rec = await h.create(machineRecord({ config: { init: { exec: ['crash'] }, restart: { policy: 'on-failure', max_retries: 3 } } }));
    const failed = await h.waitFor(rec.id, (r) => r.state === 'failed', 'failed');
    await h.settle();
    assert.equal(h.fakeHost.startCount(rec.id), 4, 'first start + 3 restarts');
    assert.equal(failed.restart_count, 3);
    const exits = exitEvents(failed);
    assert.equal(exits.length, 4);
    assert.deepEqual(exits.map((e) => e.restarting), [false, true, true, true], 'newest first: the last exit is not restarted');
    assert.ok(exits.every((e) => e.exit_code === 3 && !e.requested_stop));
    assert.equal(failed.events.find((e) => e.type === 'exit')?.request?.restart_count, 3);
    const handle = (await h.store.get<TaskHandleRecord>(KINDS.taskHandle, rec.id))?.value;
    assert.equal(handle?.handle, null, 'no handle once the exit is recorded');
    assert.equal((await h.get(rec.id)).state, 'failed', 'still failed after settling');
  });

  test('policy always restarts a clean exit; policy no does not; on-failure does not restart exit 0', async () => {
    const always = await h.create(machineRecord({ config: { init: { exec: ['clean-exit'] }, restart: { policy: 'always' } } }));
    await h.waitFor(always.id, (r) => r.restart_count >= 2, 'two restarts');
    await h.request(always.id, (r) => {
      r.desired = 'stopped';
      r.state = 'stopping';
    });
    await h.waitFor(always.id, (r) => r.state === 'stopped' && r.applied_generation === r.generation, 'stopped');

    const no = await h.create(machineRecord({ config: { init: { exec: ['crash'] }, restart: { policy: 'no' } } }));
    const stoppedNo = await h.waitFor(no.id, (r) => r.state === 'stopped', 'stopped (policy no)');
    const onFailure = await h.create(machineRecord({ config: { init: { exec: ['clean-exit'] } } }));
    await h.waitFor(onFailure.id, (r) => r.state === 'stopped', 'stopped (on-failure, exit 0)');
    await h.settle();
    assert.equal(h.fakeHost.startCount(no.id), 1);
    assert.equal(h.fakeHost.startCount(onFailure.id), 1);
    assert.equal(exitEvents(stoppedNo)[0]?.restarting, false);
  });

  test('a user-stopped machine gets a requested exit and is never restarted', async () => {
    const rec = await h.create(machineRecord({ config: { init: { exec: ['graceful'] }, restart: { policy: 'always' } } }));
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    await h.request(rec.id, (r) => {
      r.desired = 'stopped';
      r.state = 'stopping';
    });
    const stopped = await h.waitFor(rec.id, (r) => r.state === 'stopped', 'stopped');
    const [exit] = exitEvents(stopped);
    assert.equal(exit?.requested_stop, true);
    assert.equal(exit?.restarting, false);
    assert.equal(exit?.exit_code, 0, 'SIGINT (Fly default stop signal) handled by the program');
    assert.equal(stopped.routing, null);
    await h.settle(150);
    assert.equal(h.fakeHost.startCount(rec.id), 1);
    assert.equal((await h.get(rec.id)).state, 'stopped');
  });

  test('stop_config: signal and timeout are honoured (SIGKILL after the timeout)', async () => {
    const rec = await h.create(machineRecord({ config: { init: { exec: ['stubborn'] }, stop_config: { signal: 'SIGTERM', timeout: '20ms' } } }));
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    await h.request(rec.id, (r) => {
      r.desired = 'stopped';
      r.state = 'stopping';
    });
    const stopped = await h.waitFor(rec.id, (r) => r.state === 'stopped', 'stopped');
    assert.equal(exitEvents(stopped)[0]?.signal, 9);
  });

  test('restart keeps the ports; update runs the new version', async () => {
    const rec = await h.create(machineRecord({ config: { init: { exec: ['serve-v1'] } } }));
    const first = await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    await h.request(rec.id, (r) => {
      r.state = 'restarting';
    });
    const restarted = await h.waitFor(rec.id, (r) => r.state === 'started' && r.applied_generation === 2, 'restarted');
    assert.deepEqual(restarted.routing?.ports, first.routing?.ports);
    assert.equal(h.fakeHost.startCount(rec.id), 2);
    assert.equal(exitEvents(restarted)[0]?.requested_stop, true);
    assert.equal(exitEvents(restarted)[0]?.restarting, true);
    await h.request(rec.id, (r) => {
      r.state = 'updating';
      r.instance_id = '01HZZZZZZZZZZZZZZZZZZZ0002';
      r.config = { ...r.config, init: { exec: ['serve-v2'] } };
    });
    await h.waitFor(rec.id, (r) => r.state === 'started' && r.applied_generation === 3, 'updated');
    const running = h.fakeHost.running().filter((t) => t.machineId === rec.id);
    assert.equal(running.length, 1, 'exactly one task for the machine');
    assert.deepEqual(running[0]?.argv, ['serve-v2']);
    assert.equal(running[0]?.env.FLY_MACHINE_VERSION, '01HZZZZZZZZZZZZZZZZZZZ0002');
  });

  test('starting a running machine is a no-op that still applies the generation', async () => {
    const rec = await h.create(machineRecord({ config: { init: { exec: ['serve'] } } }));
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    await h.request(rec.id, () => {});
    await h.waitFor(rec.id, (r) => r.applied_generation === 2, 'applied');
    assert.equal(h.fakeHost.startCount(rec.id), 1);
  });

  test('destroy removes the task and handle and detaches the volume', async () => {
    const rec = await h.create(machineRecord({ config: { init: { exec: ['serve'] } } }));
    const vol: VolumeRecord = {
      id: 'vol_test1',
      name: 'data',
      app: 'web',
      region: 'local',
      host: HOST,
      zone: 'z',
      state: 'created',
      size_gb: 1,
      encrypted: false,
      fstype: 'ext4',
      snapshot_retention: 5,
      auto_backup_enabled: false,
      attached_machine_id: rec.id,
      attached_alloc_id: rec.id,
      host_path: h.dataDir,
      created_at: new Date().toISOString(),
    };
    await h.store.put(KINDS.volume, vol.id, vol, { scope: 'web' });
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    await h.request(rec.id, (r) => {
      r.desired = 'destroyed';
      r.state = 'destroying';
    });
    const destroyed = await h.waitFor(rec.id, (r) => r.state === 'destroyed', 'destroyed');
    assert.equal(destroyed.events[0]?.type, 'destroy');
    assert.equal(await h.store.get(KINDS.taskHandle, rec.id), undefined);
    assert.equal(h.fakeHost.running().filter((t) => t.machineId === rec.id).length, 0);
    assert.equal((await h.store.get<VolumeRecord>(KINDS.volume, vol.id))?.value.attached_machine_id, null);
  });

  test('HANGAR_VOLUME_PATH: the mount path where the driver mounts volumes, else the host path without symlinks', async () => {
    const real = mkdtempSync(join(tmpdir(), 'hangar-test-vol-'));
    const link = `${real}-link`;
    symlinkSync(real, link);
    const vh = new Harness();
    try {
      await vh.store.put(
        KINDS.volume,
        'vol_env1',
        {
          id: 'vol_env1', name: 'data', app: 'web', region: 'local', host: HOST, zone: 'z', state: 'created', size_gb: 1,
          encrypted: false, fstype: 'ext4', snapshot_retention: 5, auto_backup_enabled: false,
          attached_machine_id: null, attached_alloc_id: null, host_path: link, created_at: new Date().toISOString(),
        } satisfies VolumeRecord,
        { scope: 'web' },
      );
      const volumeEnv = async () => {
        const rec = await vh.create(machineRecord({ config: { init: { exec: ['serve'] }, mounts: [{ volume: 'vol_env1', path: '/data' }] } }));
        await vh.waitFor(rec.id, (r) => r.state === 'started', 'started');
        const task = vh.fakeHost.running().find((t) => t.machineId === rec.id);
        return [task?.env['HANGAR_VOLUME_PATH'], task?.env['HANGAR_VOLUME_MOUNT']];
      };
      // like the process driver: no mount namespace, the app is pointed at the host directory
      const noMounts = await vh.agent({}, new FakeDriver({ host: vh.fakeHost, mounts: false }));
      assert.deepEqual(await volumeEnv(), [realpathSync(link), '/data']);
      await noMounts.close({ stopMachines: false });
      // like crun: the volume is at its mount path inside the machine
      await vh.agent();
      assert.deepEqual(await volumeEnv(), ['/data', '/data']);
    } finally {
      await vh.close();
      rmSync(link, { force: true });
      rmSync(real, { recursive: true, force: true });
    }
  });

  test('a machine whose image cannot run ends failed with the reason', async () => {
    const rec = await h.create(machineRecord({ config: { image: 'registry.example/app:1', init: { exec: ['serve'] } } }));
    const failed = await h.waitFor(rec.id, (r) => r.state === 'failed', 'failed');
    assert.equal(failed.events[0]?.status, 'failed');
    assert.match(String(failed.events[0]?.request?.error), /dir:<absolute path>/);
    assert.equal(failed.applied_generation, 1);
  });

  test('a driver start error ends failed', async () => {
    h.fakeHost.configure({ match: { argv: /refuse/ }, behaviour: { startError: 'no such program' } });
    const rec = await h.create(machineRecord({ config: { init: { exec: ['refuse'] } } }));
    const failed = await h.waitFor(rec.id, (r) => r.state === 'failed', 'failed');
    assert.match(String(failed.events[0]?.request?.error), /no such program/);
  });

  test('suspend without driver support stops the machine', async () => {
    const rec = await h.create(machineRecord({ config: { init: { exec: ['graceful'] } } }));
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    await h.request(rec.id, (r) => {
      r.desired = 'suspended';
      r.state = 'suspending';
    });
    await h.waitFor(rec.id, (r) => r.state === 'stopped', 'stopped');
  });

  test('machines of other hosts are left alone', async () => {
    const rec = await h.create(machineRecord({ host: 'another-host', config: { init: { exec: ['serve'] } } }));
    await h.settle();
    assert.equal((await h.get(rec.id)).state, 'created');
    assert.equal(h.fakeHost.startCount(rec.id), 0);
  });

  test('log lines are published on logs.<app>.<region>.<machine>', async () => {
    await h.bus.createStream({ name: 'logs', subjects: ['logs.>'] });
    const rec = await h.create(machineRecord({ config: { init: { exec: ['talk'] } } }));
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    let msgs: Awaited<ReturnType<typeof h.bus.readStream>> = [];
    for (let i = 0; i < 200 && msgs.length === 0; i++) {
      msgs = await h.bus.readStream('logs', { subject: `logs.web.local.${rec.id}` });
      if (msgs.length === 0) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(msgs.length, 1);
    assert.deepEqual({ ...(msgs[0]?.data as object), timestamp: 'x' }, { timestamp: 'x', message: 'hello from the machine', level: 'info', instance: rec.id, region: 'local', stream: 'stdout' });
  });
});

describe('agent recovery (fake driver)', () => {
  const h = new Harness([{ match: { argv: /crash-later/ }, behaviour: {} }]);
  after(() => h.close());

  test('a restarted agent re-attaches to running machines, records exits that happened meanwhile, starts missing ones', async () => {
    const first = await h.agent();
    const recs = [];
    for (let i = 0; i < 5; i++) recs.push(await h.create(machineRecord({ config: { init: { exec: ['serve'] } } })));
    for (const r of recs) await h.waitFor(r.id, (x) => x.state === 'started', 'started');
    await first.close();
    const pidsBefore = new Map(h.fakeHost.running().map((t) => [t.machineId, t.pid]));
    assert.equal(pidsBefore.size, 5);

    // While no agent runs: one machine dies, one new machine is created.
    const victim = recs[0]!;
    const victimTask = h.fakeHost.running().find((t) => t.machineId === victim.id)!;
    h.fakeHost.exit(victimTask, { exit_code: 137, signal: 'SIGKILL', oom_killed: false, exited_at: new Date().toISOString() });
    const late = await h.create(machineRecord({ config: { init: { exec: ['serve'] } } }));

    await h.agent({}, new FakeDriver({ host: h.fakeHost }));
    const after = await h.waitFor(victim.id, (r) => r.state === 'started' && r.events.some((e) => e.type === 'exit'), 'victim restarted');
    const exit = after.events.find((e) => e.type === 'exit')?.request?.exit_event;
    assert.equal(exit?.exit_code, 137);
    assert.equal(exit?.signal, 9);
    assert.equal(exit?.restarting, true);
    await h.waitFor(late.id, (r) => r.state === 'started', 'late machine started');
    await h.settle();
    for (const r of recs.slice(1)) {
      assert.equal(h.fakeHost.startCount(r.id), 1, `machine ${r.id} not restarted`);
      assert.equal(h.fakeHost.running().find((t) => t.machineId === r.id)?.pid, pidsBefore.get(r.id));
    }
    assert.equal(h.fakeHost.startCount(victim.id), 2);
    const perMachine = new Map<string, number>();
    for (const t of h.fakeHost.running()) perMachine.set(t.machineId, (perMachine.get(t.machineId) ?? 0) + 1);
    assert.ok([...perMachine.values()].every((c) => c === 1), 'no machine runs twice');
  });

  test('a handle the driver cannot recover counts as an exit with unknown status', async () => {
    const rec = await h.create(machineRecord({ config: { init: { exec: ['serve'] }, restart: { policy: 'no' } } }));
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    for (const a of h.agents) await a.close();
    const stored = (await h.store.get<TaskHandleRecord>(KINDS.taskHandle, rec.id))!.value;
    await h.store.put(KINDS.taskHandle, rec.id, { ...stored, handle: { ...stored.handle!, task_id: 'fake-gone' } });
    await h.agent({}, new FakeDriver({ host: h.fakeHost }));
    const stopped = await h.waitFor(rec.id, (r) => r.state === 'stopped', 'stopped');
    const ev = stopped.events.find((e) => e.type === 'exit');
    assert.equal(ev?.request?.exit_event?.exit_code, -1);
    assert.equal(ev?.request?.exit_code_unknown, true);
  });

  test('close({stopMachines}) stops every machine and records it', async () => {
    const rec = await h.create(machineRecord({ config: { init: { exec: ['serve'] } } }));
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    for (const a of h.agents) await a.close({ stopMachines: true });
    const stopped = await h.get(rec.id);
    assert.equal(stopped.state, 'stopped');
    assert.equal(h.fakeHost.running().filter((t) => t.machineId === rec.id).length, 0);
  });
});
