import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { decode, encode } from 'dns-packet';
import { buildZone, type ZoneMachine } from '../../src/core/dns/zone.js';
import { DnsServer, type BoundListener } from '../../src/dns/server.js';
import { frame, query, rcodeOf, startFakeUpstream, tcp, tcpRaw, udp, udpRaw, type FakeUpstream } from './helpers.js';

const machines: ZoneMachine[] = [
  { id: 'm1', app: 'web', region: 'iad', state: 'started', private_ip: 'fdaa:0:1:1::1:2' },
  { id: 'm2', app: 'web', region: 'ams', state: 'started', private_ip: 'fdaa:0:1:1::2:2' },
  { id: 'p1', app: 'dev', region: 'iad', state: 'started', private_ip: '127.77.0.5' },
  { id: 's1', app: 'secret', region: 'iad', state: 'started', private_ip: 'fdaa:0:2:1::1:2' },
];
// enough machines that vms.big.internal does not fit in 512 bytes
for (let i = 0; i < 60; i++) machines.push({ id: `big${String(i).padStart(4, '0')}`, app: 'big', region: 'iad', state: 'started', private_ip: `fdaa:0:1:1::${(i + 16).toString(16)}:2` });

const zone = buildZone({
  apps: [
    { name: 'web', network: 'default', org: 'acme' },
    { name: 'dev', network: 'default', org: 'acme' },
    { name: 'big', network: 'default', org: 'acme' },
    { name: 'secret', network: 'isolated', org: 'acme' },
  ],
  machines,
});

