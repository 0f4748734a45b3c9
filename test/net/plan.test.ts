// Pure plans of 6PN host networking: names, labels, ip batches, nftables text, cleanup choice.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostPrefix, machineAddress } from '../../src/core/net/sixpn.js';
import { bridgeAlias, bridgeMac, bridgeName, failedStep, netnsNameFromPath, ownedLink, planBridge, planMachine, planMachineTeardown, renderBatch, vethAlias, vethName, type MachineNetSpec, machineMac } from '../../src/net/plan.js';
import { renderRuleset, renderTableRemoval } from '../../src/net/ruleset.js';
import { keepLive, ownedNetns, planCleanup } from '../../src/net/cleanup.js';

const host = hostPrefix(1, 1);
const spec: MachineNetSpec = { machineId: '1857156b526dd8', network: 1, hostPrefix: host, address: machineAddress(host, 1n) };
const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;

describe('names and labels', () => {
  it('gives labelled names within the 15-char ifname limit', () => {
    assert.equal(bridgeName(1), 'hgr-n1');
    assert.equal(bridgeName(0xffffffff), 'hgr-nffffffff');
    assert.equal(vethName('1857156b526dd8'), 'hgr-m1857156b52');
    assert.match(vethName('not-hex_id'), /^hgr-m[0-9a-f]{10}$/);
    assert.notEqual(vethName('test-a'), vethName('test-b'));
    for (const n of [bridgeName(0xffffffff), vethName('x'.repeat(64))]) assert.ok(n.length <= 15, n);
  });

  it('rejects bad machine ids and network numbers', () => {
    assert.throws(() => vethName('a b'), code('HANGAR_ERR_NET_INVALID'));
    assert.throws(() => vethName(''), code('HANGAR_ERR_NET_INVALID'));
    assert.throws(() => bridgeName(0), code('HANGAR_ERR_6PN_INVALID'));
  });

  it('proves ownership only from name, kind and a matching alias', () => {
    const br = { name: 'hgr-n1', kind: 'bridge', alias: bridgeAlias({ network: 1, hostPrefix: host }) };
    assert.deepEqual(ownedLink(br), { kind: 'bridge', name: 'hgr-n1', network: 1, hostPrefix: host });
    assert.equal(ownedLink({ ...br, kind: 'dummy' }), undefined);
    assert.equal(ownedLink({ ...br, alias: undefined }), undefined);
    assert.equal(ownedLink({ ...br, name: 'hgr-n2' }), undefined, 'alias names another network');
    assert.equal(ownedLink({ ...br, alias: 'hangar:net:1:fdaa:0:2:1::/64' }), undefined, 'prefix of another network');
    assert.equal(ownedLink({ ...br, name: 'br0' }), undefined);
    const veth = { name: vethName(spec.machineId), kind: 'veth', alias: vethAlias(spec.machineId, 1) };
    assert.deepEqual(ownedLink(veth), { kind: 'veth', name: veth.name, machineId: spec.machineId, network: 1 });
    assert.equal(ownedLink({ ...veth, alias: vethAlias('ffffffffffffff', 1) }), undefined, 'alias of another machine');
  });

  it('takes netns names from /run/netns paths with the hangar- label', () => {
    assert.equal(netnsNameFromPath('/run/netns/hangar-1857156b526dd8'), 'hangar-1857156b526dd8');
    assert.throws(() => netnsNameFromPath('/var/run/netns/hangar-x'), code('HANGAR_ERR_NET_INVALID'));
    assert.throws(() => netnsNameFromPath('/run/netns/other'), code('HANGAR_ERR_NET_INVALID'));
    assert.throws(() => netnsNameFromPath('hangar-x'), code('HANGAR_ERR_NET_INVALID'));
  });
});

