// The netns pool (src/net/pool.ts): real netns, veths and bridges. Take, refill, configure,
// fallback, teardown, cleanup on close and by start-up cleanup. Skips (with the reason) when not root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { hostPrefix, machineAddress } from '../../src/core/net/sixpn.js';
import { HostNetwork, type MachineNetSpec } from '../../src/net/machine.js';
import { cleanup, observeForCleanup } from '../../src/net/cleanup.js';
import { bridgeName, machineMac, ownedLink, parsePoolNetns, poolAlias, poolNetnsName, poolVethName, vethName } from '../../src/net/plan.js';
import { planPoolTake } from '../../src/net/pool-plan.js';
import { ownedAndUnused, poolOwner } from '../../src/server/networking.js';
import { linkNames, machineId, run, skipReason, startServerIn, tcpFrom, testNetworks } from './helpers.js';
import { hostNetworkLock } from '../helpers/host-lock.js';

describe('netns pool plans (pure)', () => {
  it('names members with the owner label and proves pool veths from name and alias', () => {
    const ns = poolNetnsName('0123abcd', 'a1b2c3d4e5');
    assert.equal(ns, 'hangar-pool-0123abcd-a1b2c3d4e5');
    assert.deepEqual(parsePoolNetns(ns), { owner: '0123abcd', id: 'a1b2c3d4e5' });
    assert.equal(parsePoolNetns('hangar-0123abcd'), undefined);
    assert.equal(poolVethName('a1b2c3d4e5'), 'hgr-pa1b2c3d4e5');
    const alias = poolAlias('0123abcd', 'a1b2c3d4e5', 7);
    assert.deepEqual(ownedLink({ name: 'hgr-pa1b2c3d4e5', kind: 'veth', alias }), { kind: 'pool-veth', name: 'hgr-pa1b2c3d4e5', owner: '0123abcd', netns: ns, network: 7 });
    // a name that does not match the alias, or another kind, is not ours
    assert.equal(ownedLink({ name: 'hgr-pffffffffff', kind: 'veth', alias }), undefined);
    assert.equal(ownedLink({ name: 'hgr-pa1b2c3d4e5', kind: 'bridge', alias }), undefined);
  });

  it('a take sets the machine MAC before eth0 goes up, and refuses another network or an MTU', () => {
    const host = hostPrefix(5, 1);
    const spec: MachineNetSpec = { machineId: 'abcdef0123456789', network: 5, hostPrefix: host, address: machineAddress(host, 1n) };
    const m = { owner: '0123abcd', id: 'a1b2c3d4e5', network: { network: 5, hostPrefix: host } };
    const plan = planPoolTake(spec, m);
    const lines = plan.inside.commands.map((c) => c.args.join(' '));
    assert.ok(lines.indexOf(`link set eth0 address ${machineMac(spec.machineId)}`) < lines.indexOf('link set eth0 up'));
    assert.ok(lines.includes(`addr add ${spec.address}/64 dev eth0 nodad`));
    assert.deepEqual(plan.host.commands.map((c) => c.args.join(' ')), [`neigh replace ${spec.address} lladdr ${machineMac(spec.machineId)} dev ${bridgeName(5)} nud reachable`]);
    assert.throws(() => planPoolTake({ ...spec, network: 6, hostPrefix: hostPrefix(6, 1), address: machineAddress(hostPrefix(6, 1), 1n) }, m), /cannot serve network 6/);
    assert.throws(() => planPoolTake({ ...spec, mtu: 1400 }, m), /default MTU/);
  });

  it("start-up cleanup takes only this server's unused pool veths", () => {
    const select = ownedAndUnused(
      { networks: new Set([5]), netnsMarked: () => true, table: 'hangar-h1', poolOwner: '0123abcd' },
      { machineIds: new Set(), netns: new Set(['hangar-pool-0123abcd-0000000001']), networks: new Set([5]) },
    );
    const veth = (owner: string, id: string, network = 5) => ({ kind: 'pool-veth' as const, name: poolVethName(id), owner, netns: poolNetnsName(owner, id), network });
    assert.equal(select(veth('0123abcd', '0000000002')), true, 'unused, ours');
    assert.equal(select(veth('0123abcd', '0000000001')), false, 'its netns holds a live machine');
    assert.equal(select(veth('ffffffff', '0000000002')), false, "another server's");
    assert.equal(select(veth('0123abcd', '0000000002', 6)), false, 'a network this server did not number');
    assert.notEqual(poolOwner('/tmp/a'), poolOwner('/tmp/b'));
  });
});

