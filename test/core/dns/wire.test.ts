import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode, encode, type Packet, type PacketOpt } from 'dns-packet';
import { readSimpleQuery, simpleQuery } from '../../../src/core/dns/wire.js';

function query(name: string, opts: { type?: string; edns?: { size?: number; version?: number; options?: { code: number; data: Buffer }[] }; flags?: number } = {}): Buffer {
  const packet: Packet = {
    type: 'query',
    id: 7,
    flags: opts.flags ?? 1 << 8,
    questions: [{ name, type: (opts.type ?? 'AAAA') as 'A' }],
    ...(opts.edns === undefined
      ? {}
      : { additionals: [{ name: '.', type: 'OPT', udpPayloadSize: opts.edns.size ?? 1232, extendedRcode: 0, ednsVersion: opts.edns.version ?? 0, flags: 0, flag_do: false, // dns-packet encodes any option given as raw `data`; its types list only four kinds
          options: (opts.edns.options ?? []) as unknown as PacketOpt[] }] }),
  };
  return encode(packet);
}

function read(msg: Uint8Array) {
  const out = simpleQuery();
  return readSimpleQuery(msg, out) ? out : undefined;
}

/** Header with the given counts and a question section written by hand. */
function raw(counts: [number, number, number, number], body: number[], flags = 0x0100): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0x1234, 0);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + i * 2));
  return Buffer.concat([h, Buffer.from(body)]);
}

const WEB_INTERNAL = [3, ...Buffer.from('web'), 8, ...Buffer.from('internal'), 0];