describe('ip batches', () => {
  it('plans a bridge with gateway ::1/64 and resolver ::3/128, nodad, idempotent lines', () => {
    const fresh = renderBatch(planBridge({ network: 1, hostPrefix: host }, false));
    const mac = bridgeMac({ network: 1, hostPrefix: host });
    assert.match(mac, /^02(:[0-9a-f]{2}){5}$/);
    assert.notEqual(mac, bridgeMac({ network: 2, hostPrefix: hostPrefix(2, 1) }));
    assert.equal(
      fresh,
      [
        `link add hgr-n1 address ${mac} type bridge mcast_snooping 0`,
        'link set hgr-n1 alias hangar:net:1:fdaa:0:1:1::/64',
        `link set hgr-n1 address ${mac}`,
        'addr replace fdaa:0:1:1::1/64 dev hgr-n1 nodad',
        'addr replace fdaa:0:1::3/128 dev hgr-n1 nodad',
        'link set hgr-n1 up',
        '',
      ].join('\n'),
    );
    const again = planBridge({ network: 1, hostPrefix: host }, true);
    assert.ok(again.commands.every((c) => c.args[1] !== 'add'));
  });

  it('rejects a host prefix outside the network or host 0', () => {
    assert.throws(() => planBridge({ network: 1, hostPrefix: hostPrefix(2, 1) }, false), code('HANGAR_ERR_NET_INVALID'));
    assert.throws(() => planBridge({ network: 1, hostPrefix: 'fdaa:0:1::/64' }, false), code('HANGAR_ERR_NET_INVALID'));
    assert.throws(() => planBridge({ network: 1, hostPrefix: 'fdaa:0:1:100::/56' }, false), code('HANGAR_ERR_NET_INVALID'));
  });

  it('plans a machine: veth into the netns, address nodad, default route via ::1', () => {
    const p = planMachine(spec, 'hangar-1857156b526dd8');
    assert.equal(p.host.netns, undefined);
    const mac = machineMac('1857156b526dd8');
    assert.match(mac, /^02(:[0-9a-f]{2}){5}$/);
    assert.notEqual(machineMac('1857156b526dd9'), mac);
    assert.deepEqual(p.host.commands[0]?.args, ['link', 'add', 'hgr-m1857156b52', 'type', 'veth', 'peer', 'name', 'eth0', 'address', mac, 'netns', 'hangar-1857156b526dd8']);
    assert.ok(p.host.commands.some((c) => c.args.join(' ') === 'link set hgr-m1857156b52 master hgr-n1'));
    // the host learns the machine's MAC once eth0 is up: no stale entry, no lost first solicitation,
    // and nothing the host queued for the address is sent to a port still down
    assert.deepEqual(p.neigh.commands.map((c) => c.args.join(' ')), [`neigh replace fdaa:0:1:1::1:2 lladdr ${mac} dev hgr-n1 nud reachable`]);
    assert.ok(!p.host.commands.some((c) => c.args[0] === 'neigh'));
    assert.equal(p.inside.netns, 'hangar-1857156b526dd8');
    assert.deepEqual(
      p.inside.commands.map((c) => c.args.join(' ')),
      [
        'link set lo up',
        'link set eth0 alias hangar:machine:1857156b526dd8:net:1',
        'addr add fdaa:0:1:1::1:2/64 dev eth0 nodad',
        'link set eth0 up',
        'route add default via fdaa:0:1:1::1 dev eth0',
      ],
    );
    // a new netns is made in the same `ip` process, before the veth that goes into it
    const fresh = planMachine(spec, 'hangar-1857156b526dd8', { createNetns: true });
    assert.deepEqual(fresh.host.commands.map((c) => c.args.join(' ')).slice(0, 2), ['netns add hangar-1857156b526dd8', p.host.commands[0]?.args.join(' ')]);
    assert.deepEqual(fresh.inside, p.inside);
    const mtu = planMachine({ ...spec, mtu: 1420 }, 'hangar-x');
    assert.match(mtu.host.commands[0]?.args.join(' ') ?? '', /^link add hgr-m1857156b52 mtu 1420 type veth peer name eth0 mtu 1420 address 02(:[0-9a-f]{2}){5} netns hangar-x$/);
    assert.deepEqual(planMachineTeardown(spec.machineId).commands.map((c) => c.args.join(' ')), ['link del hgr-m1857156b52']);
  });

  it('rejects machine addresses that are not the ::2 of a /112 in the host prefix, and bad MTUs', () => {
    assert.throws(() => planMachine({ ...spec, address: 'fdaa:0:1:1::1:3' }, 'hangar-x'), code('HANGAR_ERR_NET_INVALID'));
    assert.throws(() => planMachine({ ...spec, address: 'fdaa:0:1:2::1:2' }, 'hangar-x'), code('HANGAR_ERR_NET_INVALID'));
    assert.throws(() => planMachine({ ...spec, address: 'fdaa:0:1:1::2' }, 'hangar-x'), code('HANGAR_ERR_NET_INVALID'));
    assert.throws(() => planMachine({ ...spec, address: 'nope' }, 'hangar-x'), code('HANGAR_ERR_6PN_INVALID'));
    assert.throws(() => planMachine({ ...spec, mtu: 1000 }, 'hangar-x'), code('HANGAR_ERR_NET_INVALID'));
  });

  it('refuses tokens that could split a batch line', () => {
    for (const bad of ['a b', 'x\nlink del eth0', '"q"', '#c', '']) {
      assert.throws(() => renderBatch({ commands: [{ args: ['link', 'set', bad], step: 's' }] }), code('HANGAR_ERR_NET_INVALID'));
    }
  });

  it('maps `Command failed -:N` back to the step', () => {
    const p = planMachine(spec, 'hangar-x').inside;
    assert.equal(failedStep(p, 'RTNETLINK answers: File exists\nCommand failed -:3\n')?.step, `machine ${spec.machineId}: add address fdaa:0:1:1::1:2/64`);
    assert.equal(failedStep(p, 'something else'), undefined);
  });
});

