/**
 * The Bus conformance suite: the in-memory bus runs it now, the NATS JetStream bus later, through
 * `busConformance(name, factory)`. It checks the contract written in src/bus/types.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BusError, type Bus, type BusMessage, type StreamMessage } from '../../src/bus/types.js';

/** Makes a fresh bus with no streams. The suite closes every bus it gets. */
export type BusFactory = () => Promise<Bus>;

const GUARD_MS = 10_000;

/** Rejects if `p` does not settle in time: a guard against hanging, not a timing assertion. */
async function guard<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), GUARD_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Subscribes and records messages; `until(n)` resolves once n have arrived. */
function collect(bus: Bus, pattern: string): { msgs: BusMessage[]; until: (n: number) => Promise<BusMessage[]>; unsubscribe: () => void } {
  const msgs: BusMessage[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const sub = bus.subscribe(pattern, (m) => {
    msgs.push(m);
    for (const w of [...waiters]) if (msgs.length >= w.n) w.resolve();
  });
  return {
    msgs,
    unsubscribe: () => sub.unsubscribe(),
    until: (n) =>
      guard(
        new Promise<BusMessage[]>((resolve) => {
          if (msgs.length >= n) resolve(msgs);
          else waiters.push({ n, resolve: () => resolve(msgs) });
        }),
        `${n} messages on ${pattern}`,
      ),
  };
}

function busError(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof BusError, `expected BusError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

async function nextOf<T>(it: AsyncIterator<StreamMessage<T>>): Promise<StreamMessage<T>> {
  const r = await guard(it.next(), 'a stream message');
  assert.equal(r.done, false);
  return r.value as StreamMessage<T>;
}

/** Registers the conformance suite for one Bus implementation. */
export function busConformance(name: string, factory: BusFactory): void {
  async function withBus(fn: (bus: Bus) => Promise<void>): Promise<void> {
    const bus = await factory();
    try {
      await fn(bus);
    } finally {
      await bus.close();
    }
  }

  describe(`Bus conformance: ${name}`, () => {
    describe('publish / subscribe', () => {
      it('delivers in publish order, each subscriber its own copy', () =>
        withBus(async (bus) => {
          const a = collect(bus, 'events.app');
          const b = collect(bus, 'events.app');
          const data = { n: 0, list: [1] };
          for (let i = 0; i < 50; i++) await bus.publish('events.app', { ...data, n: i });
          data.list.push(2);
          await a.until(50);
          await b.until(50);
          assert.deepEqual(a.msgs.map((m) => (m.data as { n: number }).n), [...Array(50).keys()]);
          assert.equal(a.msgs[0]?.subject, 'events.app');
          assert.deepEqual(a.msgs[0]?.data, { n: 0, list: [1] });
          assert.notEqual(a.msgs[0]?.data, b.msgs[0]?.data);
          a.unsubscribe();
          b.unsubscribe();
        }));

      it('matches * as one token and > as one or more trailing tokens', () =>
        withBus(async (bus) => {
          const star = collect(bus, 'logs.myapp.*.*');
          const tail = collect(bus, 'logs.>');
          for (const s of ['logs.myapp.ams.m1', 'logs.myapp.ams', 'logs.other.ams.m1', 'logs.myapp.ams.m1.x', 'logs', 'logsx.myapp.a.b', 'logs.myapp.fra.m2']) {
            await bus.publish(s, s);
          }
          await bus.publish('logs.myapp.end.end', 'end');
          await star.until(3);
          await tail.until(6);
          assert.deepEqual(star.msgs.map((m) => m.data), ['logs.myapp.ams.m1', 'logs.myapp.fra.m2', 'end']);
          assert.deepEqual(tail.msgs.map((m) => m.data), ['logs.myapp.ams.m1', 'logs.myapp.ams', 'logs.other.ams.m1', 'logs.myapp.ams.m1.x', 'logs.myapp.fra.m2', 'end']);
        }));

      it('stops delivering after unsubscribe', () =>
        withBus(async (bus) => {
          const gone = collect(bus, 'a.b');
          const stay = collect(bus, 'a.b');
          await bus.publish('a.b', 1);
          await gone.until(1);
          gone.unsubscribe();
          gone.unsubscribe();
          await bus.publish('a.b', 2);
          await stay.until(2);
          assert.deepEqual(gone.msgs.map((m) => m.data), [1]);
        }));

      it('refuses bad subjects, patterns and data', () =>
        withBus(async (bus) => {
          const invalid = busError('HANGAR_ERR_BUS_INVALID');
          for (const s of ['', 'a..b', 'a.*', 'a.>', 'a b', '.a', 'a.']) await assert.rejects(bus.publish(s, 1), invalid, s);
          for (const p of ['a.>.b', 'a..b', '', 'a.b*']) assert.throws(() => bus.subscribe(p, () => undefined), invalid, p);
          await assert.rejects(bus.publish('a.b', 10n), invalid);
          await assert.rejects(bus.publish('a.b', undefined), invalid);
        }));

      it('keeps publishers and other subscribers going past a slow or throwing subscriber', () =>
        withBus(async (bus) => {
          let release: () => void = () => undefined;
          const stuck = new Promise<void>((r) => (release = r));
          let slowCalls = 0;
          bus.subscribe('jobs.*', async () => {
            slowCalls += 1;
            await stuck;
          });
          const thrown: unknown[] = [];
          bus.subscribe('jobs.*', (m) => {
            thrown.push(m.data);
            throw new Error('sync failure');
          });
          bus.subscribe('jobs.*', async (m) => {
            thrown.push(m.data);
            throw new Error('async failure');
          });
          const healthy = collect(bus, 'jobs.*');
          for (let i = 0; i < 20; i++) await guard(bus.publish('jobs.run', i), 'publish past a stuck subscriber');
          await healthy.until(20);
          assert.deepEqual(healthy.msgs.map((m) => m.data), [...Array(20).keys()]);
          assert.equal(thrown.length, 40, 'throwing subscribers keep receiving');
          assert.equal(slowCalls, 1, 'the slow subscriber gets one message at a time');
          release();
        }));
    });

    describe('request / reply', () => {
      it('answers a request from a responder with a copy of the reply', () =>
        withBus(async (bus) => {
          bus.respond<{ a: number; b: number }, { sum: number; subject: string }>('math.*', (m) => ({ sum: m.data.a + m.data.b, subject: m.subject }));
          const reply = await bus.request<unknown, { sum: number; subject: string }>('math.add', { a: 2, b: 3 }, { timeoutMs: GUARD_MS });
          assert.deepEqual(reply, { sum: 5, subject: 'math.add' });
          bus.respond('async.echo', async (m) => {
            await sleep(1);
            return m.data;
          });
          assert.deepEqual(await bus.request('async.echo', [1, 'x']), [1, 'x']);
        }));

      it('fails at once with no responders, also after the responder unsubscribed', () =>
        withBus(async (bus) => {
          await assert.rejects(bus.request('nobody.home', 1), busError('HANGAR_ERR_BUS_NO_RESPONDERS'));
          const sub = bus.respond('svc.x', () => 'ok');
          assert.equal(await bus.request('svc.x', 1), 'ok');
          sub.unsubscribe();
          await assert.rejects(bus.request('svc.x', 1), busError('HANGAR_ERR_BUS_NO_RESPONDERS'));
        }));

      it('times out when no reply comes', () =>
        withBus(async (bus) => {
          bus.respond('svc.slow', () => new Promise(() => undefined));
          await assert.rejects(bus.request('svc.slow', 1, { timeoutMs: 30 }), busError('HANGAR_ERR_BUS_TIMEOUT'));
        }));

      it('reports a failing responder to the requester', () =>
        withBus(async (bus) => {
          bus.respond('svc.fail', () => {
            throw new Error('machine 123 not found');
          });
          await assert.rejects(bus.request('svc.fail', 1), (err: unknown) => busError('HANGAR_ERR_BUS_REMOTE')(err) && /machine 123 not found/.test((err as Error).message));
        }));

      it('sends each request to exactly one of several responders', () =>
        withBus(async (bus) => {
          const calls = [0, 0];
          bus.respond('svc.pool', () => (calls[0] = (calls[0] ?? 0) + 1));
          bus.respond('svc.pool', () => (calls[1] = (calls[1] ?? 0) + 1));
          for (let i = 0; i < 10; i++) await bus.request('svc.pool', i);
          assert.equal((calls[0] ?? 0) + (calls[1] ?? 0), 10);
        }));
    });

    describe('streams', () => {
      it('stores captured messages with increasing sequences and reads them back', () =>
        withBus(async (bus) => {
          const info = await bus.createStream({ name: 'LOGS', subjects: ['logs.>'] });
          assert.deepEqual([info.messages, info.lastSeq, info.firstSeq], [0, 0, 1]);
          const acks = [];
          for (const [i, s] of ['logs.web.ams.m1', 'logs.web.fra.m2', 'logs.api.ams.m3', 'logs.web.ams.m1'].entries()) acks.push(await bus.publish(s, { i }));
          assert.deepEqual(acks, [1, 2, 3, 4].map((seq) => ({ stream: 'LOGS', seq })));
          assert.deepEqual(await bus.publish('events.other', 1), {});
          const all = await bus.readStream('LOGS');
          assert.deepEqual(all.map((m) => [m.seq, m.subject, m.data, m.stream]), [
            [1, 'logs.web.ams.m1', { i: 0 }, 'LOGS'],
            [2, 'logs.web.fra.m2', { i: 1 }, 'LOGS'],
            [3, 'logs.api.ams.m3', { i: 2 }, 'LOGS'],
            [4, 'logs.web.ams.m1', { i: 3 }, 'LOGS'],
          ]);
          assert.ok(all.every((m) => typeof m.time === 'number' && Math.abs(m.time - Date.now()) < 60_000));
          assert.deepEqual((await bus.readStream('LOGS', { fromSeq: 3 })).map((m) => m.seq), [3, 4]);
          assert.deepEqual((await bus.readStream('LOGS', { subject: 'logs.web.*.*' })).map((m) => m.seq), [1, 2, 4]);
          assert.deepEqual((await bus.readStream('LOGS', { subject: 'logs.*.ams.>', limit: 1 })).map((m) => m.seq), [1]);
          assert.deepEqual(await bus.readStream('LOGS', { fromSeq: 99 }), []);
          assert.equal((await bus.streamInfo('LOGS')).messages, 4);
        }));

      it('starts reading at a time', () =>
        withBus(async (bus) => {
          await bus.createStream({ name: 'EV', subjects: ['ev.*'] });
          await bus.publish('ev.a', 1);
          await sleep(20);
          await bus.publish('ev.b', 2);
          const [first, second] = await bus.readStream('EV');
          assert.ok(first !== undefined && second !== undefined && second.time > first.time);
          assert.deepEqual((await bus.readStream('EV', { fromTime: second.time })).map((m) => m.data), [2]);
          assert.deepEqual((await bus.readStream('EV', { fromTime: first.time })).map((m) => m.data), [1, 2]);
          assert.deepEqual(await bus.readStream('EV', { fromTime: second.time + 60_000 }), []);
          await assert.rejects(bus.readStream('EV', { fromTime: 1, fromSeq: 1 }), busError('HANGAR_ERR_BUS_INVALID'));
        }));

      it('discards the oldest beyond maxMessages and maxBytes, never reusing sequences', () =>
        withBus(async (bus) => {
          await bus.createStream({ name: 'COUNT', subjects: ['c.*'], maxMessages: 3 });
          for (let i = 1; i <= 5; i++) await bus.publish('c.x', i);
          assert.deepEqual((await bus.readStream('COUNT')).map((m) => [m.seq, m.data]), [[3, 3], [4, 4], [5, 5]]);
          const info = await bus.streamInfo('COUNT');
          assert.deepEqual([info.messages, info.firstSeq, info.lastSeq], [3, 3, 5]);
          assert.deepEqual((await bus.readStream('COUNT', { fromSeq: 1 })).map((m) => m.seq), [3, 4, 5]);
          // Each message counts as subject + JSON: 'b.x' (3) + '"aaaaaaa"' (9) = 12 bytes.
          await bus.createStream({ name: 'BYTES', subjects: ['b.*'], maxBytes: 30 });
          for (let i = 0; i < 4; i++) await bus.publish('b.x', 'aaaaaaa');
          const bytes = await bus.streamInfo('BYTES');
          assert.deepEqual([bytes.messages, bytes.firstSeq, bytes.lastSeq], [2, 3, 4]);
          assert.ok(bytes.bytes <= 30);
        }));

      it('expires messages older than maxAgeMs', () =>
        withBus(async (bus) => {
          await bus.createStream({ name: 'AGE', subjects: ['age.*'], maxAgeMs: 200 });
          await bus.publish('age.x', 'old');
          await sleep(400);
          await bus.publish('age.x', 'new');
          assert.deepEqual((await bus.readStream('AGE')).map((m) => [m.seq, m.data]), [[2, 'new']]);
        }));

      it('creates idempotently, refuses a changed config, overlapping subjects and bad names', () =>
        withBus(async (bus) => {
          const config = { name: 'LOGS', subjects: ['logs.>'], maxMessages: 10 };
          await bus.createStream(config);
          await bus.publish('logs.a', 1);
          assert.equal((await bus.createStream(config)).messages, 1);
          await assert.rejects(bus.createStream({ ...config, maxMessages: 11 }), busError('HANGAR_ERR_BUS_STREAM_EXISTS'));
          await assert.rejects(bus.createStream({ name: 'OTHER', subjects: ['logs.web.*'] }), busError('HANGAR_ERR_BUS_STREAM_EXISTS'));
          await assert.rejects(bus.createStream({ name: 'OTHER2', subjects: ['*.web'] }), busError('HANGAR_ERR_BUS_STREAM_EXISTS'));
          await bus.createStream({ name: 'EVENTS', subjects: ['events.*', 'audit.>'] });
          const invalid = busError('HANGAR_ERR_BUS_INVALID');
          await assert.rejects(bus.createStream({ name: 'bad name', subjects: ['x.*'] }), invalid);
          await assert.rejects(bus.createStream({ name: 'X', subjects: [] }), invalid);
          await assert.rejects(bus.createStream({ name: 'X', subjects: ['x.>.y'] }), invalid);
          await assert.rejects(bus.createStream({ name: 'X', subjects: ['x.*'], maxMessages: 0 }), invalid);
        }));

      it('reports unknown and deleted streams', () =>
        withBus(async (bus) => {
          const notFound = busError('HANGAR_ERR_BUS_STREAM_NOT_FOUND');
          await assert.rejects(bus.readStream('NOPE'), notFound);
          await assert.rejects(bus.streamInfo('NOPE'), notFound);
          await assert.rejects(bus.followStream('NOPE'), notFound);
          await bus.createStream({ name: 'TMP', subjects: ['tmp.*'] });
          await bus.deleteStream('TMP');
          await assert.rejects(bus.streamInfo('TMP'), notFound);
          await assert.rejects(bus.deleteStream('TMP'), notFound);
          assert.deepEqual(await bus.publish('tmp.x', 1), {});
        }));

      it('follows a stream: stored messages, then new ones, filtered, until closed', () =>
        withBus(async (bus) => {
          await bus.createStream({ name: 'LOGS', subjects: ['logs.>'] });
          await bus.publish('logs.web.ams.m1', 'one');
          await bus.publish('logs.api.ams.m2', 'skip');
          await bus.publish('logs.web.fra.m3', 'two');
          const f = await bus.followStream<string>('LOGS', { subject: 'logs.web.>' });
          const it = f[Symbol.asyncIterator]();
          assert.deepEqual([(await nextOf(it)).data, (await nextOf(it)).data], ['one', 'two']);
          const pending = nextOf(it);
          await bus.publish('logs.api.x.y', 'skip');
          await bus.publish('logs.web.ams.m1', 'three');
          const three = await pending;
          assert.deepEqual([three.data, three.seq], ['three', 5]);
          const tail = await bus.followStream('LOGS', { fromSeq: (await bus.streamInfo('LOGS')).lastSeq + 1 });
          const tailIt = tail[Symbol.asyncIterator]();
          await bus.publish('logs.api.z.z', 'new');
          assert.equal((await nextOf(tailIt)).seq, 6);
          const waiting = it.next();
          f.close();
          assert.equal((await guard(waiting, 'close')).done, true);
          assert.equal((await it.next()).done, true);
          tail.close();
          for await (const m of tail) assert.fail(`a closed follower yields nothing, got ${m.seq}`);
        }));

      it('ends followers when the consumer breaks, the stream is deleted or the bus closes', async () => {
        const bus = await factory();
        await bus.createStream({ name: 'S', subjects: ['s.*'] });
        await bus.publish('s.a', 1);
        const f1 = await bus.followStream('S');
        for await (const m of f1) {
          assert.equal(m.seq, 1);
          break;
        }
        assert.equal((await f1[Symbol.asyncIterator]().next()).done, true);
        const f2 = await bus.followStream('S', { fromSeq: 2 });
        const p2 = f2[Symbol.asyncIterator]().next();
        await bus.deleteStream('S');
        assert.equal((await guard(p2, 'follower end on delete')).done, true);
        await bus.createStream({ name: 'T', subjects: ['t.*'] });
        const f3 = await bus.followStream('T');
        const p3 = f3[Symbol.asyncIterator]().next();
        bus.respond('svc.hang', () => new Promise(() => undefined));
        const req = bus.request('svc.hang', 1, { timeoutMs: GUARD_MS });
        await bus.close();
        assert.equal((await guard(p3, 'follower end on close')).done, true);
        await assert.rejects(req, busError('HANGAR_ERR_BUS_CLOSED'));
        await assert.rejects(bus.publish('t.x', 1), busError('HANGAR_ERR_BUS_CLOSED'));
        assert.throws(() => bus.subscribe('t.x', () => undefined), busError('HANGAR_ERR_BUS_CLOSED'));
        await bus.close();
      });
    });
  });
}
