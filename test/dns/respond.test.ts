import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from 'dns-packet';
import { buildZone, type ZoneMachine } from '../../src/core/dns/zone.js';
import { Responder, type Outcome } from '../../src/dns/respond.js';
import { ReplyCache } from '../../src/dns/reply-cache.js';
import { query, rcodeOf, type Reply } from './helpers.js';

const machines: ZoneMachine[] = [
  { id: 'm1', app: 'web', region: 'iad', state: 'started', private_ip: 'fdaa:0:1:1::1:2' },
  { id: 'm2', app: 'web', region: 'ams', state: 'started', private_ip: 'fdaa:0:1:1::2:2' },
];
// vms.mid.internal: 40 × "midNNNN iad", a reply of about 560 bytes: over 512, under 1232
for (let i = 0; i < 40; i++) machines.push({ id: `mid${String(i).padStart(4, '0')}`, app: 'mid', region: 'iad', state: 'started', private_ip: `fdaa:0:1:1::${(i + 16).toString(16)}:2` });
const zone = buildZone({
  apps: [
    { name: 'web', network: 'default', org: 'acme' },
    { name: 'mid', network: 'default', org: 'acme' },
  ],
  machines,
});

function responder(): Responder {
  const r = new Responder();
  r.setZone(zone);
  return r;
}

function reply(o: Outcome): Buffer {
  assert.equal(o.kind, 'reply');
  return (o as Extract<Outcome, { kind: 'reply' }>).bytes;
}

const decoded = (o: Outcome) => decode(reply(o)) as Reply;

describe('Responder reply cache', () => {
  it('answers a repeated question from the cache with the new id, and keys it by listener network and transport', () => {
    const r = responder();
    const a = reply(r.respond('default', query('web.internal', 'AAAA', { id: 1 }), 'udp'));
    const b = reply(r.respond('default', query('web.internal', 'AAAA', { id: 2 }), 'udp'));
    assert.equal(a.readUInt16BE(0), 1);
    assert.equal(b.readUInt16BE(0), 2);
    assert.deepEqual(a.subarray(2), b.subarray(2));
    assert.equal(r.cachedReplies('default', 'udp'), 1);
    r.respond('default', query('web.internal', 'AAAA'), 'tcp');
    r.respond('other', query('web.internal', 'AAAA'), 'udp');
    assert.equal(r.cachedReplies('default', 'tcp'), 1);
    // the other network's view has no such app: its own reply, not the default network's
    assert.equal(rcodeOf(reply(r.respond('other', query('web.internal', 'AAAA', { id: 3 }), 'udp'))), 3);
  });

  it('matches names case-insensitively and echoes each spelling as asked, cached or not', () => {
    const r = responder();
    for (let round = 0; round < 2; round++) {
      for (const name of ['web.internal', 'WEB.INTERNAL', 'Web.Internal']) {
        const d = decoded(r.respond('default', query(name, 'AAAA'), 'udp'));
        assert.equal(d.questions?.[0]?.name, name);
        assert.deepEqual(d.answers?.map((x) => [x.name, 'data' in x ? x.data : undefined]), [
          [name, 'fdaa:0:1:1::1:2'],
          [name, 'fdaa:0:1:1::2:2'],
        ]);
      }
    }
    assert.equal(r.cachedReplies('default', 'udp'), 3);
  });

  it('keeps NXDOMAIN and NODATA apart when cached', () => {
    const r = responder();
    for (let round = 0; round < 2; round++) {
      const nx = decoded(r.respond('default', query('nope.internal', 'AAAA'), 'udp'));
      assert.equal(nx.rcode, 'NXDOMAIN');
      assert.equal(nx.authorities?.[0]?.type, 'SOA');
      const nodata = decoded(r.respond('default', query('web.internal', 'TXT'), 'udp'));
      assert.equal(nodata.rcode, 'NOERROR');
      assert.equal(nodata.answers?.length, 0);
      assert.equal(nodata.authorities?.[0]?.type, 'SOA');
    }
  });

  it('copies RD and CD from each query, not from the one that filled the cache', () => {
    const r = responder();
    const rd = decoded(r.respond('default', query('web.internal', 'AAAA', { flags: 1 << 8 }), 'udp'));
    const none = decoded(r.respond('default', query('web.internal', 'AAAA', { flags: 0 }), 'udp'));
    const cd = decoded(r.respond('default', query('web.internal', 'AAAA', { flags: (1 << 8) | (1 << 4) }), 'udp'));
    assert.deepEqual([rd.flag_rd, rd.flag_cd], [true, false]);
    assert.deepEqual([none.flag_rd, none.flag_cd], [false, false]);
    assert.deepEqual([cd.flag_rd, cd.flag_cd], [true, true]);
  });

  it('truncates by each query\'s own UDP size: EDNS 1232 gets it whole, plain 512 gets TC, in either order', () => {
    const r = responder();
    const whole = reply(r.respond('default', query('vms.mid.internal', 'TXT', { edns: 1232 }), 'udp'));
    assert.ok(whole.length > 512 && whole.length <= 1232, `reply of ${whole.length} bytes`);
    const plain = decoded(r.respond('default', query('vms.mid.internal', 'TXT'), 'udp'));
    assert.equal(plain.flag_tc, true);
    assert.equal(plain.answers?.length, 0);
    assert.equal(decoded(r.respond('default', query('vms.mid.internal', 'TXT', { edns: 1232 }), 'udp')).flag_tc, false);
    // a client announcing less than 512 still gets 512 (RFC 6891 §6.2.5), so TC as without EDNS
    assert.equal(decoded(r.respond('default', query('vms.mid.internal', 'TXT', { edns: 256 }), 'udp')).flag_tc, true);
    // over TCP the whole answer, whatever the EDNS size
    assert.equal(decoded(r.respond('default', query('vms.mid.internal', 'TXT'), 'tcp')).answers?.length, 1);
  });

  it('answers BADVERS to EDNS version 1 even when version 0 of the same question is cached', () => {
    const r = responder();
    assert.equal(rcodeOf(reply(r.respond('default', query('web.internal', 'AAAA', { edns: 1232 }), 'udp'))), 0);
    const v1 = encode({ type: 'query', id: 5, flags: 1 << 8, questions: [{ name: 'web.internal', type: 'AAAA' }], additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }] });
    const bad = decoded(r.respond('default', v1, 'udp'));
    assert.equal(bad.answers?.length, 0);
    const opt = bad.additionals?.find((a) => a.type === 'OPT');
    assert.equal(opt?.extendedRcode, 1);
  });

  it('gives malformed and unusual queries the full decode, uncached', () => {
    const r = responder();
    const header = (qd: number) => Buffer.from([0x12, 0x34, 0x01, 0x00, 0, qd, 0, 0, 0, 0, 0, 0]);
    // a question whose name is a pointer to itself
    assert.equal(rcodeOf(reply(r.respond('default', Buffer.concat([header(1), Buffer.from([0xc0, 12, 0, 28, 0, 1])]), 'udp'))), 1);
    // two questions
    const two = encode({ type: 'query', id: 9, flags: 0, questions: [{ name: 'web.internal', type: 'AAAA' }, { name: 'web.internal', type: 'A' }] });
    assert.equal(rcodeOf(reply(r.respond('default', two, 'udp'))), 1);
    // a trailing byte: dns-packet ignores it, so the answer is the usual one
    const trailing = decoded(r.respond('default', Buffer.concat([query('web.internal', 'AAAA'), Buffer.from([0])]), 'udp'));
    assert.equal(trailing.answers?.length, 2);
    assert.equal(r.cachedReplies('default', 'udp'), 0);
    // a plain query after them is cached as usual
    r.respond('default', query('web.internal', 'AAAA'), 'udp');
    assert.equal(r.cachedReplies('default', 'udp'), 1);
  });

  it('forwards names outside .internal and never caches them', () => {
    const r = responder();
    const o = r.respond('default', query('example.com', 'A'), 'udp');
    assert.equal(o.kind, 'forward');
    assert.equal(r.cachedReplies('default', 'udp'), 0);
  });

  it('drops what a new zone replaces', () => {
    const r = responder();
    r.respond('default', query('web.internal', 'AAAA'), 'udp');
    r.setZone(buildZone({ apps: [{ name: 'web', network: 'default', org: 'acme' }], machines: [machines[0]!] }));
    assert.equal(r.cachedReplies('default', 'udp'), 0);
    assert.equal(decoded(r.respond('default', query('web.internal', 'AAAA'), 'udp')).answers?.length, 1);
  });
});