describe('nftables ruleset', () => {
  it('renders one atomic, deterministic replacement of the hangar table', () => {
    const text = renderRuleset([2, 1, 2]);
    assert.equal(text, renderRuleset([1, 2]));
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['table inet hangar {}', 'delete table inet hangar', 'table inet hangar {']);
    assert.ok(lines.some((l) => l.trim() === 'iifname "hgr-n1" ip6 daddr fdaa::/16 ip6 daddr != fdaa:0:1::/48 drop comment "hangar:net:1"'));
    assert.ok(lines.some((l) => l.trim() === 'oifname "hgr-n2" ip6 saddr fdaa::/16 ip6 saddr != fdaa:0:2::/48 drop comment "hangar:net:2"'));
    assert.ok(lines.some((l) => l.includes('ip6 saddr fdaa:0:1::/48 ip6 daddr != fdaa::/16 oifname != "hgr-*" masquerade')));
    assert.ok(!/table (ip|ip6|inet) (?!hangar\b)/.test(text), 'names no other table');
    assert.equal(renderTableRemoval('hangar-test-7'), 'table inet hangar-test-7 {}\ndelete table inet hangar-test-7\n');
  });

  it('only owns hangar-labelled table names', () => {
    for (const bad of ['filter', 'hangarx', 'hangar;flush ruleset', 'hangar test']) {
      assert.throws(() => renderRuleset([1], bad), code('HANGAR_ERR_NET_INVALID'));
    }
  });
});

describe('cleanup plan', () => {
  const ours = [
    { name: 'hgr-n1', kind: 'bridge', alias: bridgeAlias({ network: 1, hostPrefix: host }) },
    { name: vethName(spec.machineId), kind: 'veth', alias: vethAlias(spec.machineId, 1) },
  ];
  const foreign = [
    { name: 'eth0', kind: undefined, alias: undefined },
    { name: 'hgr-n9', kind: 'dummy', alias: undefined },
    { name: 'docker0', kind: 'bridge', alias: undefined },
  ];
  const eth0 = { name: 'eth0', kind: 'veth', alias: vethAlias(spec.machineId, 1) };
  const observed = {
    links: [...ours, ...foreign],
    netns: [
      { name: 'hangar-a', links: [{ name: 'lo', kind: undefined, alias: undefined }, eth0] },
      { name: 'hangar-b', links: [{ name: 'lo', kind: undefined, alias: undefined }, { name: 'wg0', kind: 'wireguard', alias: undefined }] },
      { name: 'hangar-c', links: undefined },
      { name: 'other', links: [] },
    ],
    tables: ['hangar', 'filter', 'hangar-test-1'],
  };

  it('removes only what it proves it owns, veths before netns before bridges', () => {
    const p = planCleanup(observed, () => true);
    assert.deepEqual(
      p.batch.commands.map((c) => c.args.join(' ')),
      [`link del ${vethName(spec.machineId)}`, 'netns del hangar-a', 'link del hgr-n1'],
    );
    assert.deepEqual(p.tables, ['hangar', 'hangar-test-1']);
    assert.equal(ownedNetns('hangar-b', observed.netns[1]?.links), false);
    assert.equal(ownedNetns('hangar-c', undefined), false);
  });

  it('keeps live machines and networks for a running agent', () => {
    const p = planCleanup(observed, keepLive({ machineIds: new Set([spec.machineId]), netns: new Set(['hangar-a']), networks: new Set([1]) }));
    assert.deepEqual(p.batch.commands, []);
    assert.deepEqual(p.tables, []);
    const idle = planCleanup(observed, keepLive({ machineIds: new Set(), netns: new Set(), networks: new Set() }));
    assert.deepEqual(idle.tables, ['hangar'], 'only its own table');
  });
});
