import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { networkNumberOf, siteOfNetwork } from '../../src/core/net/sixpn.js';
import { KINDS, type MachineVersionRecord } from '../../src/core/model.js';
import type { MachineRecord } from '../../src/core/machine/types.js';
import type { MachineConfig } from '../../src/core/fly/machine-config.js';
import { harness, hostRecord, json, type Harness } from './harness.js';

type M = Record<string, unknown> & { id: string; config: Record<string, unknown> };

describe('machines', () => {
  let h: Harness;
  const create = async (body: unknown): Promise<M> => {
    const r = await h.call('POST', '/v1/apps/web/machines', body);
    assert.equal(r.statusCode, 200, r.body);
    return r.json() as M;
  };
  before(async () => {
    h = await harness({ hosts: [hostRecord('host1', 'ams'), hostRecord('host2', 'fra', '127.78.0.0/16')] });
    await h.call('POST', '/v1/apps', { app_name: 'web' });
  });
  after(async () => h.close());

  it('creates a machine: ids, version, address, placement, events, desired started', async () => {
    const m = await create({ config: { image: 'nginx:1.27', env: { PORT: 8080 } }, region: 'fra', name: 'my-machine' });
    assert.match(m.id, /^[0-9a-f]{14}$/);
    assert.equal(m['name'], 'my-machine');
    assert.match(String(m['instance_id']), /^[0-9A-Z]{26}$/);
    assert.equal(m['version'], m['instance_id']);
    assert.equal(m['region'], 'fra');
    assert.match(String(m['private_ip']), /^127\.78\.\d+\.\d+$/);
    assert.equal(m['state'], 'created');
    assert.deepEqual((m['events'] as Array<{ type: string }>).map((e) => e.type), ['launch']);
    assert.deepEqual(m.config['env'], { PORT: '8080' });
    assert.deepEqual(m['image_ref'], { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: '', labels: {} });
    for (const hidden of ['desired', 'generation', 'host', 'lease', 'applied_generation', 'org', 'app']) assert.ok(!(hidden in m), hidden);
    const rec = (await h.store.get<MachineRecord>(KINDS.machine, m.id))?.value;
    assert.equal(rec?.desired, 'started');
    assert.equal(rec?.host, 'host2');
    assert.ok(await h.store.get(KINDS.machineVersion, `${m.id}:${String(m['instance_id'])}`));
  });

  it('normalizes lenient config forms to the canonical wire form', async () => {
    const m = await create({
      config: {
        image: 'app',
        size: 'shared-cpu-2x',
        services: [{ internal_port: 8080, autostop: 'off', ports: [{ port: 80, handlers: ['http'] }], checks: [{ type: 'tcp', interval: 15_000_000_000, timeout: '2s' }], force_instance_key: null }],
        stop_config: { signal: 15, timeout: '1m' },
        checks: { alive: { type: 'http', port: 8080, path: '/', interval: '10s', headers: { 'X-A': 'b' } } },
        rootfs: { persist: 2 },
        containers: [{ name: 'kept' }],
      },
    });
    const c = m.config as unknown as MachineConfig & { size?: string; containers?: unknown };
    const svc = c.services?.[0];
    assert.deepEqual(c.guest, { cpu_kind: 'shared', cpus: 2, memory_mb: 512 });
    assert.equal(c.size, undefined);
    assert.equal(svc?.autostop, false);
    assert.equal(svc?.protocol, 'tcp');
    assert.equal(svc?.checks?.[0]?.interval, '15s');
    assert.ok(svc !== undefined && !('force_instance_key' in svc));
    assert.deepEqual(c.stop_config, { signal: 'SIGTERM', timeout: '1m0s' });
    assert.deepEqual(c.checks?.['alive']?.headers, [{ name: 'X-A', values: ['b'] }]);
    assert.equal(c.rootfs?.persist, 'restart');
    assert.deepEqual(c.containers, [{ name: 'kept' }]);
  });

  it('rejects configs without image or with wrong types (400 naming the field)', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /config is required/],
      [{ config: {} }, /config\.image is required/],
      [{ config: { image: 'x', services: [{ internal_port: 'eighty' }] } }, /config\.services\[0\]\.internal_port/],
      [{ config: { image: 'x', services: [{ internal_port: 80, autostop: 'maybe' }] } }, /autostop/],
      [{ config: { image: 'x', stop_config: { signal: 'SIGNOPE' } } }, /unknown signal/],
      [{ config: { image: 'x', checks: { a: { interval: '10 parsecs' } } } }, /invalid duration/],
      [{ config: { image: 'x', size: 'performance-3x' } }, /invalid machine size/],
      [{ config: { image: 'x' }, region: 'nowhere' }, /no capacity/],
      [{ config: { image: 'x' }, name: '../../etc' }, /invalid machine name/],
      [{ config: { image: 'x', mounts: [{ path: '/data', volume: 'vol_nothere' }] } }, /not found/],
    ];
    for (const [body, re] of cases) {
      const r = await h.call('POST', '/v1/apps/web/machines', body);
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${JSON.stringify(body)} → ${r.statusCode}`);
      assert.match(String(json(r)['error']), re, JSON.stringify(body));
    }
    const r = await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x' }, region: 'nowhere' });
    assert.equal(json(r)['status'], 'insufficient_capacity');
  });

  it('gives every machine a distinct loopback address', async () => {
    const ms = await Promise.all(Array.from({ length: 30 }, () => create({ config: { image: 'x' }, region: 'ams' })));
    assert.equal(new Set(ms.map((m) => m['private_ip'])).size, 30);
  });

  it('gives 6pn addresses: distinct, in the host /64 of the app network; a custom network gets its own /48', async () => {
    await h.store.put(KINDS.host, 'host6', hostRecord('host6', 'syd', 'fdaa::/16', { address_mode: '6pn' }), { scope: 'syd' });
    assert.equal((await h.call('POST', '/v1/apps', { app_name: 'web6', org_slug: 'personal' })).statusCode, 201);
    const ms = await Promise.all(Array.from({ length: 5 }, async () => json(await h.call('POST', '/v1/apps/web6/machines', { config: { image: 'x' }, region: 'syd' }))));
    const ips = ms.map((m) => String(m['private_ip']));
    assert.equal(new Set(ips).size, 5);
    const nets = new Set(ips.map((ip) => networkNumberOf(ip)));
    assert.equal(nets.size, 1);
    // fdaa:<site>:<n>:<host>::…:2, the network numbered in this store's 6PN site (control/networks.ts ensureSite)
    for (const ip of ips) assert.match(ip, /^fdaa:[0-9a-f]+:[0-9a-f]+:1::[0-9a-f]+:2$/);
    const site = (await h.store.get<{ site: number }>(KINDS.site, '6pn'))?.value.site;
    assert.ok(site !== undefined && site >= 1 && site <= 0xffff);
    assert.equal(siteOfNetwork([...nets][0] ?? 0), site);
    assert.equal((await h.call('POST', '/v1/apps', { app_name: 'iso6', org_slug: 'personal', network: 'iso6net' })).statusCode, 201);
    const other = json(await h.call('POST', '/v1/apps/iso6/machines', { config: { image: 'x' }, region: 'syd' }));
    assert.notEqual(networkNumberOf(String(other['private_ip'])), [...nets][0]);
    await h.store.delete(KINDS.host, 'host6');
  });

  it('lists with region, metadata and include_deleted filters', async () => {
    const a = await create({ config: { image: 'x', metadata: { fly_process_group: 'worker' } }, region: 'fra' });
    await h.observe(a.id, { state: 'destroyed' });
    const b = await create({ config: { image: 'x', metadata: { fly_process_group: 'worker' } }, region: 'fra' });
    const ids = async (q: string) => (json(await h.call('GET', `/v1/apps/web/machines${q}`)) as unknown as M[]).map((m) => m.id);
    assert.deepEqual(await ids('?metadata.fly_process_group=worker'), [b.id]);
    assert.deepEqual((await ids('?metadata.fly_process_group=worker&include_deleted=true')).sort(), [a.id, b.id].sort());
    assert.ok((await ids('?region=fra')).includes(b.id));
    assert.ok(!(await ids('?region=ams')).includes(b.id));
    assert.equal((await h.call('GET', '/v1/apps/web/machines?include_deleted=maybe')).statusCode, 400);
  });

  it('lists what changed since the previous listing (the JSON cache follows versions)', async () => {
    type Listed = { id: string; state: string; host_status: string; config: { metadata?: Record<string, string> } };
    const list = async () => json(await h.call('GET', '/v1/apps/web/machines')) as unknown as Listed[];
    const m = await create({ config: { image: 'x' }, region: 'fra' });
    const first = (await list()).find((x) => x.id === m.id);
    assert.ok(first);
    await h.observe(m.id, { state: 'started' });
    assert.equal((await list()).find((x) => x.id === m.id)?.state, 'started');
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/metadata/role`, { value: 'primary' })).statusCode, 204);
    assert.equal((await list()).find((x) => x.id === m.id)?.config.metadata?.['role'], 'primary');
    // more changes than one read per machine is worth: the whole app is read again
    const many = await Promise.all(Array.from({ length: 80 }, () => create({ config: { image: 'x' }, region: 'fra' })));
    await Promise.all(many.map((x) => h.observe(x.id, { state: 'started' })));
    const after = await list();
    for (const x of many) assert.equal(after.find((y) => y.id === x.id)?.state, 'started');
    assert.ok(after.every((x) => x.host_status === 'ok'), 'host_status is appended per request');
    assert.equal((await h.call('DELETE', `/v1/apps/web/machines/${m.id}?kill=true`)).statusCode, 200);
    await h.observe(m.id, { state: 'destroyed' });
    assert.equal((await list()).some((x) => x.id === m.id), false);
  });

  it('gets a machine, 404 `machine not found` for unknown ids and other apps', async () => {
    const m = await create({ config: { image: 'x' } });
    assert.equal(json(await h.call('GET', `/v1/apps/web/machines/${m.id}`))['id'], m.id);
    await h.call('POST', '/v1/apps', { app_name: 'other' });
    for (const url of ['/v1/apps/web/machines/0123456789abcd', `/v1/apps/other/machines/${m.id}`, '/v1/apps/web/machines/..%2F..']) {
      const r = await h.call('GET', url);
      assert.equal(r.statusCode, 404, url);
      assert.match(String(json(r)['error']), /machine not found/);
    }
  });

  it('updates: new version, old one kept, region/name immutable, skip_launch honoured', async () => {
    const m = await create({ config: { image: 'x:1' } });
    await h.observe(m.id, { state: 'started' });
    let r = await h.call('POST', `/v1/apps/web/machines/${m.id}`, { config: { image: 'x:2' } });
    assert.equal(r.statusCode, 200, r.body);
    const u = json(r);
    assert.notEqual(u['instance_id'], m['instance_id']);
    assert.equal(u['state'], 'updating');
    assert.equal((u['config'] as Record<string, unknown>)['image'], 'x:2');
    const versions = json(await h.call('GET', `/v1/apps/web/machines/${m.id}/versions`)) as unknown as Array<{ version: string; user_config: { image: string } }>;
    assert.deepEqual(versions.map((v) => v.user_config.image), ['x:2', 'x:1']);
    assert.equal((await h.store.list<MachineVersionRecord>(KINDS.machineVersion, { scope: m.id })).length, 2);
    r = await h.call('POST', `/v1/apps/web/machines/${m.id}`, { config: { image: 'x' }, region: m['region'] === 'fra' ? 'ams' : 'fra' });
    assert.equal(r.statusCode, 400);
    assert.match(String(json(r)['error']), /region cannot be changed/);
    r = await h.call('POST', `/v1/apps/web/machines/${m.id}`, { config: { image: 'x' }, name: 'renamed' });
    assert.equal(r.statusCode, 400);
    r = await h.call('POST', `/v1/apps/web/machines/${m.id}`, { config: { image: 'x:3' }, skip_launch: true });
    assert.equal(r.statusCode, 200);
    const rec = (await h.store.get<MachineRecord>(KINDS.machine, m.id))?.value;
    assert.equal(rec?.desired, 'stopped');
    assert.equal(rec?.generation, 3);
    r = await h.call('POST', `/v1/apps/web/machines/${m.id}`, { config: { image: 'x' }, current_version: 'stale' });
    assert.equal(r.statusCode, 412);
  });

  it('start/stop/restart/suspend follow transitions and record events', async () => {
    const m = await create({ config: { image: 'x' }, skip_launch: true, region: 'ams' });
    let r = await h.call('POST', `/v1/apps/web/machines/${m.id}/start`);
    assert.deepEqual(json(r), { previous_state: 'created', migrated: false, new_host: '' });
    await h.observe(m.id, { state: 'started' });
    r = await h.call('POST', `/v1/apps/web/machines/${m.id}/stop`, { signal: 'SIGTERM', timeout: '5s' });
    assert.equal(r.statusCode, 200);
    let rec = (await h.store.get<MachineRecord>(KINDS.machine, m.id))?.value;
    assert.equal(rec?.desired, 'stopped');
    assert.deepEqual(rec?.events[0]?.request, { signal: 'SIGTERM', timeout: '5s' });
    await h.observe(m.id, { state: 'stopped' });
    // stop of a stopped machine: ok, nothing new
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/stop`)).statusCode, 200);
    // restart: query (fly-go) and body (fly-admin) forms
    r = await h.call('POST', `/v1/apps/web/machines/${m.id}/restart?force_stop=true&timeout=10s&signal=SIGINT`);
    assert.equal(r.statusCode, 200, r.body);
    rec = (await h.store.get<MachineRecord>(KINDS.machine, m.id))?.value;
    assert.deepEqual(rec?.events[0]?.request, { signal: 'SIGINT', timeout: '10s', force_stop: true });
    r = await h.call('POST', `/v1/apps/web/machines/${m.id}/restart`, { timeout: '3s' });
    assert.equal(r.statusCode, 200);
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/restart?force_stop=perhaps`)).statusCode, 400);
    // suspend on a host without the capability stops instead
    await h.observe(m.id, { state: 'started' });
    r = await h.call('POST', `/v1/apps/web/machines/${m.id}/suspend`);
    assert.equal(r.statusCode, 200);
    assert.equal((await h.store.get<MachineRecord>(KINDS.machine, m.id))?.value.desired, 'stopped');
    // suspend of a stopped machine is a failed precondition
    await h.observe(m.id, { state: 'stopped' });
    const host = await h.store.get(KINDS.host, 'host1');
    await h.store.put(KINDS.host, 'host1', { ...(host?.value as object), capabilities: { suspend: true, exec: true, isolation: 'none' } });
    r = await h.call('POST', `/v1/apps/web/machines/${m.id}/suspend`);
    assert.equal(r.statusCode, 412);
    assert.equal(json(r)['status'], 'failed_precondition');
  });

  it('destroy needs kill/force for a running machine; releases address and volume', async () => {
    const vol = json(await h.call('POST', '/v1/apps/web/volumes', { name: 'data', region: 'ams' }));
    const m = await create({ config: { image: 'x', mounts: [{ volume: vol['id'], path: '/data' }] } });
    assert.equal(json(await h.call('GET', `/v1/apps/web/volumes/${String(vol['id'])}`))['attached_machine_id'], m.id);
    const again = await h.call('POST', '/v1/apps/web/machines', { config: { image: 'x', mounts: [{ volume: vol['id'], path: '/data' }] } });
    assert.equal(again.statusCode, 412);
    await h.observe(m.id, { state: 'started' });
    let r = await h.call('DELETE', `/v1/apps/web/machines/${m.id}`);
    assert.equal(r.statusCode, 412);
    r = await h.call('DELETE', `/v1/apps/web/machines/${m.id}?kill=true`);
    assert.equal(r.statusCode, 200, r.body);
    const rec = (await h.store.get<MachineRecord>(KINDS.machine, m.id))?.value;
    assert.equal(rec?.desired, 'destroyed');
    assert.equal(rec?.state, 'destroying');
    assert.equal(json(await h.call('GET', `/v1/apps/web/volumes/${String(vol['id'])}`))['attached_machine_id'], null);
    await h.observe(m.id, { state: 'destroyed' });
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/start`)).statusCode, 404);
    assert.equal((await h.call('DELETE', `/v1/apps/web/machines/${m.id}?force=true`)).statusCode, 404);
  });

  it('cordon, uncordon, metadata (no new version) and events', async () => {
    const m = await create({ config: { image: 'x' }, skip_service_registration: true });
    assert.equal(m['cordoned'], true);
    await h.call('POST', `/v1/apps/web/machines/${m.id}/uncordon`);
    assert.equal(json(await h.call('GET', `/v1/apps/web/machines/${m.id}`))['cordoned'], false);
    await h.call('POST', `/v1/apps/web/machines/${m.id}/cordon`);
    assert.equal(json(await h.call('GET', `/v1/apps/web/machines/${m.id}`))['cordoned'], true);
    let r = await h.call('POST', `/v1/apps/web/machines/${m.id}/metadata/role`, { value: 'primary' });
    assert.equal(r.statusCode, 204);
    assert.deepEqual(json(await h.call('GET', `/v1/apps/web/machines/${m.id}/metadata`)), { role: 'primary' });
    assert.equal(json(await h.call('GET', `/v1/apps/web/machines/${m.id}`))['instance_id'], m['instance_id']);
    r = await h.call('DELETE', `/v1/apps/web/machines/${m.id}/metadata/role`);
    assert.equal(r.statusCode, 204);
    assert.equal((await h.call('DELETE', `/v1/apps/web/machines/${m.id}/metadata/role`)).statusCode, 404);
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/metadata/bad key!`, { value: 'x' })).statusCode, 400);
    const events = json(await h.call('GET', `/v1/apps/web/machines/${m.id}/events`)) as unknown as Array<{ type: string }>;
    assert.deepEqual(events.map((e) => e.type), ['cordon', 'uncordon', 'launch']);
  });

  it('signal, ps and exec go to the host agent over the bus', async () => {
    const m = await create({ config: { image: 'x' }, region: 'ams' });
    const host = (await h.store.get<MachineRecord>(KINDS.machine, m.id))?.value.host as string;
    // not started yet: 412
    assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/exec`, { cmd: 'ls' })).statusCode, 412);
    await h.observe(m.id, { state: 'started' });
    // no agent listening: 503 with a message
    const none = await h.call('POST', `/v1/apps/web/machines/${m.id}/signal`, { signal: 9 });
    assert.equal(none.statusCode, 503);
    assert.match(String(json(none)['error']), /not reachable/);
    const seen: unknown[] = [];
    const subs = [
      h.bus.respond(`agent.${host}.signal`, (msg) => { seen.push(msg.data); return { ok: true }; }),
      h.bus.respond(`agent.${host}.ps`, () => [{ pid: 1, command: 'init' }]),
      h.bus.respond(`agent.${host}.exec`, (msg) => {
        seen.push(msg.data);
        return { exit_code: 0, stdout: 'hi\n', stderr: '', extra: 'dropped' };
      }),
    ];
    try {
      assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/signal`, { signal: 9 })).statusCode, 200);
      assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/signal`, { signal: 'SIGUSR1' })).statusCode, 200);
      assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/signal`, {})).statusCode, 400);
      assert.deepEqual(json(await h.call('GET', `/v1/apps/web/machines/${m.id}/ps`)), [{ pid: 1, command: 'init' }] as unknown as Record<string, unknown>);
      let r = await h.call('POST', `/v1/apps/web/machines/${m.id}/exec`, { cmd: 'echo "hello world"', stdin: 'in', timeout: 5 });
      assert.deepEqual(json(r), { exit_code: 0, stdout: 'hi\n', stderr: '' });
      r = await h.call('POST', `/v1/apps/web/machines/${m.id}/exec`, { command: ['ls', '-l'] });
      assert.equal(r.statusCode, 200);
      assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/exec`, { cmd: 'echo "open' })).statusCode, 400);
      assert.equal((await h.call('POST', `/v1/apps/web/machines/${m.id}/exec`, {})).statusCode, 400);
      assert.deepEqual(seen, [
        { machine_id: m.id, signal: 'SIGKILL' },
        { machine_id: m.id, signal: 'SIGUSR1' },
        { machine_id: m.id, command: ['echo', 'hello world'], timeout: 5, stdin: 'in' },
        { machine_id: m.id, command: ['ls', '-l'], timeout: 30 },
      ]);
    } finally {
      for (const s of subs) s.unsubscribe();
    }
  });

  it('exposes the agent routing under hangar_routing only', async () => {
    const m = await create({ config: { image: 'x' } });
    await h.observe(m.id, { state: 'started', routing: { address: '127.77.0.9', ports: { '8080': 41234 } } });
    const got = json(await h.call('GET', `/v1/apps/web/machines/${m.id}`));
    assert.deepEqual(got['hangar_routing'], { address: '127.77.0.9', ports: { '8080': 41234 } });
    assert.ok(!('routing' in got));
  });
});
