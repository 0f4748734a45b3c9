import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import {
  allocateHostPrefix,
  allocateMachineAddress,
  allocateNetworkNumber,
  siteOfNetwork,
  bridgeAddress,
  describeAddress,
  formatIPv6,
  hostPrefix,
  machineAddress,
  machinePrefix,
  networkNumberOf,
  networkPrefix,
  normalizeIPv6,
  parseCidr6,
  parseIPv6,
  resolverAddress,
  SixpnError,
  MAX_HOST,
} from '../../../src/core/net/sixpn.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SixpnError, `expected SixpnError, got ${String(err)}`);
    return err.code;
  }
  return undefined;
}

describe('IPv6 text', () => {
  it('formats compactly as RFC 5952 says', () => {
    assert.equal(normalizeIPv6('FDAA:0000:0001:0A7B:8C31:5AE1:4C9D:0002'), 'fdaa:0:1:a7b:8c31:5ae1:4c9d:2');
    assert.equal(normalizeIPv6('fdaa:0:0:0:0:0:0:3'), 'fdaa::3');
    assert.equal(normalizeIPv6('0:0:0:0:0:0:0:0'), '::');
    assert.equal(normalizeIPv6('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(normalizeIPv6('1:0:0:0:0:0:0:0'), '1::');
    // a single zero group is not compressed
    assert.equal(normalizeIPv6('1:0:2:3:4:5:6:7'), '1:0:2:3:4:5:6:7');
    // the longest run wins, the first on a tie
    assert.equal(normalizeIPv6('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
    assert.equal(normalizeIPv6('1:0:0:2:3:0:0:4'), '1::2:3:0:0:4');
    assert.equal(normalizeIPv6('::ffff:127.0.0.1'), '::ffff:7f00:1');
  });

  it('rejects what is not an address', () => {
    for (const bad of ['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1::2:3:4:5:6:7:8', '::1.2.3', '::256.1.1.1', '1.2.3.4', 'fdaa::3 ', ':1:2:3:4:5:6:7']) {
      assert.equal(code(() => parseIPv6(bad)), 'HANGAR_ERR_6PN_INVALID', bad);
    }
    assert.equal(code(() => formatIPv6(-1n)), 'HANGAR_ERR_6PN_INVALID');
    assert.equal(code(() => formatIPv6(1n << 128n)), 'HANGAR_ERR_6PN_INVALID');
    assert.equal(code(() => parseCidr6('fdaa::1/48')), 'HANGAR_ERR_6PN_INVALID');
    assert.equal(code(() => parseCidr6('fdaa::/129')), 'HANGAR_ERR_6PN_INVALID');
    assert.equal(code(() => parseCidr6('fdaa::')), 'HANGAR_ERR_6PN_INVALID');
  });

  it('round-trips every 128-bit value and agrees with node:net', () => {
    const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        let v = 0n;
        for (const g of groups) v = (v << 16n) | BigInt(g);
        const text = formatIPv6(v);
        assert.ok(isIPv6(text), text);
        assert.equal(parseIPv6(text), v);
        assert.equal(parseIPv6(groups.map((g) => g.toString(16)).join(':')), v);
      }),
    );
  });
});

describe('6PN layout', () => {
  it('derives the network /48, resolver, host /64, bridge and machine addresses', () => {
    assert.equal(networkPrefix(1), 'fdaa:0:1::/48');
    assert.equal(networkPrefix(0x12345678), 'fdaa:1234:5678::/48');
    assert.equal(networkPrefix(0xffffffff), 'fdaa:ffff:ffff::/48');
    assert.equal(resolverAddress(1), 'fdaa:0:1::3');
    assert.equal(hostPrefix(1, 0xa7b), 'fdaa:0:1:a7b::/64');
    assert.equal(bridgeAddress('fdaa:0:1:a7b::/64'), 'fdaa:0:1:a7b::1');
    assert.equal(machinePrefix('fdaa:0:1:a7b::/64', 0x8c315ae14c9dn), 'fdaa:0:1:a7b:8c31:5ae1:4c9d:0/112');
    assert.equal(machineAddress('fdaa:0:1:a7b::/64', 0x8c315ae14c9dn), 'fdaa:0:1:a7b:8c31:5ae1:4c9d:2');
    assert.equal(machineAddress('fdaa:0:1:a7b::/64', 1n), 'fdaa:0:1:a7b::1:2');
    assert.equal(networkNumberOf('fdaa:1234:5678:1::2'), 0x12345678);
    assert.deepEqual(describeAddress('fdaa:0:1:a7b:8c31:5ae1:4c9d:2'), { network: 1, host: 0xa7b, machine: 0x8c315ae14c9dn, iface: 2 });
    assert.equal(describeAddress('127.0.0.1'), undefined);
    assert.equal(describeAddress('fe80::1'), undefined);
  });

  it('rejects out-of-range numbers and foreign prefixes', () => {
    for (const fn of [
      () => networkPrefix(0),
      () => networkPrefix(2 ** 32),
      () => networkPrefix(1.5),
      () => resolverAddress(-1),
      () => hostPrefix(1, 0),
      () => hostPrefix(1, MAX_HOST + 1),
      () => bridgeAddress('fdaa:0:1::/48'),
      () => bridgeAddress('fd00:0:1:2::/64'),
      () => machineAddress('fdaa:0:1:2::/64', 0n),
      () => machineAddress('fdaa:0:1:2::/64', 1n << 48n),
      () => networkNumberOf('fe80::1'),
    ]) {
      assert.equal(code(fn), 'HANGAR_ERR_6PN_INVALID');
    }
  });
});

describe('6PN allocation', () => {
  it('hands out the lowest free network number, never 0', () => {
    assert.equal(allocateNetworkNumber([]), 1);
    assert.equal(allocateNetworkNumber([1, 2, 4]), 3);
    assert.equal(allocateNetworkNumber([2, 3]), 1);
    // a site's block: site << 16 | 1..0xffff, and nothing outside it
    assert.equal(allocateNetworkNumber([], 0xb782), 0xb782_0001);
    assert.equal(allocateNetworkNumber([0xb782_0001, 3], 0xb782), 0xb782_0002);
    assert.equal(siteOfNetwork(allocateNetworkNumber([], 7)), 7);
    assert.throws(() => allocateNetworkNumber(Array.from({ length: 0xffff }, (_, i) => 0x10000 + i + 1), 1), /in use/);
    assert.throws(() => allocateNetworkNumber([], 0x10000), /invalid 6PN site/);
  });

  it('hands out the lowest free host /64, skipping host 0, whatever form `used` has', () => {
    assert.equal(allocateHostPrefix(1, []), 'fdaa:0:1:1::/64');
    assert.equal(allocateHostPrefix(1, ['fdaa:0:1:1::/64', 'FDAA:0000:0001:0002::1', 'junk', 'fdaa:0:2:3::/64']), 'fdaa:0:1:3::/64');
  });

  it('fails clearly when a network has no free host', () => {
    const used: string[] = [];
    for (let i = 1; i <= MAX_HOST; i++) used.push(hostPrefix(7, i));
    assert.throws(() => allocateHostPrefix(7, used), (err: unknown) => err instanceof SixpnError && err.code === 'HANGAR_ERR_6PN_EXHAUSTED' && /fdaa:0:7::\/48/.test(err.message));
    // another network is unaffected
    assert.equal(allocateHostPrefix(8, used), 'fdaa:0:8:1::/64');
  });

  it('hands out machine addresses upwards, wrapping to holes at the top', () => {
    const host = 'fdaa:0:1:5::/64';
    assert.equal(allocateMachineAddress(host, []), 'fdaa:0:1:5::1:2');
    const a3 = machineAddress(host, 3n);
    // the hole at 1 and 2 is not reused while there is room above the highest
    assert.equal(allocateMachineAddress(host, [a3, 'fdaa:0:1:6:0:0:9:2']), machineAddress(host, 4n));
    assert.equal(allocateMachineAddress(host, [machineAddress(host, 4n), machineAddress(host, 1n)], 4n), machineAddress(host, 2n));
  });

  it('fails clearly when a host has no free machine address', () => {
    const host = 'fdaa:0:1:5::/64';
    const used = [1n, 2n, 3n].map((i) => machineAddress(host, i));
    assert.throws(() => allocateMachineAddress(host, used, 3n), (err: unknown) => err instanceof SixpnError && err.code === 'HANGAR_ERR_6PN_EXHAUSTED');
    assert.equal(code(() => allocateMachineAddress('fdaa:0:1::/48', [])), 'HANGAR_ERR_6PN_INVALID');
  });
});
