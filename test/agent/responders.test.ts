import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startHeartbeat, writeHost } from '../../src/agent/heartbeat.js';
import { silentLogger } from '../../src/agent/logger.js';
import { parseExec } from '../../src/agent/responders.js';
import { createSecretBox, loadSecretKey } from '../../src/control/secrets/crypto.js';
import { KINDS, SUBJECTS, type HostRecord, type SecretRecord } from '../../src/core/model.js';
import { Harness, HOST, machineRecord } from './harness.js';

describe('agent bus responders', () => {
  const h = new Harness([
    {
      match: { argv: /shell/ },
      behaviour: { exec: (argv, stdin, env) => ({ exit_code: argv[0] === 'fail' ? 2 : 0, stdout: `${argv.join(' ')}|${stdin}|${env.FLY_MACHINE_ID}`, stderr: '' }), listen: [{ proto: 'tcp', address: '127.0.0.1:1' }] },
    },
  ]);
  after(() => h.close());

  test('exec, ps and signal reach the machine; errors carry their code', async () => {
    await h.agent();
    const rec = await h.create(machineRecord({ config: { init: { exec: ['shell'] } } }));
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    const res = await h.bus.request(SUBJECTS.agent(HOST, 'exec'), { machine_id: rec.id, argv: ['echo', 'hi'], stdin: 'in' });
    assert.deepEqual(res, { exit_code: 0, stdout: `echo hi|in|${rec.id}`, stderr: '' });
    const res2 = await h.bus.request<unknown, { exit_code: number }>(SUBJECTS.agent(HOST, 'exec'), { machine_id: rec.id, cmd: 'fail  now' });
    assert.equal(res2.exit_code, 2);
    const ps = await h.bus.request<unknown, { pid: number; listen_sockets: unknown[] }[]>(SUBJECTS.agent(HOST, 'ps'), { machine_id: rec.id });
    assert.equal(ps.length, 1);
    assert.deepEqual(ps[0]?.listen_sockets, [{ proto: 'tcp', address: '127.0.0.1:1' }]);
    assert.deepEqual(await h.bus.request(SUBJECTS.agent(HOST, 'signal'), { machine_id: rec.id, signal: 15 }), { ok: true });
    const after = await h.waitFor(rec.id, (r) => r.events.some((e) => e.type === 'exit'), 'exit after SIGTERM');
    assert.equal(after.events.find((e) => e.type === 'exit')?.request?.exit_event?.signal, 15);

    await assert.rejects(h.bus.request(SUBJECTS.agent(HOST, 'ps'), { machine_id: 'nope' }), /HANGAR_ERR_AGENT_NOT_RUNNING: machine nope is not running/);
    await assert.rejects(h.bus.request(SUBJECTS.agent(HOST, 'exec'), 'junk'), /HANGAR_ERR_AGENT_REQUEST/);
    await assert.rejects(h.bus.request(SUBJECTS.agent(HOST, 'exec'), { machine_id: '' }), /machine_id is required/);
    const other = await h.create(machineRecord({ config: { init: { exec: ['shell'] } } }));
    await h.waitFor(other.id, (r) => r.state === 'started', 'started');
    await assert.rejects(h.bus.request(SUBJECTS.agent(HOST, 'exec'), { machine_id: other.id }), /needs a command/);
    await assert.rejects(h.bus.request(SUBJECTS.agent(HOST, 'signal'), { machine_id: other.id }), /signal is required/);
    await assert.rejects(h.bus.request(SUBJECTS.agent(HOST, 'signal'), { machine_id: other.id, signal: 'SIGNOPE' }), /HANGAR_ERR_DRIVER_SIGNAL/);
  });

  test('parseExec: argv or cmd, timeout in ms or seconds, bounded', () => {
    assert.deepEqual(parseExec({ argv: ['ls', '-l'] }), { argv: ['ls', '-l'], timeoutMs: 30_000 });
    assert.deepEqual(parseExec({ command: ['ls'], timeout: 5 }), { argv: ['ls'], timeoutMs: 5000 });
    assert.deepEqual(parseExec({ cmd: ' ls  -l ', timeout: 2, stdin: 'x' }), { argv: ['ls', '-l'], timeoutMs: 2000, stdin: 'x' });
    assert.equal(parseExec({ argv: ['x'], timeout_ms: 1e12 }).timeoutMs, 600_000);
    assert.throws(() => parseExec({ argv: [1] }), /needs a command/);
    assert.throws(() => parseExec({ argv: ['x'], stdin: 3 }), /stdin must be a string/);
  });
});

describe('secrets and heartbeat', () => {
  const h = new Harness();
  after(() => h.close());

  test('app secrets are decrypted into the env; config env loses to them', async () => {
    await h.agent();
    const box = createSecretBox(loadSecretKey(join(h.dataDir, 'secrets.key')));
    const secret = (name: string, value: string, aad = `web:${name}`): SecretRecord => ({ app: 'web', name, digest: '', ciphertext: box.encrypt(aad, value), version: 1, created_at: '', updated_at: '' });
    await h.store.put(KINDS.secret, 'web:DB_URL', secret('DB_URL', 'postgres://secret'), { scope: 'web' });
    const rec = await h.create(machineRecord({ config: { init: { exec: ['serve'] }, env: { DB_URL: 'from-config' } } }));
    await h.waitFor(rec.id, (r) => r.state === 'started', 'started');
    const task = h.fakeHost.running().find((t) => t.machineId === rec.id);
    assert.equal(task?.env.DB_URL, 'postgres://secret');

    // A ciphertext moved under another name does not open: the machine fails with the reason.
    await h.store.put(KINDS.secret, 'web:OTHER', secret('OTHER', 'x', 'web:DB_URL'), { scope: 'web' });
    const bad = await h.create(machineRecord({ config: { init: { exec: ['serve'] } } }));
    const failed = await h.waitFor(bad.id, (r) => r.state === 'failed', 'failed');
    assert.match(String(failed.events[0]?.request?.error), /cannot decrypt secret OTHER/);
  });

  test('a corrupt key file fails the start, not the agent', async () => {
    writeFileSync(join(h.dataDir, 'other.key'), 'short');
    assert.throws(() => loadSecretKey(join(h.dataDir, 'other.key')), /expected 32/);
  });

  test('host record registered and refreshed; a region change re-registers', async () => {
    const host: Omit<HostRecord, 'heartbeat_at'> = {
      id: 'h1',
      region: 'local',
      driver: 'fake',
      address_mode: 'loopback',
      address_range: '127.77.0.0/16',
      capabilities: { suspend: false, exec: true, isolation: 'none' },
      started_at: new Date().toISOString(),
    };
    const hb = await startHeartbeat(h.store, host, silentLogger, 10);
    const first = (await h.store.get<HostRecord>(KINDS.host, 'h1'))!;
    assert.equal(first.scope, 'local');
    assert.deepEqual({ ...first.value, heartbeat_at: 0 }, { ...host, heartbeat_at: 0 });
    let later = first;
    for (let i = 0; i < 500 && later.version === first.version; i++) {
      await new Promise((r) => setTimeout(r, 5));
      later = (await h.store.get<HostRecord>(KINDS.host, 'h1'))!;
    }
    assert.ok(later.version > first.version, 'heartbeat rewrote the record');
    hb.stop();
    await writeHost(h.store, { ...host, region: 'ams' });
    assert.equal((await h.store.get<HostRecord>(KINDS.host, 'h1'))?.scope, 'ams');
  });
});
