import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from 'dns-packet';
import { Forwarder } from '../../src/dns/forward.js';
import { query, startFakeUpstream, type FakeUpstream } from './helpers.js';

describe('forwarder', () => {
  let up: FakeUpstream;
  let dead: FakeUpstream;
  before(async () => {
    up = await startFakeUpstream();
    dead = await startFakeUpstream();
    dead.answering = false;
  });
  after(async () => {
    await up.close();
    await dead.close();
  });

  it('tries the next upstream when one times out', async () => {
    const f = new Forwarder({ upstreams: [{ host: '127.0.0.1', port: dead.port }, { host: '127.0.0.1', port: up.port }], timeoutMs: 150 });
    const reply = await f.forward(query('example.com', 'A', { id: 7 }), 'udp');
    assert.ok(reply);
    assert.equal(decode(reply).id, 7);
    assert.equal(dead.seen.length, 1);
  });

  it('gives up (undefined) when every upstream times out, or none is configured', async () => {
    assert.equal(await new Forwarder({ upstreams: [{ host: '127.0.0.1', port: dead.port }], timeoutMs: 100 }).forward(query('a.example', 'A'), 'tcp'), undefined);
    assert.equal(await new Forwarder({ upstreams: [] }).forward(query('a.example', 'A'), 'udp'), undefined);
  });

  it('refuses what it cannot forward: runts, unparsable questions, and more than maxInFlight at once', async () => {
    const f = new Forwarder({ upstreams: [{ host: '127.0.0.1', port: dead.port }], timeoutMs: 200, maxInFlight: 1 });
    assert.equal(await f.forward(Buffer.from([1, 2, 3]), 'udp'), undefined);
    const bad = Buffer.concat([query('x.example', 'A').subarray(0, 12), Buffer.from([0x05, 0x61])]);
    assert.equal(await f.forward(bad, 'udp'), undefined);
    const before = dead.seen.length;
    const first = f.forward(query('one.example', 'A'), 'udp');
    assert.equal(await f.forward(query('two.example', 'A'), 'udp'), undefined);
    assert.equal(await first, undefined);
    assert.equal(dead.seen.length, before + 1);
  });
});
