import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { MemoryBus } from '../../src/bus/memory/bus.js';
import { BusError } from '../../src/bus/types.js';
import { busConformance } from './conformance.js';

busConformance('memory', async () => new MemoryBus({ onError: () => undefined }));

/** Lets queued deliveries run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

describe('MemoryBus', () => {
  it('reports handler failures to onError with the subscription pattern', async () => {
    const errors: Array<[string, string]> = [];
    const bus = new MemoryBus({ onError: (err, subject) => errors.push([(err as Error).message, subject]) });
    bus.subscribe('a.*', () => {
      throw new Error('boom');
    });
    await bus.publish('a.b', 1);
    await settle();
    assert.deepEqual(errors, [['boom', 'a.*']]);
    await bus.close();
  });

  it('drops messages beyond maxPending for a slow subscriber and reports it once', async () => {
    const errors: unknown[] = [];
    const bus = new MemoryBus({ maxPending: 2, onError: (err) => errors.push(err) });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const seen: unknown[] = [];
    bus.subscribe('q', async (m) => {
      seen.push(m.data);
      await gate;
    });
    const fast: unknown[] = [];
    bus.subscribe('q', (m) => void fast.push(m.data));
    await bus.publish('q', 0);
    await settle(); // 0 is being handled, the queue is empty again
    for (let i = 1; i <= 5; i++) await bus.publish('q', i);
    release();
    await settle();
    assert.deepEqual(seen, [0, 1, 2]);
    assert.deepEqual(fast, [0, 1, 2, 3, 4, 5]);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof BusError && errors[0].code === 'HANGAR_ERR_BUS_SLOW_CONSUMER');
    await bus.close();
  });

  it('never runs a handler inside publish', async () => {
    const bus = new MemoryBus();
    let ran = false;
    bus.subscribe('x', () => void (ran = true));
    const published = bus.publish('x', 1);
    assert.equal(ran, false, 'publish returned before any handler ran');
    await published;
    await settle();
    assert.equal(ran, true);
    await bus.close();
  });

  it('expires by age on its clock, and times messages with it', async () => {
    let now = 1_000_000;
    const bus = new MemoryBus({ now: () => now });
    await bus.createStream({ name: 'AGE', subjects: ['age'], maxAgeMs: 100 });
    await bus.publish('age', 'a');
    now += 60;
    await bus.publish('age', 'b');
    assert.deepEqual((await bus.readStream('AGE')).map((m) => [m.data, m.time]), [['a', 1_000_000], ['b', 1_000_060]]);
    now += 50;
    assert.deepEqual((await bus.readStream('AGE')).map((m) => m.data), ['b']);
    assert.deepEqual(await bus.readStream('AGE', { fromTime: 1_000_000 }), [{ stream: 'AGE', seq: 2, subject: 'age', time: 1_000_060, data: 'b' }]);
    now += 100;
    const info = await bus.streamInfo('AGE');
    assert.deepEqual([info.messages, info.bytes, info.firstSeq, info.lastSeq], [0, 0, 3, 2]);
    await bus.close();
  });

  it('refuses a message larger than the stream maxBytes, and bad options', async () => {
    const bus = new MemoryBus();
    await bus.createStream({ name: 'B', subjects: ['b'], maxBytes: 10 });
    await assert.rejects(bus.publish('b', 'x'.repeat(20)), (err: unknown) => err instanceof BusError && err.code === 'HANGAR_ERR_BUS_INVALID');
    assert.equal((await bus.streamInfo('B')).lastSeq, 0);
    assert.throws(() => new MemoryBus({ maxPending: 0 }), (err: unknown) => err instanceof BusError && err.code === 'HANGAR_ERR_BUS_INVALID');
    await assert.rejects(bus.request('b', 1, { timeoutMs: -5 }), (err: unknown) => err instanceof BusError && err.code === 'HANGAR_ERR_BUS_INVALID');
    await bus.close();
  });
});
