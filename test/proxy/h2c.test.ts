/**
 * `http_options.h2_backend = true`: the proxy speaks h2c to the machine (a real
 * `http2.createServer` app), for HTTP/1.1 clients and for HTTP/2 clients over TLS, with gRPC's
 * response trailers carried through; sessions are shared and reopened after GOAWAY.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { connect as h2Connect, createServer as createH2cServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import { buildRouteTable, type RouteMachine } from '../../src/core/proxy/table.js';
import type { ParsedProxyHeader } from '../../src/core/proxy/proxy-proto.js';
import { LocalCa } from '../../src/certs/local-ca.js';
import { SniContexts } from '../../src/certs/sni.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { TlsFront } from '../../src/proxy/tls/front.js';
import { H2Front } from '../../src/proxy/h2/front.js';
import { proxyProtoPreamble } from '../../src/proxy/proxy-proto.js';
import { onProxyHeader, raw } from './helpers.js';

/** A gRPC-style unary response: a 5-byte length-prefixed message, then `grpc-status` trailers. */
function grpcFrame(msg: string): Buffer {
  const body = Buffer.from(msg);
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

/** The data of a chunked body (no trailers). */
function dechunk(s: string): string {
  let out = '';
  for (let p = 0; ; ) {
    const eol = s.indexOf('\r\n', p);
    const n = parseInt(s.slice(p, eol), 16);
    if (!(n > 0)) return out;
    out += s.slice(eol + 2, eol + 2 + n);
    p = eol + 4 + n;
  }
}

describe('h2_backend: h2c to the machine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-h2c-'));
  let app: Http2Server;
  let proxy: ProxyServer;
  let rootPem: string;
  let http = 0;
  let https = 0;
  const sessions: ServerHttp2Session[] = [];

  before(async () => {
    app = createH2cServer();
    app.on('session', (s) => sessions.push(s));
    app.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const path = String(headers[':path']);
        if (path === '/goaway') {
          stream.respond({ ':status': 200, 'content-length': 3 });
          stream.end('bye');
          stream.session?.close();
          return;
        }
        if (String(headers['content-type']).startsWith('application/grpc')) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'OK' }));
          stream.end(grpcFrame(`hello ${body.subarray(5).toString()}`));
          return;
        }
        const echo = { path, method: headers[':method'], authority: headers[':authority'], scheme: headers[':scheme'], body: body.toString(), ip: headers['fly-client-ip'], te: headers.te, connection: headers.connection };
        stream.respond({ ':status': 200, 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'x-remove-me': 'yes' });
        stream.end(JSON.stringify(echo));
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const appPort = (app.address() as AddressInfo).port;
    const options = { h2_backend: true, response: { headers: { 'x-remove-me': false } } };
    const machine: RouteMachine = {
      id: 'm1', app: 'grpc', region: 'local', state: 'started', cordoned: false, checks: [],
      routing: { address: '127.0.0.1', ports: { '50051': appPort } },
      config: {
        services: [{
          protocol: 'tcp', internal_port: 50051, concurrency: { type: 'requests', soft_limit: 20 },
          ports: [{ port: 80, handlers: ['http'], http_options: options }, { port: 443, handlers: ['tls', 'http'], http_options: options }],
        }],
      },
    };
    const ca = await LocalCa.open(dir);
    rootPem = ca.rootPem;
    const front: TlsFront = new TlsFront({ table: () => proxy.table(), certs: new SniContexts(ca), h2: new H2Front() });
    proxy = new ProxyServer({ region: 'tst', secureAcceptor: front });
    await proxy.setTable(buildRouteTable([{ name: 'grpc' }], [machine], { httpAddr: '127.0.0.1:0', httpsAddr: '127.0.0.1:0' }));
    await proxy.start();
    http = proxy.addresses().find((x) => x.spec.publicPort === 80)!.port;
    https = proxy.addresses().find((x) => x.spec.publicPort === 443)!.port;
  });

  after(async () => {
    await proxy?.close();
    for (const s of sessions) s.destroy();
    app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards HTTP/1.1 requests as h2c streams and answers HTTP/1.1 (chunked, with trailers)', async () => {
    const get = await raw(http, 'GET /a?b=1 HTTP/1.1\r\nHost: grpc.localhost\r\nConnection: keep-alive\r\n\r\n', (s) => s.endsWith('0\r\n\r\n'));
    assert.match(get, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(get, /\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n/);
    assert.match(get, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.match(get, /\r\nFly-Request-Id: /);
    assert.doesNotMatch(get, /x-remove-me/i, 'http_options.response applies to h2c responses too');
    const json = JSON.parse(/\r\n\r\n[0-9a-f]+\r\n(.*)\r\n0\r\n\r\n$/s.exec(get)![1]!) as Record<string, unknown>;
    assert.deepEqual(json, { path: '/a?b=1', method: 'GET', authority: 'grpc.localhost', scheme: 'http', body: '', ip: '127.0.0.1' });

    const body = 'x'.repeat(100_000);
    const post = await raw(http, `POST /p HTTP/1.1\r\nHost: grpc.localhost\r\nTransfer-Encoding: chunked\r\n\r\n${(50_000).toString(16)}\r\n${body.slice(0, 50_000)}\r\n${(50_000).toString(16)}\r\n${body.slice(50_000)}\r\n0\r\n\r\n`, (s) => s.endsWith('0\r\n\r\n'));
    const echoed = JSON.parse(dechunk(post.slice(post.indexOf('\r\n\r\n') + 4))) as { method: string; body: string };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.body, body);

    const grpc = await raw(http, `POST /pkg.Greeter/SayHello HTTP/1.1\r\nHost: grpc.localhost\r\nContent-Type: application/grpc\r\nTE: trailers\r\nContent-Length: 8\r\n\r\n\0\0\0\0\x03bob`, (s) => s.endsWith('\r\n\r\n') && s.includes('grpc-status'));
    assert.match(grpc, /\r\n0\r\ngrpc-status: 0\r\ngrpc-message: OK\r\n\r\n$/, 'trailers as chunked trailers');
    assert.ok(grpc.includes('hello bob'));
  });

  it('serves gRPC unary calls from an HTTP/2 client over TLS, trailers included', async () => {
    const session = h2Connect(`https://grpc.localhost:${https}`, { ca: rootPem, host: '127.0.0.1', servername: 'grpc.localhost' } as never);
    try {
      const call = (name: string) =>
        new Promise<{ headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
          const req = session.request({ ':method': 'POST', ':path': '/pkg.Greeter/SayHello', 'content-type': 'application/grpc', te: 'trailers' });
          let headers: IncomingHttpHeaders = {};
          let trailers: IncomingHttpHeaders = {};
          const chunks: Buffer[] = [];
          req.on('response', (h) => (headers = h));
          req.on('trailers', (t) => (trailers = t));
          req.on('data', (d: Buffer) => chunks.push(d));
          req.on('end', () => resolve({ headers, trailers, body: Buffer.concat(chunks) }));
          req.on('error', reject);
          req.end(grpcFrame(name));
        });
      const results = await Promise.all(['ann', 'bea', 'cid'].map(call));
      for (const [i, r] of results.entries()) {
        assert.equal(r.headers[':status'], 200);
        assert.equal(r.headers['content-type'], 'application/grpc');
        assert.equal(r.trailers['grpc-status'], '0');
        assert.equal(r.trailers['grpc-message'], 'OK');
        assert.equal(r.body.subarray(5).toString(), `hello ${['ann', 'bea', 'cid'][i]}`);
        assert.equal(r.body.readUInt32BE(1), r.body.length - 5);
      }
      // The app saw `te: trailers` (gRPC servers may insist on it) and no connection headers.
      const echo = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = session.request({ ':method': 'GET', ':path': '/e', te: 'trailers' });
        let text = '';
        req.on('data', (d: Buffer) => (text += d));
        req.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
        req.on('error', reject);
        req.end();
      });
      assert.equal(echo['te'], 'trailers');
      assert.equal(echo['connection'], undefined);
    } finally {
      session.close();
    }
  });

  it('multiplexes requests of many clients on one h2c session and reopens it after GOAWAY', async () => {
    const before = sessions.length;
    const get = (path: string) => raw(http, `GET ${path} HTTP/1.1\r\nHost: grpc.localhost\r\nConnection: close\r\n\r\n`);
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => get(`/m${i}`)));
    for (const r of replies) assert.match(r, /^HTTP\/1\.1 200/);
    const open = sessions.filter((s) => !s.closed && !s.destroyed).length;
    assert.equal(open, 1, `one live h2c session for ${replies.length} client connections (sessions so far: ${sessions.length})`);
    assert.match(await get('/goaway'), /\r\n\r\n3\r\nbye\r\n0\r\n\r\n$|\r\n\r\nbye$/);
    assert.match(await get('/after'), /"path":"\/after"/);
    assert.ok(sessions.length >= before + 1 && sessions.length <= before + 2, 'a new session after the GOAWAY');
  });
});

