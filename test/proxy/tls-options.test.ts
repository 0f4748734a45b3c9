/**
 * `tls_options` per port (reference §1c): ALPN and TLS versions on a dedicated port (refused in
 * the handshake), versions on the shared 443 listener (checked once SNI named the app), and a
 * TCP service with only the `tls` handler (terminated, then spliced to the machine).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type SecureVersion, type TLSSocket } from 'node:tls';
import { buildRouteTable } from '../../src/core/proxy/table.js';
import { LocalCa } from '../../src/certs/local-ca.js';
import { SniContexts } from '../../src/certs/sni.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { TlsFront } from '../../src/proxy/tls/front.js';
import { H2Front } from '../../src/proxy/h2/front.js';
import { httpUpstream, serviceMachine } from './helpers.js';

describe('tls_options per port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-tlsopt-'));
  let proxy: ProxyServer;
  let rootPem: string;
  const servers: Server[] = [];
  const listen: Record<number, number> = {};
  const handshakeErrors: string[] = [];

  before(async () => {
    const ca = await LocalCa.open(dir);
    rootPem = ca.rootPem;
    const web = await httpUpstream((_req, res) => res.end('ok'));
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    servers.push(web.server, echo);
    const strict = { versions: ['TLSv1.3'] };
    const table = buildRouteTable(
      [{ name: 'strict' }, { name: 'db' }],
      [
        serviceMachine('m1', 'strict', web.port, [
          { port: 443, handlers: ['tls', 'http'], tls_options: strict },
          { port: 9443, handlers: ['tls', 'http'], tls_options: { ...strict, alpn: ['http/1.1'] } },
        ]),
        serviceMachine('m2', 'db', (echo.address() as AddressInfo).port, [{ port: 5443, handlers: ['tls'] }]),
      ],
      { httpAddr: '127.0.0.1:0', httpsAddr: '127.0.0.1:0', portMap: { '9443': '127.0.0.1:0', '5443': '127.0.0.1:0' } },
    );
    assert.deepEqual(table.diagnostics, []);
    const front: TlsFront = new TlsFront({ table: () => proxy.table(), certs: new SniContexts(ca), h2: new H2Front(), onHandshakeError: (err) => handshakeErrors.push(err.message) });
    proxy = new ProxyServer({ region: 'tst', secureAcceptor: front });
    await proxy.setTable(table);
    await proxy.start();
    for (const a of proxy.addresses()) listen[a.spec.publicPort] = a.port;
  });

  after(async () => {
    await proxy?.close();
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function handshake(publicPort: number, servername: string, opts: Partial<ConnectionOptions> = {}): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ port: listen[publicPort]!, host: '127.0.0.1', servername, ca: rootPem, ...opts }, () => resolve(s));
      s.on('error', reject);
    });
  }

  /** Sends a request on an established TLS socket; resolves with what came back before close. */
  function exchange(s: TLSSocket, data: string, until?: (out: string) => boolean): Promise<string> {
    return new Promise((resolve) => {
      let out = '';
      s.on('data', (d) => {
        out += d;
        if (until?.(out)) s.destroy();
      });
      s.on('close', () => resolve(out));
      s.on('error', () => undefined);
      s.write(data);
    });
  }

  const tls12: { maxVersion: SecureVersion } = { maxVersion: 'TLSv1.2' };

  it('a dedicated port refuses a TLS version outside tls_options.versions in the handshake', async () => {
    await assert.rejects(handshake(9443, 'strict.localhost', tls12), /protocol version|unsupported protocol/i);
    const s = await handshake(9443, 'strict.localhost', { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(s.getProtocol(), 'TLSv1.3');
    assert.equal(s.alpnProtocol, 'http/1.1', 'alpn = ["http/1.1"]: no h2 even when the client prefers it');
    const out = await exchange(s, 'GET / HTTP/1.1\r\nHost: strict.localhost\r\nConnection: close\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 200[^]*ok$/);
  });

  it('the shared listener drops a TLS 1.2 client of an app that allows only TLS 1.3, unanswered', async () => {
    const before = handshakeErrors.length;
    const out = await handshake(443, 'strict.localhost', tls12).then(
      (s) => exchange(s, 'GET / HTTP/1.1\r\nHost: strict.localhost\r\n\r\n'),
      () => '',
    );
    assert.equal(out, '');
    assert.ok(handshakeErrors.slice(before).some((e) => /TLSv1\.2 is not allowed/.test(e)), handshakeErrors.join('\n'));
    const s = await handshake(443, 'strict.localhost', { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(s.alpnProtocol, 'h2', 'ALPN defaults to h2, http/1.1');
    s.destroy();
  });

  it('a TCP port with only the tls handler is terminated and spliced to the machine', async () => {
    const s = await handshake(5443, 'db.localhost', { ALPNProtocols: ['http/1.1'] });
    assert.equal(s.getPeerCertificate().subjectaltname, 'DNS:db.localhost');
    assert.equal(await exchange(s, 'ping', (out) => out === 'ping'), 'ping');
  });
});
