import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newMachineId, newMachineName, newUlid, newVolumeId } from '../../src/control/ids.js';
import { candidateAddress, parseCidr4 } from '../../src/control/placement.js';
import { hashToken, tokenCandidates } from '../../src/control/tokens.js';
import { parseImageRef } from '../../src/control/image-ref.js';
import { bootstrap } from '../../src/control/bootstrap.js';
import { judge } from '../../src/control/wait.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { KINDS, type TokenRecord } from '../../src/core/model.js';
import { hostRecord } from '../api/harness.js';

describe('ids', () => {
  it('have Fly’s shapes', () => {
    for (let i = 0; i < 100; i++) {
      assert.match(newMachineId(), /^[0-9a-f]{14}$/);
      assert.match(newVolumeId(), /^vol_[a-z0-9]{16}$/);
      assert.match(newUlid(), /^[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.match(newMachineName(), /^[a-z]+-[a-z]+-\d{4}$/);
    }
  });
});

describe('placement', () => {
  it('parses CIDRs and hands out addresses inside the range', () => {
    assert.deepEqual(parseCidr4('127.77.0.0/16'), { base: (127 << 24 >>> 0) + (77 << 16), prefix: 16 });
    assert.equal(parseCidr4('127.0.0.0/33'), undefined);
    assert.equal(parseCidr4('300.0.0.0/16'), undefined);
    for (let i = 0; i < 200; i++) {
      const { ip } = candidateAddress(hostRecord('h', 'ams', '127.9.8.0/29'), 'm');
      const last = Number(ip.split('.')[3]);
      assert.ok(ip.startsWith('127.9.8.') && last >= 2 && last <= 6, ip);
    }
    assert.throws(() => candidateAddress(hostRecord('h', 'ams', '10.0.0.0/16'), 'm'), /invalid loopback address_range/);
    assert.throws(() => candidateAddress(hostRecord('h', 'ams', 'fdaa::/64', { address_mode: '6pn' }), 'm'), /gives 6PN addresses: use reserveAddress/);
  });
});

describe('tokens', () => {
  it('strip schemes and split lists', () => {
    assert.deepEqual(tokenCandidates('Bearer abc'), ['abc']);
    assert.deepEqual(tokenCandidates('FlyV1 fm2_a,fm2_b'), ['fm2_a', 'fm2_b']);
    assert.deepEqual(tokenCandidates('bearer FlyV1 x , y'), ['x', 'y']);
    assert.deepEqual(tokenCandidates(undefined), []);
    assert.deepEqual(tokenCandidates('Bearer '), []);
  });
});

describe('image refs', () => {
  it('split registry, repository, tag and digest', () => {
    assert.deepEqual(parseImageRef('registry.fly.io/app:v1@sha256:ab'), { registry: 'registry.fly.io', repository: 'app', tag: 'v1', digest: 'sha256:ab', labels: {} });
    assert.deepEqual(parseImageRef('localhost:5000/a/b'), { registry: 'localhost:5000', repository: 'a/b', tag: 'latest', digest: '', labels: {} });
    assert.equal(parseImageRef('user/app:2').repository, 'user/app');
  });
});

describe('wait judge', () => {
  const rec = (state: string, desired = 'started') => ({ app: 'a', state, desired, instance_id: 'v1', events: [{ id: '01B' }] }) as never;
  it('decides ok, hopeless, pending', () => {
    assert.deepEqual(judge(rec('started'), { app: 'a', id: 'm', states: ['started'], timeout: 1 }), { ok: true });
    assert.equal(judge(rec('starting'), { app: 'a', id: 'm', states: ['started'], timeout: 1 }), undefined);
    assert.equal(judge(rec('started'), { app: 'a', id: 'm', states: ['started'], timeout: 1, version: 'v0' }), undefined);
    assert.equal(judge(rec('started'), { app: 'a', id: 'm', states: ['started'], timeout: 1, fromEventId: '01C' }), undefined);
    const hopeless = judge(rec('failed'), { app: 'a', id: 'm', states: ['started'], timeout: 1 });
    assert.ok(hopeless && !hopeless.ok && /machine failed to reach desired state/.test(hopeless.error.message));
    assert.deepEqual(judge(undefined, { app: 'a', id: 'm', states: ['destroyed'], timeout: 1 }), { ok: true });
    const gone = judge(undefined, { app: 'a', id: 'm', states: ['started'], timeout: 1 });
    assert.ok(gone && !gone.ok && gone.error.http === 404);
  });
});

describe('bootstrap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-boot-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  it('creates the org and one admin token once, stored hashed, file 0600', async () => {
    const store = new SqliteStore({ path: join(dir, 'state.db') });
    try {
      const first = await bootstrap(store, dir);
      assert.equal(first.org.slug, 'personal');
      assert.match(first.adminToken ?? '', /^hangar_/);
      const file = join(dir, 'admin-token');
      assert.equal(readFileSync(file, 'utf8').trim(), first.adminToken);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const tok = await store.get<TokenRecord>(KINDS.token, hashToken(first.adminToken as string));
      assert.equal(tok?.value.role, 'admin');
      assert.ok(!JSON.stringify(tok?.value).includes(first.adminToken as string));
      const second = await bootstrap(store, dir);
      assert.equal(second.adminToken, undefined);
      assert.equal(second.org.internal_numeric_id, first.org.internal_numeric_id);
      assert.equal(await store.count(KINDS.token), 1);
    } finally {
      await store.close();
    }
  });
});
