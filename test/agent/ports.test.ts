import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, describe, test } from 'node:test';
import { PortAllocator, loopbackAddress } from '../../src/agent/ports.js';
import { KeyedQueue } from '../../src/agent/queue.js';

describe('PortAllocator', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  test('allocates distinct bindable ports and keeps them across a re-allocation', async () => {
    const a = new PortAllocator();
    const first = await a.allocate('m1', '127.77.0.5', [8080, 9090]);
    assert.equal(first.length, 2);
    assert.notEqual(first[0]?.[1], first[1]?.[1]);
    const prev = Object.fromEntries(first.map(([i, p]) => [String(i), p]));
    const again = await a.allocate('m1', '127.77.0.5', [8080, 9090], prev);
    assert.deepEqual(again, first);
    const other = await a.allocate('m2', '127.77.0.6', [8080], { '8080': prev['8080']! });
    assert.notEqual(other[0]?.[1], prev['8080'], 'another machine never gets a port held by this one');
  });

  test('a previous port that is taken by someone else is replaced', async () => {
    const srv = createServer();
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.77.0.7', r));
    const busy = (srv.address() as { port: number }).port;
    const got = await new PortAllocator().allocate('m3', '127.77.0.7', [8080], { '8080': busy });
    assert.notEqual(got[0]?.[1], busy);
  });

  test('release frees a machine’s ports for others; claim reserves them', async () => {
    const a = new PortAllocator();
    a.claim('m4', { '8080': 45678 });
    const got = await a.allocate('m5', '127.77.0.8', [8080], { '8080': 45678 });
    assert.notEqual(got[0]?.[1], 45678);
    a.release('m4');
    const got2 = await a.allocate('m6', '127.77.0.9', [8080], { '8080': 45678 });
    assert.equal(got2[0]?.[1], 45678);
  });

  test('an address that cannot be bound fails with a message', async () => {
    await assert.rejects(new PortAllocator().allocate('m7', '192.0.2.1', [8080]), /no free port on 192\.0\.2\.1/);
  });
});

describe('loopbackAddress', () => {
  test('is stable per id, inside 127.77.0.0/16, and skips used addresses', () => {
    const a = loopbackAddress('1857156b526dd8', new Set());
    assert.equal(loopbackAddress('1857156b526dd8', new Set()), a);
    assert.match(a, /^127\.77\.([1-9]\d?|1\d\d|2[0-4]\d|25[0-4])\.([1-9]\d?|1\d\d|2[0-4]\d|25[0-4])$/);
    const b = loopbackAddress('1857156b526dd8', new Set([a]));
    assert.notEqual(b, a);
    const used = new Set<string>();
    for (let i = 0; i < 500; i++) used.add(loopbackAddress(`m${i}`, used));
    assert.equal(used.size, 500);
  });
});

describe('KeyedQueue', () => {
  test('serializes per key, runs keys concurrently, survives a failing job', async () => {
    const errors: unknown[] = [];
    const q = new KeyedQueue((_k, e) => errors.push(e));
    const order: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    void q.run('a', async () => {
      await gate;
      order.push('a1');
    });
    void q.run('a', async () => {
      order.push('a2');
      throw new Error('boom');
    });
    void q.run('a', async () => void order.push('a3'));
    await q.run('b', async () => void order.push('b1'));
    assert.deepEqual(order, ['b1'], 'b does not wait for a');
    release();
    await q.idle();
    assert.deepEqual(order, ['b1', 'a1', 'a2', 'a3']);
    assert.equal(errors.length, 1);
    assert.equal(q.size, 0);
  });
});