describe('DNS server', () => {
  let upstream: FakeUpstream;
  let server: DnsServer;
  let main: BoundListener;
  let isolated: BoundListener;
  let unknown: BoundListener;
  const errors: string[] = [];

  before(async () => {
    upstream = await startFakeUpstream();
    server = new DnsServer({ upstreams: [{ host: '127.0.0.1', port: upstream.port }], forwardTimeoutMs: 300, onError: (e, where) => errors.push(`${where}: ${e.message}`) });
    server.setZone(zone);
    main = await server.listen({ network: 'default', host: '127.0.0.1', port: 0 });
    isolated = await server.listen({ network: 'isolated', host: '127.0.0.1', port: 0 });
    unknown = await server.listen({ network: 'nowhere', host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  it('answers AAAA of .internal names over UDP, authoritative, with a 5 s TTL and the question as asked', async () => {
    const r = await udp(main.port, query('Web.Internal', 'AAAA', { id: 777 }));
    assert.equal(r.id, 777);
    assert.equal(r.type, 'response');
    assert.equal(r.flag_aa, true);
    assert.equal(r.flag_rd, true);
    assert.equal(r.questions?.[0]?.name, 'Web.Internal');
    assert.deepEqual(r.answers?.map((a) => [a.name, a.type, 'data' in a ? a.data : undefined, 'ttl' in a ? a.ttl : undefined]), [
      ['Web.Internal', 'AAAA', 'fdaa:0:1:1::1:2', 5],
      ['Web.Internal', 'AAAA', 'fdaa:0:1:1::2:2', 5],
    ]);
  });

  it('serves repeated questions (from the cache) with each query\'s own id', async () => {
    const a = await udp(main.port, query('m1.vm.web.internal', 'AAAA', { id: 1 }));
    const b = await udp(main.port, query('m1.vm.web.internal', 'AAAA', { id: 2 }));
    assert.equal(a.id, 1);
    assert.equal(b.id, 2);
    assert.deepEqual(a.answers, b.answers);
  });

  it('answers the same over TCP, several pipelined queries on one connection', async () => {
    const r = await tcp(main.port, query('iad.web.internal', 'AAAA'));
    assert.deepEqual(r.answers?.map((a) => ('data' in a ? a.data : undefined)), ['fdaa:0:1:1::1:2']);
    const replies = await tcpRaw(main.port, [frame(query('web.internal', 'AAAA', { id: 10 })), frame(query('_apps.internal', 'TXT', { id: 11 }))], 2);
    assert.deepEqual(replies.map((b) => decode(b).id).sort(), [10, 11]);
  });

  it('gives A records for process-driver (loopback) machines', async () => {
    const r = await udp(main.port, query('dev.internal', 'A'));
    assert.deepEqual(r.answers?.map((a) => ('data' in a ? a.data : undefined)), ['127.77.0.5']);
  });

  it('answers NXDOMAIN and NODATA with the SOA in authority', async () => {
    const nx = await udp(main.port, query('nope.internal', 'AAAA'));
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.equal(nx.answers?.length, 0);
    assert.equal(nx.authorities?.[0]?.type, 'SOA');
    const nodata = await udp(main.port, query('web.internal', 'MX'));
    assert.equal(nodata.rcode, 'NOERROR');
    assert.equal(nodata.answers?.length, 0);
    assert.equal(nodata.authorities?.[0]?.type, 'SOA');
    // a type number dns-packet has no name for
    const unknownType = await udp(main.port, query('web.internal', 'UNKNOWN_65280'));
    assert.equal(unknownType.rcode, 'NOERROR');
    assert.equal(unknownType.answers?.length, 0);
  });

  it('shows each network only its own apps', async () => {
    assert.equal((await udp(main.port, query('secret.internal', 'AAAA'))).rcode, 'NXDOMAIN');
    const r = await udp(isolated.port, query('secret.internal', 'AAAA'));
    assert.deepEqual(r.answers?.map((a) => ('data' in a ? a.data : undefined)), ['fdaa:0:2:1::1:2']);
    assert.equal((await udp(isolated.port, query('web.internal', 'AAAA'))).rcode, 'NXDOMAIN');
    const txt = await udp(isolated.port, query('_apps.internal', 'TXT'));
    assert.deepEqual(txt.answers?.map((a) => ('data' in a ? String(a.data) : undefined)), ['secret']);
  });

  it('answers NXDOMAIN for .internal on a listener whose network the zone does not know', async () => {
    const r = await udp(unknown.port, query('web.internal', 'AAAA'));
    assert.equal(r.rcode, 'NXDOMAIN');
  });

  it('truncates big UDP answers (512 bytes without EDNS) and serves them whole over TCP', async () => {
    const plain = await udpRaw(main.port, query('vms.big.internal', 'TXT'));
    assert.ok(plain);
    const p = decode(plain);
    assert.ok(plain.length <= 512);
    assert.equal(p.flag_tc, true);
    assert.equal(p.answers?.length, 0);
    const full = await tcp(main.port, query('vms.big.internal', 'TXT'));
    assert.equal(full.flag_tc, false);
    const txt = full.answers?.[0];
    assert.ok(txt && txt.type === 'TXT' && Array.isArray(txt.data));
    assert.equal(txt.data.map(String).join('').split(',').length, 60);
    // with EDNS (4096 asked, capped at 1232) the TXT fits over UDP, and the reply carries OPT
    const edns = await udp(main.port, query('vms.big.internal', 'TXT', { edns: 4096 }));
    assert.equal(edns.flag_tc, false);
    assert.equal(edns.answers?.length, 1);
    assert.equal(edns.additionals?.[0]?.type, 'OPT');
    // EDNS with a small size still truncates
    const small = await udp(main.port, query('_instances.internal', 'TXT', { edns: 512 }));
    assert.equal(small.flag_tc, true);
  });

  it('forwards other names to the upstream with a fresh id and source port, restoring the client id', async () => {
    upstream.answering = true;
    upstream.seen.length = 0;
    const a = await udp(main.port, query('example.com', 'A', { id: 31337 }));
    const b = await udp(main.port, query('example.org', 'A', { id: 31337 }));
    assert.equal(a.id, 31337);
    assert.equal(a.rcode, 'NOERROR');
    assert.deepEqual(a.answers?.map((x) => ('data' in x ? x.data : undefined)), ['192.0.2.7']);
    assert.equal(b.answers?.length, 1);
    assert.equal(upstream.seen.length, 2);
    const [s1, s2] = upstream.seen;
    assert.ok(s1 && s2);
    assert.ok(s1.port !== main.port && s2.port !== main.port, 'forwarded from its own socket');
    // 16-bit random ids and OS ephemeral ports: both repeating by chance is a 1 in 2^16+ event
    assert.ok(s1.id !== s2.id || s1.port !== s2.port);
    const overTcp = await tcp(main.port, query('example.net', 'A', { id: 5 }));
    assert.equal(overTcp.id, 5);
    assert.equal(overTcp.answers?.length, 1);
    assert.equal(upstream.seen.at(-1)?.transport, 'tcp');
  });

  it('ignores an upstream reply with the wrong id', async () => {
    upstream.spoofFirst = true;
    try {
      const r = await udp(main.port, query('spoof.example', 'A'));
      assert.deepEqual(r.answers?.map((x) => ('data' in x ? x.data : undefined)), ['192.0.2.7']);
    } finally {
      upstream.spoofFirst = false;
    }
  });

  it('answers SERVFAIL when the upstream times out, over UDP and TCP', async () => {
    upstream.answering = false;
    try {
      const r = await udp(main.port, query('slow.example', 'A', { id: 99 }), 3000);
      assert.equal(r.id, 99);
      assert.equal(r.rcode, 'SERVFAIL');
      assert.equal(r.questions?.[0]?.name, 'slow.example');
      const t = await tcp(main.port, query('slow.example', 'A', { id: 98 }));
      assert.equal(t.rcode, 'SERVFAIL');
    } finally {
      upstream.answering = true;
    }
  });

  it('answers FORMERR to garbage with a header, drops runts and responses, and keeps serving', async () => {
    const garbage = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]), Buffer.from([0x3f, 0x61])]);
    const formerr = await udpRaw(main.port, garbage);
    assert.ok(formerr);
    assert.equal(formerr.readUInt16BE(0), 0x1234);
    assert.equal(rcodeOf(formerr), 1);
    assert.equal(await udpRaw(main.port, Buffer.from([1, 2, 3]), 200), undefined);
    const response = encode({ type: 'response', id: 1, questions: [{ name: 'web.internal', type: 'AAAA' }] });
    assert.equal(await udpRaw(main.port, response, 200), undefined);
    // two questions
    const two = encode({ type: 'query', id: 3, questions: [{ name: 'a.internal', type: 'A' }, { name: 'b.internal', type: 'A' }] });
    const r2 = await udpRaw(main.port, two);
    assert.ok(r2);
    assert.equal(rcodeOf(r2), 1);
    // a non-QUERY opcode (NOTIFY = 4)
    const notify = Buffer.from(query('web.internal', 'AAAA'));
    notify.writeUInt16BE((4 << 11) | (1 << 8), 2);
    const r3 = await udpRaw(main.port, notify);
    assert.ok(r3);
    assert.equal(rcodeOf(r3), 4);
    // TCP: a zero-length frame closes the connection; garbage inside a frame gets FORMERR
    assert.deepEqual(await tcpRaw(main.port, [Buffer.from([0, 0])], 1, 500), []);
    const [tf] = await tcpRaw(main.port, [frame(garbage)], 1);
    assert.ok(tf);
    assert.equal(rcodeOf(tf), 1);
    // still alive
    assert.equal((await udp(main.port, query('web.internal', 'AAAA'))).answers?.length, 2);
  });

  it('answers BADVERS to an EDNS version it does not speak', async () => {
    const q = decode(query('web.internal', 'AAAA', { edns: 1232 }));
    const opt = q.additionals?.[0];
    assert.ok(opt && opt.type === 'OPT');
    opt.ednsVersion = 1;
    const r = await udp(main.port, encode({ ...q, type: 'query' }));
    const ropt = r.additionals?.[0];
    assert.ok(ropt && ropt.type === 'OPT');
    assert.equal(ropt.extendedRcode, 1);
  });

  it('picks up a new zone at once', async () => {
    const other = new DnsServer();
    try {
      const l = await other.listen({ network: 'n', host: '127.0.0.1', port: 0 });
      assert.equal((await udp(l.port, query('a.internal', 'A'))).rcode, 'SERVFAIL', 'no zone yet');
      other.setZone(buildZone({ apps: [{ name: 'a', network: 'n', org: 'o' }], machines: [] }));
      assert.equal((await udp(l.port, query('a.internal', 'A'))).rcode, 'NOERROR');
      other.setZone(buildZone({ apps: [], machines: [] }));
      assert.equal((await udp(l.port, query('a.internal', 'A'))).rcode, 'NXDOMAIN');
      // no upstreams configured: public names fail fast
      assert.equal((await udp(l.port, query('example.com', 'A'))).rcode, 'SERVFAIL');
      await other.unlisten(l.host, l.port);
      assert.deepEqual(other.bound(), []);
    } finally {
      await other.close();
    }
  });

  it('listens on an IPv6 address (as on a network\'s ::3), UDP and TCP on one port', async (t) => {
    const v6 = new DnsServer();
    let l: BoundListener;
    try {
      l = await v6.listen({ network: 'default', host: '::1', port: 0 });
    } catch (err) {
      t.skip(`no IPv6 loopback on this host: ${(err as Error).message}`);
      await v6.close();
      return;
    }
    try {
      v6.setZone(zone);
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const s = createSocket('udp6');
        s.on('error', reject);
        s.on('message', (msg) => {
          s.close();
          resolve(msg);
        });
        s.send(query('m1.vm.web.internal', 'AAAA'), l.port, '::1');
      });
      assert.deepEqual(decode(reply).answers?.map((a) => ('data' in a ? a.data : undefined)), ['fdaa:0:1:1::1:2']);
      const [overTcp] = await new Promise<Buffer[]>((resolve, reject) => {
        const sock = connect({ host: '::1', port: l.port }, () => sock.write(frame(query('web.internal', 'AAAA'))));
        sock.on('error', reject);
        sock.on('data', (chunk: Buffer) => {
          sock.destroy();
          resolve([chunk.subarray(2)]);
        });
      });
      assert.ok(overTcp);
      assert.equal(decode(overTcp).answers?.length, 2);
    } finally {
      await v6.close();
    }
  });

  it('reported no socket errors', () => {
    assert.deepEqual(errors, []);
  });
});
