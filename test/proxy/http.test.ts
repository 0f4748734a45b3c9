import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect, createServer as netServer, type AddressInfo } from 'node:net';
import { buildRouteTable } from '../../src/core/proxy/table.js';
import type { ProxyServer } from '../../src/proxy/server.js';
import { httpMachine, httpUpstream, raw, startProxy } from './helpers.js';

let proxy: ProxyServer;
let port: number;
const closers: (() => unknown)[] = [];
const seen: Record<string, string | string[] | undefined>[] = [];

before(async () => {
  const up = await httpUpstream((req, res) => {
    seen.push(req.headers);
    if (req.url === '/echo') {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        if (req.headers['x-drip']) {
          // Small pieces, one per turn of the event loop: many small reads at the proxy.
          if (!req.headers['x-chunked-reply']) res.setHeader('content-length', body.length);
          let o = 0;
          const next = (): void => {
            if (o >= body.length) return void res.end();
            const piece = body.subarray(o, (o += 3000));
            if (res.write(piece)) setImmediate(next);
            else res.once('drain', next);
          };
          next();
        } else if (req.headers['x-chunked-reply']) {
          res.write(body.subarray(0, 10));
          res.end(body.subarray(10));
        } else res.end(body);
      });
      return;
    }
    res.setHeader('content-type', 'text/plain');
    res.end(`hello ${req.url}`);
  });
  up.server.on('upgrade', (_req, sock) => {
    sock.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    sock.on('data', (d) => sock.write(d));
  });
  closers.push(() => up.server.close(), () => up.server.closeAllConnections());
  ({ proxy, port } = await startProxy([httpMachine('m1', up.port)]));
  closers.push(() => proxy.close());
});
after(async () => {
  for (const c of closers.reverse()) await c();
});

function get(path: string, agent: Agent, headers: Record<string, string> = {}, body?: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, agent, method: body ? 'POST' : 'GET', headers: { host: 'web.localhost', ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

test("keep-alive: many requests on one client connection reuse one upstream connection; Fly's headers both ways", async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const before = proxy.pool.opened;
  for (let i = 0; i < 5; i++) {
    const r = await get(`/r${i}`, agent, { 'x-forwarded-for': '10.0.0.1', 'fly-client-ip': 'spoofed' });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `hello /r${i}`);
    assert.match(String(r.headers['fly-request-id']), /^[0-9A-Z]{26}-tst$/);
    assert.equal(r.headers['via'], '1.1 hangar');
  }
  agent.destroy();
  assert.equal(proxy.pool.opened - before, 1);
  const h = seen.at(-1)!;
  assert.equal(h['fly-client-ip'], '127.0.0.1');
  assert.equal(h['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
  assert.equal(h['fly-region'], 'tst');
  assert.equal(h['fly-forwarded-port'], '80');
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(h['x-forwarded-port'], '80');
  assert.equal(h['x-forwarded-ssl'], 'off');
  assert.equal(h['via'], '1.1 hangar');
});

test('chunked request and response bodies, and a large body, pass through intact', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const big = Buffer.alloc(3 * 1024 * 1024, 'abcdefgh');
  const r1 = await get('/echo', agent, { 'transfer-encoding': 'chunked', 'x-chunked-reply': '1' }, big);
  assert.equal(r1.status, 200);
  assert.ok(r1.body.equals(big));
  const r2 = await get('/echo', agent, {}, Buffer.from('small body'));
  assert.equal(r2.body.toString(), 'small body');
  agent.destroy();
});

test('large random bodies reach slow clients intact on concurrent connections (upstream reads share one buffer)', async () => {
  // Random bytes, so a piece overwritten by a later read cannot look right by accident. The
  // app sends small pieces and the client reads nothing for a while: once the socket buffers are
  // full the proxy's writes to it complete after the (small) reads that carried their bytes.
  const slowGet = (body: Buffer, chunked: boolean): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const agent = new Agent({ keepAlive: false });
      const headers: Record<string, string> = { host: 'web.localhost', 'content-length': String(body.length), 'x-drip': '1' };
      if (chunked) headers['x-chunked-reply'] = '1';
      const r = request({ host: '127.0.0.1', port, path: '/echo', agent, method: 'POST', headers }, (res) => {
        const parts: Buffer[] = [];
        res.pause();
        setTimeout(() => res.resume(), 300);
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve(Buffer.concat(parts)));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(body);
    });
  const bodies = [randomBytes(8 * 1024 * 1024), randomBytes(6 * 1024 * 1024 + 7), randomBytes(4 * 1024 * 1024 + 3)];
  const got = await Promise.all(bodies.map((b, i) => slowGet(b, i !== 1)));
  for (let i = 0; i < bodies.length; i++) assert.ok(got[i]!.equals(bodies[i]!), `body ${i} arrived intact`);
});