describe('ReplyCache', () => {
  const msg = (name: string) => query(name, 'AAAA');
  const end = (m: Buffer) => m.length;

  it('tells apart questions that share a hash, and variants of one question', () => {
    const c = new ReplyCache(10);
    const a = msg('a.internal');
    const b = msg('b.internal');
    const replyA = Buffer.from('A');
    // the same hash on purpose: entries must be compared byte by byte
    c.set(a, end(a), 0, 42, replyA);
    assert.equal(c.get(a, end(a), 0, 42), replyA);
    assert.equal(c.get(b, end(b), 0, 42), undefined);
    assert.equal(c.get(a, end(a), 1, 42), undefined);
    c.set(b, end(b), 0, 42, Buffer.from('B'));
    assert.equal(c.get(a, end(a), 0, 42), replyA);
    assert.equal(c.get(b, end(b), 0, 42)?.toString(), 'B');
  });

  it('keeps its own copy of the question bytes', () => {
    const c = new ReplyCache(10);
    const a = msg('a.internal');
    c.set(a, end(a), 0, 1, Buffer.from('A'));
    const same = Buffer.from(a);
    a.fill(0, 12);
    assert.equal(c.get(same, end(same), 0, 1)?.toString(), 'A');
  });

  it('starts over when full', () => {
    const c = new ReplyCache(2);
    const names = ['a.internal', 'b.internal', 'c.internal'].map(msg);
    names.forEach((m, i) => c.set(m, end(m), 0, i, Buffer.from([i])));
    assert.equal(c.size, 1);
    assert.equal(c.get(names[0]!, end(names[0]!), 0, 0), undefined);
    assert.equal(c.get(names[2]!, end(names[2]!), 0, 2)?.[0], 2);
  });
});
