import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { connect as h2Connect } from 'node:http2';
import { buildRouteTable } from '../../src/core/proxy/table.js';
import { LocalCa } from '../../src/certs/local-ca.js';
import { SniContexts } from '../../src/certs/sni.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { TlsFront } from '../../src/proxy/tls/front.js';
import { H2Front } from '../../src/proxy/h2/front.js';
import type { MachinePort } from '../../src/core/fly/machine-config.js';
import { httpUpstream, raw, serviceMachine } from './helpers.js';

describe('TLS and HTTP/2 front', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-tls-'));
  let proxy: ProxyServer;
  let rootPem: string;
  let https = 0;
  let http = 0;
  const ups: { close(): void }[] = [];

  before(async () => {
    const ca = await LocalCa.open(dir);
    rootPem = ca.rootPem;
    const echo = (name: string) =>
      httpUpstream((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          res.setHeader('x-powered-by', 'test');
          res.end(JSON.stringify({ app: name, method: req.method, url: req.url, body, proto: req.headers['x-forwarded-proto'], ip: req.headers['fly-client-ip'] }));
        });
      });
    const a = await echo('web');
    const b = await echo('api');
    ups.push(a.server, b.server);
    const ports: Record<string, MachinePort[]> = {
      web: [{ port: 80, handlers: ['http'], force_https: true }, { port: 443, handlers: ['tls', 'http'], http_options: { response: { headers: { 'x-powered-by': false, 'x-frame-options': 'DENY' } } } }],
      api: [{ port: 80, handlers: ['http'] }, { port: 443, handlers: ['tls', 'http'], tls_options: { alpn: ['http/1.1'], default_self_signed: true } }],
    };
    const certs = new SniContexts(ca);
    const h2 = new H2Front();
    const front: TlsFront = new TlsFront({ table: () => proxy.table(), certs, h2 });
    proxy = new ProxyServer({ region: 'tst', secureAcceptor: front });
    const table = buildRouteTable([{ name: 'web' }, { name: 'api' }], [serviceMachine('m1', 'web', a.port, ports.web!), serviceMachine('m2', 'api', b.port, ports.api!)], { httpAddr: '127.0.0.1:0', httpsAddr: '127.0.0.1:0' });
    await proxy.setTable(table);
    await proxy.start();
    https = proxy.addresses().find((x) => x.spec.publicPort === 443)!.port;
    http = proxy.addresses().find((x) => x.spec.publicPort === 80)!.port;
  });

  after(async () => {
    await proxy?.close();
    for (const u of ups) u.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function handshake(servername: string | undefined, alpn: string[], ca: string | null = rootPem): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ port: https, host: '127.0.0.1', ...(servername ? { servername } : {}), ALPNProtocols: alpn, ...(ca ? { ca } : { rejectUnauthorized: false }) }, () => resolve(s));
      s.on('error', reject);
    });
  }

  it('serves each app its own leaf from the local CA, and negotiates ALPN per app', async () => {
    const w = await handshake('web.localhost', ['h2', 'http/1.1']);
    const p = await handshake('api.localhost', ['h2', 'http/1.1']);
    assert.equal(w.getPeerCertificate().subjectaltname, 'DNS:web.localhost');
    assert.equal(p.getPeerCertificate().subjectaltname, 'DNS:api.localhost');
    assert.equal(w.alpnProtocol, 'h2');
    assert.equal(p.alpnProtocol, 'http/1.1', "api's tls_options.alpn lists only http/1.1");
    w.destroy();
    p.destroy();
  });

  it('fails the handshake for an unknown name, or serves the self-signed one where allowed', async () => {
    await assert.rejects(handshake('nope.localhost', ['http/1.1']));
    await assert.rejects(handshake('web.localhost', ['spdy/3']), 'no common ALPN protocol');
    const s = await handshake(undefined, ['http/1.1'], null);
    // No SNI: the self-signed cert answers, then web/api rules apply (no route → closed).
    await new Promise((r) => s.on('close', r));
  });

  it('forwards HTTP/1.1 over TLS with Fly headers and response options', async () => {
    const s = await handshake('web.localhost', ['http/1.1']);
    const out = await new Promise<string>((resolve) => {
      let buf = '';
      s.on('data', (d) => (buf += d));
      s.on('end', () => resolve(buf));
      s.write('GET /x HTTP/1.1\r\nHost: web.localhost\r\nConnection: close\r\n\r\n');
    });
    assert.match(out, /^HTTP\/1\.1 200/);
    assert.match(out, /"proto":"https"/);
    assert.match(out, /"ip":"127.0.0.1"/);
    // http_options.response.headers of web's 443 port: one removed, one added
    const head = out.slice(0, out.indexOf('\r\n\r\n')).toLowerCase();
    assert.doesNotMatch(head, /x-powered-by/);
    assert.match(head, /\r\nx-frame-options: deny(\r\n|$)/);
  });

  it('speaks HTTP/2 to the client: GET and POST with bodies to an HTTP/1.1 machine', async () => {
    const session = h2Connect(`https://web.localhost:${https}`, { ca: rootPem, host: '127.0.0.1', servername: 'web.localhost' } as never);
    const request = (method: string, path: string, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ':method': method, ':path': path });
        let status = 0;
        let text = '';
        req.on('response', (h) => {
          status = Number(h[':status']);
          assert.equal(h['x-frame-options'], 'DENY');
          assert.equal(h['x-powered-by'], undefined);
        });
        req.on('data', (d: Buffer) => (text += d));
        req.on('end', () => resolve({ status, body: text }));
        req.on('error', reject);
        req.end(body);
      });
    const [g, p] = await Promise.all([request('GET', '/a?b=1'), request('POST', '/p', 'x'.repeat(70_000))]);
    assert.equal(g.status, 200, g.body);
    assert.deepEqual(JSON.parse(g.body), { app: 'web', method: 'GET', url: '/a?b=1', body: '', proto: 'https', ip: '127.0.0.1' });
    assert.equal(p.status, 200, p.body);
    const pj = JSON.parse(p.body) as { body: string; method: string };
    assert.equal(pj.method, 'POST');
    assert.equal(pj.body.length, 70_000);
    const missing = await new Promise<number>((resolve) => {
      const req = session.request({ ':method': 'GET', ':path': '/', ':authority': 'other.localhost' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.resume();
      req.end();
    });
    assert.equal(missing, 404);
    session.close();
  });

  it('redirects plain HTTP to HTTPS with force_https (301)', async () => {
    const out = await raw(http, 'GET /path?q=1 HTTP/1.1\r\nHost: web.localhost:8080\r\n\r\n', (s) => s.includes('\r\n\r\n'));
    assert.match(out, /^HTTP\/1\.1 301/);
    assert.match(out, /Location: https:\/\/web\.localhost\/path\?q=1\r\n/);
  });
});
