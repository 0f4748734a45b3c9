// Real 6PN host networking: three netns on two networks, bridges, veths, nftables isolation.
// Skips (with the reason) when not root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { hostPrefix, machineAddress, resolverAddress } from '../../src/core/net/sixpn.js';
import { HostNetwork, type MachineNetSpec } from '../../src/net/machine.js';
import { cleanup, observeForCleanup } from '../../src/net/cleanup.js';
import { bridgeName, vethName } from '../../src/net/plan.js';
import { IPV6_FORWARDING } from '../../src/net/bridge.js';
import { linkNames, machineId, run, skipReason, startServerIn, tcpFrom, testNetworks } from './helpers.js';
import { hostNetworkLock } from '../helpers/host-lock.js';

// Suites that change the host's network run one at a time (see test/helpers/host-lock.ts).
let releaseHostLock: (() => void) | undefined;
before(async () => {
  releaseHostLock = await hostNetworkLock();
});
after(() => releaseHostLock?.());

const skip = skipReason();
if (skip) console.log(`# skipping test/net/e2e: ${skip}`);

describe('6PN host networking, end to end', { skip }, () => {
  const table = `hangar-test-${process.pid}`;
  const net = new HostNetwork({ table });
  const netA = testNetworks(0);
  const netB = testNetworks(1);
  const hostA = hostPrefix(netA, 1);
  const hostB = hostPrefix(netB, 1);
  const tag = `${process.pid}`;
  const machines: Array<MachineNetSpec & { netns: string }> = [
    { machineId: machineId(), network: netA, hostPrefix: hostA, address: machineAddress(hostA, 1n), netns: `hangar-test-${tag}-a1` },
    { machineId: machineId(), network: netA, hostPrefix: hostA, address: machineAddress(hostA, 2n), netns: `hangar-test-${tag}-a2` },
    { machineId: machineId(), network: netB, hostPrefix: hostB, address: machineAddress(hostB, 1n), netns: `hangar-test-${tag}-b1` },
  ];
  const [a1, a2, b1] = machines as [(typeof machines)[0], (typeof machines)[0], (typeof machines)[0]];
  const ours = new Set<string>([...machines.map((m) => m.machineId), ...machines.map((m) => m.netns)]);
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  let forwardingBefore: string | undefined;

  before(async () => {
    forwardingBefore = (await readFile(IPV6_FORWARDING, 'utf8')).trim();
    for (const m of machines) {
      const r = await run(['ip', 'netns', 'add', m.netns]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    for (const c of children) c.kill();
    for (const s of servers) s.close();
    await cleanup(net.runner, (t) =>
      (t.kind === 'veth' && ours.has(t.machineId)) ||
      (t.kind === 'netns' && ours.has(t.name)) ||
      (t.kind === 'bridge' && (t.network === netA || t.network === netB)) ||
      (t.kind === 'table' && t.name === table),
    ).catch((e: unknown) => console.log(`# cleanup: ${(e as Error).message}`));
    // Whatever cleanup could not prove (a half-made netns) is removed by name: the test made it.
    for (const m of machines) await run(['ip', 'netns', 'del', m.netns]);
    await run(['nft', 'delete', 'table', 'inet', table]);
    if (forwardingBefore !== undefined) await writeFile(IPV6_FORWARDING, `${forwardingBefore}\n`);
  });

  it('plugs every machine in, each with its own fdaa: address on eth0', async () => {
    for (const m of machines) {
      const got = await net.networkSetup(`/run/netns/${m.netns}`, m);
      assert.equal(got.address, m.address);
      assert.equal(got.resolver, resolverAddress(m.network));
      const r = await run(['ip', '-n', m.netns, '-j', 'addr', 'show', 'dev', 'eth0']);
      const addrs = (JSON.parse(r.stdout) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>)[0]?.addr_info ?? [];
      assert.ok(addrs.some((a) => a.local === m.address && a.prefixlen === 64), `eth0 of ${m.netns}: ${r.stdout}`);
    }
    assert.equal(new Set(machines.map((m) => m.address)).size, 3);
    const links = await linkNames();
    for (const name of [bridgeName(netA), bridgeName(netB), ...machines.map((m) => vethName(m.machineId))]) assert.ok(links.includes(name), name);
  });

  it('connects machines of the same network over TCP/IPv6', async () => {
    children.push(await startServerIn(a2.netns, 8080, 'a2'));
    assert.equal(await tcpFrom(a1.netns, a2.address, 8080), 'pong a2');
  });

  it('drops connections between networks (nftables)', async () => {
    children.push(await startServerIn(b1.netns, 8080, 'b1'));
    assert.match(await tcpFrom(a1.netns, b1.address, 8080), /^error /);
    assert.match(await tcpFrom(b1.netns, a2.address, 8080), /^error /);
  });

  it("reaches its own network's ::3 resolver address and not another network's", async () => {
    for (const n of [netA, netB]) {
      const s = createServer((c) => c.end(`resolver ${n}`));
      await new Promise<void>((resolve, reject) => s.once('error', reject).listen(5353, resolverAddress(n), resolve));
      servers.push(s);
    }
    assert.equal(await tcpFrom(a1.netns, resolverAddress(netA), 5353), `resolver ${netA}`);
    assert.equal(await tcpFrom(b1.netns, resolverAddress(netB), 5353), `resolver ${netB}`);
    assert.match(await tcpFrom(a1.netns, resolverAddress(netB), 5353), /^error /);
    assert.match(await tcpFrom(b1.netns, resolverAddress(netA), 5353), /^error /);
  });

  it('keeps the bridge MAC when ports come and go, so ::3 stays reachable after a machine leaves', async () => {
    // Regression: a bridge without a MAC of its own takes its lowest port MAC. Here the port with
    // the lowest MAC leaves after a1 cached the bridge (gateway) MAC; with an inherited MAC, a1's
    // packets to the resolver went to a MAC no port has any more and were dropped for seconds.
    const a3 = { machineId: machineId(), network: netA, hostPrefix: hostA, address: machineAddress(hostA, 3n), netns: `hangar-test-${tag}-a3` };
    ours.add(a3.machineId).add(a3.netns);
    assert.equal((await run(['ip', 'netns', 'add', a3.netns])).code, 0);
    try {
      const mac = async () => ((JSON.parse((await run(['ip', '-j', 'link', 'show', bridgeName(netA)])).stdout) as Array<{ address: string }>)[0]?.address ?? '');
      const before = await mac();
      await net.networkSetup(`/run/netns/${a3.netns}`, a3);
      const low = await run(['ip', 'link', 'set', vethName(a3.machineId), 'address', '02:00:00:00:00:01']);
      assert.equal(low.code, 0, low.stderr);
      assert.equal(await mac(), before, 'a port with a lower MAC must not change the bridge MAC');
      assert.equal(await tcpFrom(a1.netns, resolverAddress(netA), 5353), `resolver ${netA}`);
      await net.networkTeardown(`/run/netns/${a3.netns}`, a3);
      assert.equal(await mac(), before);
      assert.equal(await tcpFrom(a1.netns, resolverAddress(netA), 5353), `resolver ${netA}`);
    } finally {
      await run(['ip', 'netns', 'del', a3.netns]);
    }
  });

  it('setup is repeatable: a second setup of a running machine replaces its veth', async () => {
    await net.networkSetup(`/run/netns/${a1.netns}`, a1);
    assert.equal(await tcpFrom(a1.netns, a2.address, 8080), 'pong a2');
  });

  it('teardown leaves nothing labelled behind', async () => {
    for (const c of children.splice(0)) c.kill();
    for (const s of servers.splice(0)) s.close();
    for (const m of machines) await net.networkTeardown(`/run/netns/${m.netns}`, m);
    for (const m of machines) await net.networkTeardown(`/run/netns/${m.netns}`, m); // idempotent
    assert.equal(await net.removeNetwork(netA), true);
    assert.equal(await net.removeNetwork(netB), true);
    await net.isolation.remove();
    for (const m of machines) assert.equal((await run(['ip', 'netns', 'del', m.netns])).code, 0);
    const links = await linkNames();
    for (const name of [bridgeName(netA), bridgeName(netB), ...machines.map((m) => vethName(m.machineId))]) assert.ok(!links.includes(name), name);
    const left = await observeForCleanup(net.runner);
    assert.ok(!left.tables.includes(table));
    assert.ok(!left.netns.some((n) => ours.has(n.name)));
  });
});