test('WebSocket tunnel: random bytes both ways arrive intact', async () => {
  const data = randomBytes(1024 * 1024);
  const echoed = await new Promise<Buffer>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let len = 0;
    let headEnd = -1;
    s.on('data', (d: Buffer) => {
      parts.push(d);
      len += d.length;
      if (headEnd < 0) headEnd = Buffer.concat(parts).indexOf('\r\n\r\n');
      if (headEnd >= 0 && len - headEnd - 4 >= data.length) {
        s.destroy();
        resolve(Buffer.concat(parts).subarray(headEnd + 4));
      }
    });
    s.on('error', reject);
    s.write('GET /ws HTTP/1.1\r\nHost: web.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    s.write(data);
  });
  assert.ok(echoed.equals(data));
});

test('pipelined requests are answered in order', async () => {
  const req = (p: string) => `GET ${p} HTTP/1.1\r\nHost: web.localhost\r\n\r\n`;
  const out = await raw(port, req('/a') + req('/b') + 'GET /c HTTP/1.1\r\nHost: web.localhost\r\nConnection: close\r\n\r\n');
  const bodies = [...out.matchAll(/hello (\/\w)/g)].map((m) => m[1]);
  assert.deepEqual(bodies, ['/a', '/b', '/c']);
});

test('WebSocket upgrade: after the 101 both directions are spliced', async () => {
  const out = await raw(port, 'GET /ws HTTP/1.1\r\nHost: web.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nping-frame', (s) => s.includes('ping-frame'));
  assert.match(out, /^HTTP\/1.1 101 /);
  assert.ok(out.endsWith('ping-frame'));
});

test('unknown app → 404, malformed → 400, both with a clear body and the connection closed', async () => {
  const a = await raw(port, 'GET / HTTP/1.1\r\nHost: nope.localhost\r\n\r\n');
  assert.match(a, /^HTTP\/1.1 404 /);
  assert.match(a, /no app is configured for host 'nope.localhost'/);
  for (const bad of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET / HTTP/1.1\r\n folded\r\n\r\n', 'GET / HTTP/1.1\r\nHost: web.localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']) {
    const b = await raw(port, bad);
    assert.match(b, /^HTTP\/1.1 (400|505) /, bad);
    assert.match(b, /hangar-proxy: /);
  }
});

test('no started machine → 503; a stale pooled connection is retried once on a fresh one', async () => {
  // An app that answers the first request of each connection, then drops the connection on the next.
  const flaky = netServer((s) => {
    let n = 0;
    s.on('data', () => {
      if (n++ === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else s.destroy();
    });
  });
  await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
  const fport = (flaky.address() as AddressInfo).port;
  const stopped = { ...httpMachine('s1', 1, undefined, 'idle'), state: 'stopped' as const };
  await proxy.setTable(buildRouteTable([{ name: 'web' }, { name: 'idle' }, { name: 'flaky' }], [httpMachine('f1', fport, undefined, 'flaky'), stopped], { httpAddr: '127.0.0.1:0', httpsAddr: null }));
  try {
    const c = await raw(port, 'GET / HTTP/1.1\r\nHost: idle.localhost\r\n\r\n');
    assert.match(c, /^HTTP\/1.1 503 /);
    assert.match(c, /no machine of app 'idle' is running|no started machine/);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 3; i++) {
      const r = await new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/', agent, headers: { host: 'flaky.localhost' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject).end();
      });
      assert.equal(r, 200);
    }
    agent.destroy();
  } finally {
    flaky.close();
  }
});

test('a started machine whose app is not listening yet: the refused connection is retried until it listens; one that never does gets a 502', { timeout: 20_000 }, async () => {
  // a free port, not listened on yet
  const probe = netServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const appPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const late = await startProxy([httpMachine('late', appPort)]);
  closers.push(() => late.proxy.close());
  const answer = raw(late.port, 'POST /x HTTP/1.1\r\nHost: web.localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
  await new Promise((r) => setTimeout(r, 300));
  const app = netServer((s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlate')));
  await new Promise<void>((r) => app.listen(appPort, '127.0.0.1', r));
  closers.push(() => app.close());
  const out = await answer;
  assert.match(out, /^HTTP\/1\.1 200 OK\r\n/, 'a POST too: a refused connection delivered nothing');
  assert.match(out, /late$/);

  const gone = await startProxy([httpMachine('gone', 1)]);
  closers.push(() => gone.proxy.close());
  assert.match(await raw(gone.port, 'GET / HTTP/1.1\r\nHost: web.localhost\r\n\r\n'), /^HTTP\/1\.1 502 [^]*closed the connection without answering/);
});
