import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { buildZone, type ZoneMachine } from '../../src/core/dns/zone.js';
import { DnsServer } from '../../src/dns/server.js';
import { createOutput, type Io } from '../../src/cli/output.js';
import { DigError, parseArgs, parseServer, run } from '../../src/cli/commands/dig.js';
import { HangarError } from '../../src/core/errors.js';

interface Captured {
  out: string;
  err: string;
}

async function dig(args: unknown[], options: Record<string, string> = {}, json = false): Promise<Captured> {
  const res: Captured = { out: '', err: '' };
  const io: Io = { isTTY: false, stdout: (t) => void (res.out += t), stderr: (t) => void (res.err += t) };
  await run({ args, options, globals: { json }, out: createOutput({ json }, io) });
  return res;
}

const machines: ZoneMachine[] = [
  { id: 'm1', app: 'web', region: 'iad', state: 'started', private_ip: 'fdaa:0:1:1::1:2' },
  { id: 'p1', app: 'dev', region: 'iad', state: 'started', private_ip: '127.77.0.5' },
];
// _instances.internal larger than 1232 bytes: only TCP can carry it
for (let i = 0; i < 40; i++) machines.push({ id: `bulk${String(i).padStart(10, '0')}`, app: 'bulk', region: 'iad', state: 'started', private_ip: `fdaa:0:1:1::${(i + 16).toString(16)}:2` });

describe('hangar dig', () => {
  let server: DnsServer;
  let addr: string;
  let silent: Socket;
  let silentAddr: string;

  before(async () => {
    server = new DnsServer();
    server.setZone(
      buildZone({
        apps: ['web', 'dev', 'bulk'].map((name) => ({ name, network: 'default', org: 'acme' })),
        machines,
      }),
    );
    const l = await server.listen({ network: 'default', host: '127.0.0.1', port: 0 });
    addr = `127.0.0.1:${l.port}`;
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    silentAddr = `127.0.0.1:${silent.address().port}`;
  });
  after(async () => {
    await server.close();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('prints AAAA answers like dig +short, AAAA by default', async () => {
    assert.equal((await dig(['web.internal'], { server: addr })).out, 'fdaa:0:1:1::1:2\n');
    assert.equal((await dig([undefined, 'web.internal'], { server: addr })).out, 'fdaa:0:1:1::1:2\n');
    assert.equal((await dig(['a', 'dev.internal'], { server: addr })).out, '127.77.0.5\n');
  });

  it('prints TXT quoted, and retries over TCP when the UDP reply is truncated', async () => {
    assert.equal((await dig(['TXT', 'vms.web.internal'], { server: addr })).out, '"m1 iad"\n');
    const big = await dig([['txt', '_instances.internal']], { server: addr });
    const joined = big.out.trim().split('" "').join('').replace(/^"|"$/g, '');
    assert.equal(joined.split(';').length, 42);
  });

  it('reads the server from HANGAR_DNS_ADDR', async () => {
    const saved = process.env.HANGAR_DNS_ADDR;
    process.env.HANGAR_DNS_ADDR = addr;
    try {
      assert.equal((await dig(['web.internal'])).out, 'fdaa:0:1:1::1:2\n');
    } finally {
      if (saved === undefined) delete process.env.HANGAR_DNS_ADDR;
      else process.env.HANGAR_DNS_ADDR = saved;
    }
  });

  it('says NXDOMAIN on stderr and prints nothing', async () => {
    const r = await dig(['nope.internal'], { server: addr });
    assert.equal(r.out, '');
    assert.match(r.err, /NXDOMAIN/);
  });

  it('prints the whole response with --json', async () => {
    const r = JSON.parse((await dig(['TXT', 'vms.web.internal'], { server: addr }, true)).out) as { rcode: string; flags: { aa: boolean }; answers: { data: string[] }[] };
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.flags.aa, true);
    assert.deepEqual(r.answers[0]?.data, ['m1 iad']);
  });

  it('rejects bad arguments with usage errors', async () => {
    for (const [args, options] of [
      [[], {}],
      [['a', 'b', 'c'], {}],
      [['BOGUS', 'x.internal'], {}],
      [['x.internal'], { server: 'host:notaport' }],
      [['x.internal'], { server: 'host:70000' }],
      [['x.internal'], { server: addr, timeout: '-1' }],
    ] as const) {
      await assert.rejects(dig([...args], { ...options }), (err: unknown) => err instanceof HangarError && err.code === 'HANGAR_ERR_USAGE');
    }
    assert.deepEqual(parseServer('[::1]:5354'), { host: '::1', port: 5354 });
    assert.deepEqual(parseServer('::1'), { host: '::1', port: 53 });
    assert.deepEqual(parseServer('localhost'), { host: 'localhost', port: 53 });
    assert.deepEqual(parseArgs(['ANY', 'x']), { type: 'ANY', name: 'x' });
  });

  it('fails with a clear error when the resolver does not answer', async () => {
    await assert.rejects(dig(['web.internal'], { server: silentAddr, timeout: '200' }), (err: unknown) => err instanceof DigError && /no answer/.test(err.message));
  });
});
