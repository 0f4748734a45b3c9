/**
 * Acceptance of isolated machines (the issue "Isolated machines: crun driver, OCI images, 6PN
 * private IPv6 and `.internal` DNS"), end to end: `hangar server --driver crun` as a child
 * process, a busybox image imported into its data dir, machines created over the API.
 *
 * The "other organization" is an app created with its own `network` (Fly's custom networks,
 * reference §1d): the API cannot create a second org yet, and an org's default network is made
 * the same way (control/networks.ts), so the isolation exercised is the same.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MachineEvent } from '../../src/core/machine/types.js';
import { networkNumberOf } from '../../src/core/net/sixpn.js';
import { NetRunner } from '../../src/net/apply.js';
import { parsePoolNetns, poolVethName } from '../../src/net/plan.js';
import { poolOwner } from '../../src/server/networking.js';
import { IMAGE, api, createStarted, exec, httpdConfig, importImage, removeServerNetworking, skipReason, startServer, stopServer, waitState, type Server } from './harness.js';
import { waitFor } from '../helpers/wait.js';
import { hostNetworkLock } from '../helpers/host-lock.js';

// Suites that change the host's network run one at a time (see test/helpers/host-lock.ts).
let releaseHostLock: (() => void) | undefined;
before(async () => {
  releaseHostLock = await hostNetworkLock();
});
after(() => releaseHostLock?.());

const reason = await skipReason();
if (reason) console.log(`# isolation tests skipped: ${reason}`);

const BB = '/bin/busybox';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

describe('isolated machines (crun, 6PN, .internal)', { skip: reason }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-iso-'));
  let srv: Server | undefined;
  const machines: Array<{ app: string; id: string }> = [];
  const networks = new Set<number>();

  const server = (): Server => {
    if (!srv) throw new Error('server not started');
    return srv;
  };
  const create = async (app: string, config: Record<string, unknown>) => {
    const m = await createStarted(server(), app, config);
    machines.push({ app, id: m.id });
    networks.add(networkNumberOf(m.private_ip));
    return m;
  };

  before(async () => {
    await importImage(dataDir);
    srv = await startServer(dataDir);
    for (const [name, network] of [['web', undefined], ['client', undefined], ['other', 'iso-net']] as const) {
      const r = await api(srv, 'POST', '/v1/apps', { app_name: name, org_slug: 'personal', ...(network ? { network } : {}) });
      assert.equal(r.status, 201, JSON.stringify(r.json));
    }
  });

  after(async () => {
    // destroy every machine (their netns, veths, cgroups), then stop the server
    if (srv) await stopServer(srv, machines);
    // the bridges of this test's networks and the table stay after the server (machines may
    // outlive it); remove them, and nothing else
    await removeServerNetworking([dataDir], networks);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('start-up says which runtime and cgroup workaround it uses', () => {
    assert.match(server().out, /runtime driver: crun/);
    const out = server().out;
    assert.match(out, /runtime: (crun|runc) \(\/[^)]+\)/);
    if (/runtime: runc/.test(out)) assert.match(out, /runc fallback/);
    // this host is hybrid (cgroup v1 + unified): the workaround must be named
    if (/cgroups hybrid/.test(out)) assert.match(out, /hybrid-cgroup workaround \(private mount namespace\)/);
    assert.match(out, /cgroups owned by Hangar/);
    assert.match(out, /warm containers: (on \(|off, [^;]+; every start is cold)/);
  });

  test('two machines get distinct fdaa: addresses and reach each other by .internal names', async () => {
    const s = server();
    const b = await create('web', httpdConfig('hello from b\n'));
    // A is a machine of another app of the same network, so `web.internal` names B alone
    const a = await create('client', httpdConfig('hello from a\n'));
    assert.match(a.private_ip, /^fdaa:/);
    assert.match(b.private_ip, /^fdaa:/);
    assert.notEqual(a.private_ip, b.private_ip);
    const env = await exec(s, 'client', a.id, [BB, 'sh', '-c', 'echo $FLY_PRIVATE_IP; cat /etc/resolv.conf; hostname']);
    assert.equal(env.stdout.split('\n')[0], a.private_ip);
    assert.match(env.stdout, /nameserver fdaa:[0-9a-f]+:[0-9a-f]+::3/);
    assert.match(env.stdout, new RegExp(a.id));
    for (const url of [`http://${b.id}.vm.web.internal:8080/`, 'http://web.internal:8080/']) {
      const r = await exec(s, 'client', a.id, [BB, 'wget', '-qO-', url]);
      assert.equal(r.stdout, 'hello from b\n', `${url}: ${r.stderr}`);
    }
    // another network: NXDOMAIN for those names, and B's address is unreachable
    const o = await create('other', httpdConfig('other\n'));
    assert.notEqual(o.private_ip.split(':').slice(0, 3).join(':'), b.private_ip.split(':').slice(0, 3).join(':'));
    const look = await exec(s, 'other', o.id, [BB, 'nslookup', `${b.id}.vm.web.internal`]);
    assert.notEqual(look.exit_code, 0);
    assert.match(look.stdout + look.stderr, /NXDOMAIN|can't find/i);
    const direct = await exec(s, 'other', o.id, [BB, 'wget', '-qO-', '-T', '2', `http://[${b.private_ip}]:8080/`]);
    assert.notEqual(direct.exit_code, 0, 'another network must not reach B');
    // ... while its own names resolve
    const own = await exec(s, 'other', o.id, [BB, 'wget', '-qO-', `http://${o.id}.vm.other.internal:8080/`]);
    assert.equal(own.stdout, 'other\n');
  });

  test('a machine of a kind started before runs in a warm container, on its own address, found by its .internal names', async () => {
    const s = server();
    const crunDir = join(dataDir, 'crun');
    // the warm containers of this server: set up (their init waits) and not taken
    const ready = () => readdirSync(crunDir).filter((n) => n.startsWith('hangar-warm-') && existsSync(join(crunDir, n, 'init.pid')) && !existsSync(join(crunDir, n, 'machine')));
    await create('web', httpdConfig('first\n'));
    await waitFor('a warm container', () => ready().length > 0, 30_000, 50);
    const w = await create('web', httpdConfig('warm\n'));
    const bundle = readdirSync(crunDir).find((n) => n.startsWith('hangar-warm-') && readText(join(crunDir, n, 'machine')) === w.id);
    assert.ok(bundle, `machine ${w.id} took a warm container`);
    const inside = await exec(s, 'web', w.id, [BB, 'sh', '-c', 'echo $FLY_PRIVATE_IP; hostname; ip -6 addr show dev eth0 | grep -c "inet6 fdaa"; ip -6 route | grep default']);
    const lines = inside.stdout.split('\n');
    assert.equal(lines[0], w.private_ip);
    assert.equal(lines[1], w.id);
    assert.equal(lines[2], '1', 'eth0 has the machine\'s one 6PN address');
    assert.match(lines[3] ?? '', /^default via fdaa:[0-9a-f:]+::1 dev eth0/);
    const probe = (await api(s, 'GET', '/v1/apps/client/machines')).json as unknown as Array<{ id: string }>;
    const from = probe[0]?.id;
    assert.ok(from);
    for (const url of [`http://${w.id}.vm.web.internal:8080/`, `http://[${w.private_ip}]:8080/`]) {
      const r = await exec(s, 'client', from, [BB, 'wget', '-qO-', url]);
      assert.equal(r.stdout, 'warm\n', `${url}: ${r.stderr}`);
    }
  });

  test('a 256 MB machine allocating 1 GB is OOM-killed; a pids bomb is contained', async () => {
    const s = server();
    const r = await api(s, 'POST', '/v1/apps/web/machines', {
      config: { image: IMAGE, init: { cmd: ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=1024M count=1'] }, guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 }, restart: { policy: 'no' } },
      region: 'local',
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const id = String(r.json['id']);
    machines.push({ app: 'web', id });
    const m = await waitState(s, 'web', id, 'stopped');
    const exit = (m['events'] as MachineEvent[]).find((e) => e.type === 'exit');
    assert.equal((exit?.request as { exit_event?: { oom_killed?: boolean } } | undefined)?.exit_event?.oom_killed, true, JSON.stringify(exit));

    const bomb = await create('web', httpdConfig('bomb\n', { guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 1024 } }));
    const out = await exec(s, 'web', bomb.id, [BB, 'sh', '-c', 'i=0; while [ $i -lt 6000 ]; do sleep 5 & i=$((i+1)); done 2>/dev/null; echo done'], 60);
    void out;
    const ps = await api(s, 'GET', `/v1/apps/web/machines/${bomb.id}/ps`);
    assert.ok(Array.isArray(ps.json) ? (ps.json as unknown[]).length <= 4096 : true);
    // the machine and the host are still fine
    assert.equal((await exec(s, 'web', bomb.id, [BB, 'echo', 'alive'])).stdout, 'alive\n');
  });

  test('root is reset on stop+start; the volume survives stop+start and destroy of another machine', async () => {
    const s = server();
    const vol = await api(s, 'POST', '/v1/apps/web/volumes', { name: 'data', size_gb: 1, region: 'local' });
    assert.equal(vol.status, 200, JSON.stringify(vol.json));
    const m = await create('web', httpdConfig('vol\n', { mounts: [{ volume: vol.json['id'], path: '/data' }] }));
    await exec(s, 'web', m.id, [BB, 'sh', '-c', 'echo root > /root-file; echo vol > /data/vol-file']);
    const other = await create('web', httpdConfig('x\n'));
    assert.equal((await api(s, 'DELETE', `/v1/apps/web/machines/${other.id}?kill=true`)).status, 200);
    await waitState(s, 'web', other.id, 'destroyed');
    assert.equal((await api(s, 'POST', `/v1/apps/web/machines/${m.id}/stop`, {})).status, 200);
    await waitState(s, 'web', m.id, 'stopped');
    assert.equal((await api(s, 'POST', `/v1/apps/web/machines/${m.id}/start`, {})).status, 200);
    await waitState(s, 'web', m.id, 'started');
    const r = await exec(s, 'web', m.id, [BB, 'sh', '-c', 'cat /root-file 2>/dev/null || echo gone; cat /data/vol-file']);
    assert.equal(r.stdout, 'gone\nvol\n');
  });

  test('kill -9 of the server with 10 machines: after restart all are started and reachable, none duplicated', async () => {
    const s = server();
    const ten = await Promise.all(Array.from({ length: 10 }, (_, i) => create('web', httpdConfig(`m${i}\n`))));
    s.child.kill('SIGKILL');
    await s.exited;
    srv = await startServer(dataDir);
    const s2 = server();
    const probe = (await api(s2, 'GET', '/v1/apps/client/machines')).json as unknown as Array<{ id: string }>;
    const from = probe[0]?.id;
    assert.ok(from);
    for (const [i, m] of ten.entries()) {
      const rec = await waitState(s2, 'web', m.id, 'started');
      assert.equal(rec['private_ip'], m.private_ip);
      // by address: at once
      const byIp = await exec(s2, 'client', from, [BB, 'wget', '-qO-', `http://[${m.private_ip}]:8080/`]);
      assert.equal(byIp.stdout, `m${i}\n`, `wget from ${from} to ${m.private_ip}: exit ${byIp.exit_code}, stderr ${JSON.stringify(byIp.stderr)}`);
      // by name: at once too. The resolver used to be unreachable for seconds here: the bridge
      // took its MAC from its ports, the ten new veths changed it, and `from` kept the old MAC
      // for its gateway (net/plan.ts bridgeMac). One try, bounded (exec timeout) at the resolver's 5 s retry. (No `wget -T`: this busybox build segfaults with it.)
      const r = await exec(s2, 'client', from, [BB, 'wget', '-qO-', `http://${m.id}.vm.web.internal:8080/`], 5);
      assert.equal(r.stdout, `m${i}\n`, `wget from ${from} to ${m.id}.vm.web.internal: exit ${r.exit_code}, stderr ${JSON.stringify(r.stderr)}`);
      const ps = await exec(s2, 'web', m.id, [BB, 'sh', '-c', 'ps | grep -c "[h]ttpd -f"']);
      assert.equal(ps.stdout.trim(), '1', `machine ${m.id} runs one httpd`);
    }
  });

  test('a machine started in a prepared netns: recovered after kill -9, unused members removed at start-up, its netns gone on destroy', async () => {
    const runner = new NetRunner();
    const owner = poolOwner(dataDir);
    const poolNs = async (): Promise<string[]> => (await runner.netnsNames()).filter((n) => parsePoolNetns(n)?.owner === owner);
    // members by the label of their eth0: `hangar:pool:…` while unused, the machine's once taken
    const labelled = async (prefix: string): Promise<string[]> => {
      const out: string[] = [];
      for (const n of await poolNs()) if ((await runner.links(n)).some((l) => l.name === 'eth0' && (l.alias ?? '').startsWith(prefix))) out.push(n);
      return out;
    };
    const holding = async (id: string): Promise<string | undefined> => (await labelled(`hangar:machine:${id}:`))[0];
    const s = server();
    // a start in this server run fills the pool of its network (after the refill delay)
    await create('web', httpdConfig('warm\n'));
    await waitFor('two pool members ready', async () => ((await labelled('hangar:pool:')).length >= 2 ? true : undefined), 30_000, 100);
    const m = await create('web', httpdConfig('pooled\n'));
    const ns = await holding(m.id);
    assert.ok(ns, `machine ${m.id} runs in a pool member (${(await poolNs()).join(' ')})`);
    s.child.kill('SIGKILL');
    await s.exited;
    srv = await startServer(dataDir);
    const s2 = server();
    await waitState(s2, 'web', m.id, 'started');
    // the earlier run's unused members are gone (no start yet in this run, so none are new); the machine's stays
    assert.deepEqual(await labelled('hangar:pool:'), []);
    assert.ok((await poolNs()).includes(ns));
    const probe = (await api(s2, 'GET', '/v1/apps/client/machines')).json as unknown as Array<{ id: string }>;
    const from = probe[0]?.id;
    assert.ok(from);
    const r = await exec(s2, 'client', from, [BB, 'wget', '-qO-', `http://[${m.private_ip}]:8080/`]);
    assert.equal(r.stdout, 'pooled\n', `wget from ${from}: exit ${r.exit_code}, stderr ${JSON.stringify(r.stderr)}`);
    assert.equal((await api(s2, 'DELETE', `/v1/apps/web/machines/${m.id}?kill=true`)).status, 200);
    await waitState(s2, 'web', m.id, 'destroyed');
    assert.ok(!(await poolNs()).includes(ns), 'destroy removes the member netns');
    assert.ok(!(await runner.links()).some((l) => l.name === poolVethName(parsePoolNetns(ns)?.id ?? '')), 'and its veth');
  });
});
