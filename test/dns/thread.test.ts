/**
 * The resolver on its own thread (src/dns/thread.ts): a real worker with a real DnsServer,
 * queried over UDP and TCP on loopback; the fake upstream is a real socket too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { ZoneInput } from '../../src/core/dns/zone.js';
import { isHangarError } from '../../src/core/errors.js';
import { ThreadedDnsServer } from '../../src/dns/thread.js';
import { query, startFakeUpstream, tcp, udp, udpRaw, type FakeUpstream } from './helpers.js';

const input = (ip: string): ZoneInput => ({
  apps: [{ name: 'web', network: 'default', org: 'acme' }],
  machines: [{ id: 'm1', app: 'web', region: 'iad', state: 'started', private_ip: ip }],
});

describe('DNS server on its own thread', () => {
  let upstream: FakeUpstream;
  let server: ThreadedDnsServer;
  const errors: string[] = [];

  before(async () => {
    upstream = await startFakeUpstream();
    server = new ThreadedDnsServer({ upstreams: [{ host: '127.0.0.1', port: upstream.port }], forwardTimeoutMs: 300, onError: (e, where) => errors.push(`${where}: ${e.message}`) });
  });
  after(async () => {
    await server.close();
    await upstream.close();
  });

  it('answers from the zone built from the input it was posted, over UDP and TCP; a new input replaces it', async () => {
    await server.setZoneInput(input('fdaa:0:1:1::1:2'));
    const l = await server.listen({ network: 'default', host: '127.0.0.1', port: 0 });
    assert.deepEqual(server.bound(), [l]);
    for (const ask of [udp, tcp]) {
      const r = await ask(l.port, query('web.internal', 'AAAA', { id: 9 }));
      assert.equal(r.id, 9);
      assert.deepEqual(r.answers?.map((a) => ('data' in a ? a.data : undefined)), ['fdaa:0:1:1::1:2']);
    }
    await server.setZoneInput(input('fdaa:0:1:1::7:2'));
    const r = await udp(l.port, query('m1.vm.web.internal', 'AAAA'));
    assert.deepEqual(r.answers?.map((a) => ('data' in a ? a.data : undefined)), ['fdaa:0:1:1::7:2']);
    const gone = await udp(l.port, query('nope.internal', 'AAAA'));
    assert.equal(gone.rcode, 'NXDOMAIN');
  });

  it('forwards names outside .internal to the upstream from the thread', async () => {
    const l = server.bound()[0];
    assert.ok(l);
    upstream.answering = true;
    const r = await udp(l.port, query('example.com', 'A', { id: 4242 }));
    assert.equal(r.id, 4242);
    assert.deepEqual(r.answers?.map((a) => ('data' in a ? a.data : undefined)), ['192.0.2.7']);
  });

  it('a listen that cannot bind fails with the socket error and its code; unlisten stops answering', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', () => r()));
    try {
      await assert.rejects(server.listen({ network: 'default', host: '127.0.0.1', port: taken.address().port }), (e: unknown) => (e as NodeJS.ErrnoException).code === 'EADDRINUSE');
    } finally {
      taken.close();
    }
    const extra = await server.listen({ network: 'default', host: '127.0.0.1', port: 0 });
    assert.equal(server.bound().length, 2);
    await server.unlisten(extra.host, extra.port);
    assert.equal(server.bound().length, 1);
    assert.equal(await udpRaw(extra.port, query('web.internal', 'AAAA'), 300), undefined, 'no answer after unlisten');
  });

  it('reports its GC pauses, and after close every call fails with HANGAR_ERR_DNS_THREAD and nothing answers', async () => {
    const own = new ThreadedDnsServer();
    await own.setZoneInput(input('fdaa:0:1:1::1:2'));
    const l = await own.listen({ network: 'default', host: '127.0.0.1', port: 0 });
    const stats = await own.stats();
    assert.ok(stats.gcCount >= 0 && stats.gcMaxMs >= 0);
    assert.ok(own.eventLoopUtilization().idle >= 0);
    await own.close();
    await own.close(); // idempotent
    assert.equal(await udpRaw(l.port, query('web.internal', 'AAAA'), 300), undefined);
    await assert.rejects(own.setZoneInput(input('fdaa:0:1:1::1:2')), (e: unknown) => isHangarError(e) && e.code === 'HANGAR_ERR_DNS_THREAD');
    assert.deepEqual(errors, []);
  });
});
