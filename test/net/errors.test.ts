// Failure paths of 6PN host networking, against the real kernel: every error names its step and
// leaves nothing half-made. Skips (with the reason) when not root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPrefix, machineAddress } from '../../src/core/net/sixpn.js';
import { HostNetwork, type MachineNetSpec } from '../../src/net/machine.js';
import { NetRunner } from '../../src/net/apply.js';
import { cleanup } from '../../src/net/cleanup.js';
import { bridgeName, vethName } from '../../src/net/plan.js';
import { NetError } from '../../src/net/errors.js';
import { linkNames, machineId, run, skipReason, testNetworks } from './helpers.js';
import { hostNetworkLock } from '../helpers/host-lock.js';

// Suites that change the host's network run one at a time (see test/helpers/host-lock.ts).
let releaseHostLock: (() => void) | undefined;
before(async () => {
  releaseHostLock = await hostNetworkLock();
});
after(() => releaseHostLock?.());

const skip = skipReason();
if (skip) console.log(`# skipping test/net/errors: ${skip}`);

function isNetError(code: string, step?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof NetError, String(e));
    assert.equal(e.code, code, e.message);
    if (step) assert.match(e.step ?? '', step, e.message);
    return true;
  };
}

describe('6PN host networking, failures', { skip }, () => {
  const table = `hangar-test-${process.pid}`;
  const tag = `${process.pid}`;
  const net1 = testNetworks(8);
  const net2 = testNetworks(9);
  const host1 = hostPrefix(net1, 1);
  const foreign = bridgeName(net2); // a bridge with Hangar's name but no Hangar alias
  const ns = { plain: `hangar-test-${tag}-e1`, busy: `hangar-test-${tag}-e2`, route: `hangar-test-${tag}-e3` };
  const ids = { a: machineId(), b: machineId(), c: machineId() };
  let dir = '';
  let net: HostNetwork;
  const spec = (id: string, index: bigint): MachineNetSpec => ({ machineId: id, network: net1, hostPrefix: host1, address: machineAddress(host1, index) });

  before(async () => {
    // A fake sysctl file: these tests must not flip the host's forwarding switch.
    dir = await mkdtemp(join(tmpdir(), 'hangar-net-'));
    await writeFile(join(dir, 'forwarding'), '0\n');
    net = new HostNetwork({ table, forwardingSysctl: join(dir, 'forwarding') });
    for (const name of Object.values(ns)) assert.equal((await run(['ip', 'netns', 'add', name])).code, 0);
    // The kernel here has no dummy links: veths stand in. e2 already holds an eth0; e3 already has a default route, so the inside batch fails late.
    assert.equal((await run(['ip', '-n', ns.busy, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'])).code, 0);
    const r = await run(['ip', '-n', ns.route, '-batch', '-'], 'link add dummy0 type veth peer name dummy1\nlink set dummy1 up\nlink set dummy0 up\naddr add fd99::2/64 dev dummy0 nodad\nroute add default via fd99::1 dev dummy0\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await run(['ip', 'link', 'add', foreign, 'type', 'bridge'])).code, 0);
  });

  after(async () => {
    await cleanup(net.runner, (t) =>
      (t.kind === 'veth' && Object.values(ids).includes(t.machineId)) || (t.kind === 'bridge' && t.network === net1) || (t.kind === 'table' && t.name === table),
    ).catch((e: unknown) => console.log(`# cleanup: ${(e as Error).message}`));
    for (const name of Object.values(ns)) await run(['ip', 'netns', 'del', name]);
    await run(['ip', 'link', 'del', foreign]);
    await run(['nft', 'delete', 'table', 'inet', table]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names a missing netns', async () => {
    await assert.rejects(net.networkSetup(`/run/netns/hangar-test-${tag}-missing`, spec(ids.a, 1n)), isNetError('HANGAR_ERR_NET_NETNS_MISSING', /find netns/));
    await assert.rejects(net.networkSetup('/proc/self/ns/net', spec(ids.a, 1n)), isNetError('HANGAR_ERR_NET_INVALID'));
  });

  it('turns forwarding on through the sysctl, and says so when it cannot', async () => {
    await net.ensureNetwork({ network: net1, hostPrefix: host1 });
    assert.equal((await readFile(join(dir, 'forwarding'), 'utf8')).trim(), '1');
    const broken = new HostNetwork({ table, forwardingSysctl: join(dir, 'missing', 'forwarding') });
    await assert.rejects(broken.ensureNetwork({ network: net1, hostPrefix: host1 }), isNetError('HANGAR_ERR_NET_COMMAND', /enable IPv6 forwarding/));
  });

  it('refuses to touch a link with a Hangar name that Hangar did not make', async () => {
    await assert.rejects(net.ensureNetwork({ network: net2, hostPrefix: hostPrefix(net2, 1) }), isNetError('HANGAR_ERR_NET_NOT_OWNED', /bridge hgr-n/));
    assert.ok((await linkNames()).includes(foreign), 'the foreign link is still there');
    assert.equal(await net.removeNetwork(net2).catch((e: NetError) => e.code), 'HANGAR_ERR_NET_NOT_OWNED');
  });

  it('refuses a bridge that serves another host prefix', async () => {
    await assert.rejects(net.ensureNetwork({ network: net1, hostPrefix: hostPrefix(net1, 2) }), isNetError('HANGAR_ERR_NET_INVALID', /check/));
  });

  it('names the failed step when eth0 already exists in the netns, and leaves no veth', async () => {
    await assert.rejects(net.networkSetup(`/run/netns/${ns.busy}`, spec(ids.b, 2n)), isNetError('HANGAR_ERR_NET_COMMAND', /create veth/));
    assert.ok(!(await linkNames()).includes(vethName(ids.b)));
  });

  it('rolls the veth back when the inside batch fails', async () => {
    await assert.rejects(net.networkSetup(`/run/netns/${ns.route}`, spec(ids.c, 3n)), isNetError('HANGAR_ERR_NET_COMMAND', /default route/));
    assert.ok(!(await linkNames()).includes(vethName(ids.c)));
  });

  it('refuses a veth name held by another machine', async () => {
    await net.networkSetup(`/run/netns/${ns.plain}`, spec(ids.a, 1n));
    const twin = `${ids.a.slice(0, 10)}ffff`; // same first 10 hex digits, so the same veth name
    await assert.rejects(net.networkTeardown(undefined, { machineId: twin }), isNetError('HANGAR_ERR_NET_NOT_OWNED', /check hgr-m/));
    assert.equal(await net.removeNetwork(net1), false, 'a machine is still plugged in');
    await net.networkTeardown(undefined, { machineId: ids.a });
    await net.networkTeardown(undefined, { machineId: ids.a }); // no veth: a no-op
  });

  it('reports ip and nft that cannot be started or fail', async () => {
    const missing = new NetRunner({ ip: join(dir, 'no-ip'), nft: join(dir, 'no-nft') });
    await assert.rejects(missing.ipBatch({ commands: [{ args: ['link', 'show'], step: 'probe' }] }), isNetError('HANGAR_ERR_NET_COMMAND', /^probe$/));
    await assert.rejects(missing.nft('list tables\n', 'nft probe'), isNetError('HANGAR_ERR_NET_COMMAND', /^nft probe$/));
    const real = new NetRunner();
    await assert.rejects(real.nft('this is not nft\n', 'bad script'), isNetError('HANGAR_ERR_NET_COMMAND', /^bad script$/));
    await assert.rejects(real.ipBatch({ netns: `hangar-test-${tag}-missing`, commands: [{ args: ['link', 'show'], step: 'x' }] }), isNetError('HANGAR_ERR_NET_COMMAND', /enter netns/));
  });
});