// Suites that change the host's network run one at a time (see test/helpers/host-lock.ts).
const skip = skipReason();
if (skip) console.log(`# skipping test/net/pool: ${skip}`);

describe('netns pool, for real', { skip }, () => {
  let releaseHostLock: (() => void) | undefined;
  const table = `hangar-test-${process.pid}`;
  const markerDir = mkdtempSync(join(tmpdir(), 'hangar-pool-test-'));
  const owner = poolOwner(markerDir);
  const net = new HostNetwork({ table, pool: { owner, size: 2, refillDelayMs: 0, markerDir } });
  const network = testNetworks(2);
  const host = hostPrefix(network, 1);
  const spec = (n: bigint): MachineNetSpec => ({ machineId: machineId(), network, hostPrefix: host, address: machineAddress(host, n) });
  const children: ChildProcess[] = [];
  const extraNetns: string[] = [];
  const isOurs = (name: string) => parsePoolNetns(name)?.owner === owner || extraNetns.includes(name);

  const members = async (): Promise<string[]> => (await observeForCleanup(net.runner)).netns.map((n) => n.name).filter((n) => parsePoolNetns(n)?.owner === owner);
  const filled = async (want = 2): Promise<void> => {
    for (let i = 0; i < 500 && net.poolReady({ network, hostPrefix: host }) < want; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(net.poolReady({ network, hostPrefix: host }), want);
  };

  before(async () => {
    releaseHostLock = await hostNetworkLock();
  });

  after(async () => {
    for (const c of children) c.kill();
    await net.close().catch(() => undefined);
    await cleanup(net.runner, (t) =>
      (t.kind === 'pool-veth' && t.owner === owner) ||
      (t.kind === 'veth' && t.network === network) ||
      (t.kind === 'netns' && isOurs(t.name)) ||
      (t.kind === 'bridge' && t.network === network) ||
      (t.kind === 'table' && t.name === table),
    ).catch((e: unknown) => console.log(`# cleanup: ${(e as Error).message}`));
    for (const n of await members().catch(() => [])) await run(['ip', 'netns', 'del', n]);
    for (const n of extraNetns) await run(['ip', 'netns', 'del', n]);
    await run(['nft', 'delete', 'table', 'inet', table]);
    rmSync(markerDir, { recursive: true, force: true });
    releaseHostLock?.();
  });

  it('the first take of a network finds nothing and fills the pool; members are marked and labelled', async () => {
    assert.equal(net.takeNetns(spec(1n)), undefined);
    await filled();
    const names = await members();
    assert.equal(names.length, 2);
    for (const n of names) {
      assert.equal(readFileSync(join(markerDir, n), 'utf8'), 'pool');
      const inside = (await observeForCleanup(net.runner)).netns.find((x) => x.name === n);
      assert.ok(inside?.links?.some((l) => l.name === 'eth0' && l.alias === poolAlias(owner, parsePoolNetns(n)?.id ?? '', network)), JSON.stringify(inside));
    }
    const links = await net.runner.links();
    for (const n of names) {
      const veth = links.find((l) => l.name === poolVethName(parsePoolNetns(n)?.id ?? ''));
      assert.equal(veth?.master, bridgeName(network));
    }
  });

  it('a take configures the machine in its member: address, MAC, neighbour entry, reachable; then the pool refills', async () => {
    const a = spec(1n);
    const b = spec(2n);
    const nsA = net.takeNetns(a);
    const nsB = net.takeNetns(b);
    assert.ok(nsA && nsB && nsA !== nsB);
    const got = await net.networkSetup(`/run/netns/${nsA}`, a);
    assert.equal(got.hostInterface, poolVethName(parsePoolNetns(nsA)?.id ?? ''));
    await net.networkSetup(`/run/netns/${nsB}`, b);
    const eth0 = JSON.parse((await run(['ip', '-n', nsA, '-j', 'addr', 'show', 'dev', 'eth0'])).stdout) as Array<{ address: string; ifalias?: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
    assert.equal(eth0[0]?.address, machineMac(a.machineId));
    assert.ok(eth0[0]?.addr_info.some((x) => x.local === a.address && x.prefixlen === 64));
    const neigh = await run(['ip', '-j', 'neigh', 'show', 'dev', bridgeName(network), 'to', a.address]);
    assert.match(neigh.stdout, new RegExp(machineMac(a.machineId)));
    children.push(await startServerIn(nsB, 8080, 'b'));
    assert.equal(await tcpFrom(nsA, b.address, 8080), 'pong b');
    await filled();
    // teardown removes the member's veth; the netns is the driver's to delete
    await net.networkTeardown(`/run/netns/${nsA}`, a);
    assert.ok(!(await linkNames()).includes(poolVethName(parsePoolNetns(nsA)?.id ?? '')));
    // and the host's neighbour entry: a stale one would send the next start's first packets to a port still down
    assert.equal((await run(['ip', 'neigh', 'show', 'dev', bridgeName(network), 'to', a.address])).stdout.trim(), '');
    for (const c of children.splice(0)) c.kill();
    await net.networkTeardown(`/run/netns/${nsB}`, b);
    for (const ns of [nsA, nsB]) {
      assert.equal((await run(['ip', 'netns', 'del', ns])).code, 0);
      rmSync(join(markerDir, ns), { force: true });
    }
  });

  it('a member whose pooled configuration fails falls back to the full path in the same netns', async () => {
    await filled();
    const a = spec(3n);
    const ns = net.takeNetns(a);
    assert.ok(ns);
    extraNetns.push(ns);
    // break the member: its veth disappears, so the pooled lines fail
    assert.equal((await run(['ip', 'link', 'del', poolVethName(parsePoolNetns(ns)?.id ?? '')])).code, 0);
    await net.networkSetup(`/run/netns/${ns}`, a);
    assert.ok((await linkNames()).includes(vethName(a.machineId)));
    const eth0 = (await run(['ip', '-n', ns, '-j', 'addr', 'show', 'dev', 'eth0'])).stdout;
    assert.ok(eth0.includes(a.address), eth0);
    await net.networkTeardown(`/run/netns/${ns}`, a);
    assert.ok(!(await linkNames()).includes(vethName(a.machineId)));
    assert.equal((await run(['ip', 'netns', 'del', ns])).code, 0);
    rmSync(join(markerDir, ns), { force: true });
  });

  it('close removes the unused members, their veths and markers', async () => {
    await filled();
    const names = await members();
    assert.equal(names.length, 2);
    await net.close();
    assert.deepEqual(await members(), []);
    const links = await linkNames();
    for (const n of names) {
      assert.ok(!links.includes(poolVethName(parsePoolNetns(n)?.id ?? '')));
      assert.ok(!existsSync(join(markerDir, n)));
    }
    assert.deepEqual(readdirSync(markerDir), []);
    assert.equal(net.takeNetns(spec(6n)), undefined, 'a closed pool hands out nothing');
  });
  it('start-up cleanup after a crash removes the unused members and keeps the one a machine runs in', async () => {
    // a server of the same data dir that "crashed": its members stay behind (its waiting
    // processes would read EOF and exit; here the pool is simply left without close)
    const crashed = new HostNetwork({ table, pool: { owner, size: 2, refillDelayMs: 0, markerDir } });
    const live = spec(4n);
    assert.equal(crashed.takeNetns(live), undefined);
    for (let i = 0; i < 500 && crashed.poolReady({ network, hostPrefix: host }) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    const liveNs = crashed.takeNetns(live);
    assert.ok(liveNs);
    await crashed.networkSetup(`/run/netns/${liveNs}`, live);
    writeFileSync(join(markerDir, liveNs), 'hangar-container-of-live'); // what the driver writes
    // the take refilled the pool: two unused members and the live one are left behind
    for (let i = 0; i < 500 && crashed.poolReady({ network, hostPrefix: host }) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await members()).length, 3);
    // what a restarted server selects (src/server/networking.ts restore)
    const select = ownedAndUnused(
      { networks: new Set([network]), netnsMarked: (n) => existsSync(join(markerDir, n)), table, poolOwner: owner },
      { machineIds: new Set([live.machineId]), netns: new Set([liveNs]), networks: new Set([network]) },
    );
    const removed = await cleanup(net.runner, select);
    assert.ok(removed.some((t) => t.kind === 'pool-veth'), JSON.stringify(removed));
    assert.ok(removed.some((t) => t.kind === 'netns'), JSON.stringify(removed));
    assert.deepEqual(await members(), [liveNs]);
    assert.ok((await linkNames()).includes(poolVethName(parsePoolNetns(liveNs)?.id ?? '')), 'the live machine keeps its veth');
    await crashed.close();
    await crashed.networkTeardown(`/run/netns/${liveNs}`, live);
    assert.equal((await run(['ip', 'netns', 'del', liveNs])).code, 0);
    rmSync(join(markerDir, liveNs), { force: true });
    assert.equal(await crashed.removeNetwork(network), true);
  });
});