describe('readSimpleQuery', () => {
  it('finds the end of a plain question and reads its type and class', () => {
    const msg = query('m1.vm.web.internal');
    const q = read(msg);
    assert.ok(q);
    // 12 header + (3+3+4+9+1) name + 4 type/class
    assert.equal(q.questionEnd, 12 + 20 + 4);
    assert.equal(q.questionEnd, msg.length);
    assert.equal(q.qtype, 28);
    assert.equal(q.qclass, 1);
    assert.equal(q.ednsUdpSize, -1);
  });

  it('accepts uppercase names as they are: the key is the bytes asked', () => {
    const upper = read(query('WEB.Internal'));
    const lower = read(query('web.internal'));
    assert.ok(upper && lower);
    assert.equal(upper.questionEnd, lower.questionEnd);
  });

  it('reads the EDNS payload size and version, with or without opaque options', () => {
    assert.deepEqual(read(query('web.internal', { edns: { size: 4096 } })), { questionEnd: 12 + 14 + 4, qtype: 28, qclass: 1, ednsUdpSize: 4096, ednsVersion: 0 });
    assert.equal(read(query('web.internal', { edns: { version: 1 } }))?.ednsVersion, 1);
    // dig sends a cookie (10) by default; padding (12) is opaque to dns-packet too
    const cookie = read(query('web.internal', { edns: { options: [{ code: 10, data: Buffer.alloc(8, 1) }, { code: 12, data: Buffer.alloc(3) }] } }));
    assert.equal(cookie?.ednsUdpSize, 1232);
  });

  it('leaves EDNS options dns-packet decodes field by field to the full path', () => {
    // ECS (8), whose decoder reads the body; a short body would throw there
    const msg = query('web.internal', { edns: { options: [{ code: 8, data: Buffer.from([0, 1, 24, 0, 10, 0, 0]) }] } });
    assert.equal(read(msg), undefined);
  });

  it('refuses compression pointers in the question', () => {
    // a pointer to offset 12 (itself), and a pointer to a label inside the header
    assert.equal(read(raw([1, 0, 0, 0], [0xc0, 12, 0, 28, 0, 1])), undefined);
    assert.equal(read(raw([1, 0, 0, 0], [3, ...Buffer.from('web'), 0xc0, 4, 0, 28, 0, 1])), undefined);
    // reserved label types 0x40 and 0x80
    assert.equal(read(raw([1, 0, 0, 0], [0x40, 0, 28, 0, 1])), undefined);
    assert.equal(read(raw([1, 0, 0, 0], [0x80, 0, 28, 0, 1])), undefined);
  });

  it('refuses several questions, answer or authority records, and other additionals', () => {
    const two = encode({ type: 'query', id: 1, flags: 0, questions: [{ name: 'a.internal', type: 'AAAA' }, { name: 'b.internal', type: 'AAAA' }] });
    assert.equal(read(two), undefined);
    assert.equal(read(raw([0, 0, 0, 0], [])), undefined);
    assert.equal(read(raw([1, 1, 0, 0], [...WEB_INTERNAL, 0, 28, 0, 1])), undefined);
    assert.equal(read(raw([1, 0, 1, 0], [...WEB_INTERNAL, 0, 28, 0, 1])), undefined);
    assert.equal(read(raw([1, 0, 0, 2], [...WEB_INTERNAL, 0, 28, 0, 1])), undefined);
    // an additional record that is not an OPT (a TXT with the root name)
    assert.equal(read(raw([1, 0, 0, 1], [...WEB_INTERNAL, 0, 28, 0, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0])), undefined);
  });

  it('refuses responses and opcodes other than QUERY', () => {
    assert.ok(read(raw([1, 0, 0, 0], [...WEB_INTERNAL, 0, 28, 0, 1])));
    assert.equal(read(raw([1, 0, 0, 0], [...WEB_INTERNAL, 0, 28, 0, 1], 0x8100)), undefined);
    assert.equal(read(raw([1, 0, 0, 0], [...WEB_INTERNAL, 0, 28, 0, 1], 0x2100)), undefined); // UPDATE
  });

  it('refuses truncated and overlong messages', () => {
    const msg = query('web.internal', { edns: {} });
    for (let cut = 0; cut < msg.length; cut++) assert.equal(read(msg.subarray(0, cut)), undefined, `cut at ${cut}`);
    assert.equal(read(Buffer.concat([query('web.internal'), Buffer.from([0])])), undefined);
    // an OPT whose option runs past its RDLENGTH
    const opt = query('web.internal', { edns: { options: [{ code: 10, data: Buffer.alloc(8) }] } });
    // RDLENGTH sits before the 12 bytes of the cookie option
    assert.equal(opt.readUInt16BE(opt.length - 14), 12);
    opt.writeUInt16BE(14, opt.length - 14);
    assert.equal(read(Buffer.concat([opt, Buffer.alloc(2)])), undefined);
  });

  it('refuses names over 255 bytes on the wire, as dns-packet does', () => {
    const label = 'a'.repeat(63);
    // 4 × (1+63) = 256 label bytes
    const long = raw([1, 0, 0, 0], [...[label, label, label, label].flatMap((l) => [l.length, ...Buffer.from(l)]), 0, 0, 28, 0, 1]);
    assert.equal(read(long), undefined);
    assert.throws(() => decode(long));
    const fits = raw([1, 0, 0, 0], [...[label, label, label, 'a'.repeat(61)].flatMap((l) => [l.length, ...Buffer.from(l)]), 0, 0, 28, 0, 1]);
    assert.ok(read(fits));
    assert.doesNotThrow(() => decode(fits));
  });

  it('accepts only bytes that dns-packet decodes to the same question', () => {
    const labels = fc.stringMatching(/^[a-zA-Z0-9-]{1,20}$/);
    const valid = fc.record({
      name: fc.array(labels, { minLength: 1, maxLength: 5 }).map((l) => l.join('.')),
      edns: fc.option(fc.record({ size: fc.integer({ min: 0, max: 65535 }), version: fc.integer({ min: 0, max: 255 }) }), { nil: undefined }),
    });
    // random byte flips on valid queries: most break the shape, some keep it
    const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }));
    fc.assert(
      fc.property(mutated, ([q, flips]) => {
        const msg = query(q.name, q.edns === undefined ? {} : { edns: q.edns });
        for (const [at, byte] of flips) msg[at % msg.length] = byte;
        const got = read(msg);
        if (!got) return;
        const decoded = decode(msg);
        assert.equal(decoded.questions?.length, 1);
        assert.equal(decoded.answers?.length, 0);
        assert.equal(decode.bytes, msg.length);
        const opt = decoded.additionals?.find((a) => a.type === 'OPT');
        assert.equal(opt === undefined ? -1 : opt.udpPayloadSize, got.ednsUdpSize);
      }),
      { numRuns: 2000 },
    );
  });
});