describe('h2_backend with proxy_proto', () => {
  let app: NetServer | undefined;
  let app2: Http2Server | undefined;
  let proxy: ProxyServer | undefined;
  after(async () => {
    await proxy?.close();
    app?.close();
    app2?.close();
  });

  it('opens an h2c session per client connection, starting with the PROXY header', async () => {
    // The app: an h2c server behind a relay that takes the PROXY header off each connection
    // (node:http2 reads a socket's handle directly, so the header cannot be unshifted).
    const h2 = createH2cServer();
    const proxied = new Map<number, ParsedProxyHeader>();
    h2.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end(JSON.stringify({ src: proxied.get(stream.session!.socket.remotePort!)?.src }));
    });
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    const tcp = createServer((s) => {
      onProxyHeader(s, (h, rest) => {
        s.pause();
        const up = connect((h2.address() as AddressInfo).port, '127.0.0.1', () => {
          proxied.set(up.localPort!, h);
          up.write(rest);
          s.pipe(up).pipe(s);
          s.resume();
        });
        s.on('close', () => up.destroy());
        up.on('error', () => s.destroy());
      });
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    app = tcp;
    app2 = h2;
    const machine: RouteMachine = {
      id: 'm1', app: 'pp', region: 'local', state: 'started', cordoned: false, checks: [],
      routing: { address: '127.0.0.1', ports: { '8080': (tcp.address() as AddressInfo).port } },
      config: { services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http', 'proxy_proto'], proxy_proto_options: { version: 'v2' }, http_options: { h2_backend: true } }] }] },
    };
    proxy = new ProxyServer({ region: 'tst', upstreamPreamble: proxyProtoPreamble });
    await proxy.setTable(buildRouteTable([{ name: 'pp' }], [machine], { httpAddr: '127.0.0.1:0', httpsAddr: null }));
    await proxy.start();
    const port = proxy.addresses().find((a) => a.spec.publicPort === 80)!.port;
    const reply = await new Promise<{ text: string; local: number }>((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: pp.localhost\r\nConnection: close\r\n\r\n'));
      let text = '';
      const local = () => c.localPort!;
      let lp = 0;
      c.on('connect', () => (lp = local()));
      c.on('data', (d) => (text += d));
      c.on('close', () => resolve({ text, local: lp }));
      c.on('error', reject);
    });
    assert.match(reply.text, /^HTTP\/1\.1 200/);
    assert.match(reply.text, new RegExp(`"src":\\{"address":"127.0.0.1","port":${reply.local}\\}`));
  });
});
