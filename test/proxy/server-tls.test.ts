/**
 * TLS through a real `hangar server` (process driver, examples/hello as the machine): the proxy
 * terminates TLS on the 443 stand-in with a certificate from the local CA under the data dir,
 * negotiates h2 by ALPN, and forwards to the machine over HTTP/1.1; port 80 with `force_https`
 * answers a 301 to the HTTPS URL (reference §1c handlers).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:http2';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, HELLO_DIR, startHangarServer, type RunningServer } from '../client/hangar-server.js';

let server: RunningServer | undefined;
after(() => server?.stop());

async function call(api: string, token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

test('HTTPS with the local CA, h2 by ALPN, and force_https on port 80', { timeout: 60_000 }, async () => {
  const httpsPort = await freePort();
  server = await startHangarServer({ args: ['--http-addr', '127.0.0.1:0', '--https-addr', `127.0.0.1:${httpsPort}`, '--dns-addr', '127.0.0.1:0'] });
  const { url: api, token, dataDir } = server;
  const proxy = /Edge proxy on (\S+):/.exec(server.log())?.[1];
  assert.ok(proxy, `the server says where the proxy listens:\n${server.log()}`);
  await call(api, token, 'POST', '/v1/apps', { app_name: 'tlsapp', org_slug: 'personal' });
  const m = await call(api, token, 'POST', '/v1/apps/tlsapp/machines', {
    config: {
      image: `dir:${HELLO_DIR}`,
      init: { exec: [process.execPath, 'server.mjs'] },
      services: [
        {
          protocol: 'tcp',
          internal_port: 8080,
          ports: [
            { port: 80, handlers: ['http'], force_https: true },
            { port: 443, handlers: ['tls', 'http'] },
          ],
        },
      ],
    },
  });
  await call(api, token, 'GET', `/v1/apps/tlsapp/machines/${String(m['id'])}/wait?state=started&timeout=30`);

  // port 80: a 301 to the same path over HTTPS
  const [host, port] = proxy.split(':');
  const redirect = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
    const req = request({ host, port: Number(port), path: '/x?y=1', headers: { host: 'tlsapp.localhost' }, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(redirect.status, 301);
  assert.equal(redirect.location, 'https://tlsapp.localhost/x?y=1');

  // port 443: TLS with a leaf for tlsapp.localhost signed by the local root, h2 negotiated
  const rootPem = join(dataDir, 'certs', 'ca', 'root.pem');
  assert.ok(existsSync(rootPem), 'the local CA root is under the data dir');
  const session = connect(`https://127.0.0.1:${httpsPort}`, { ca: readFileSync(rootPem), servername: 'tlsapp.localhost' });
  try {
    const { status, body, alpn } = await new Promise<{ status: number; body: string; alpn: string | false | undefined }>((resolve, reject) => {
      session.once('error', reject);
      const req = session.request({ ':path': '/', ':authority': 'tlsapp.localhost' });
      let status = 0;
      let body = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolve({ status, body, alpn: session.alpnProtocol }));
      req.on('error', reject);
      req.end();
    });
    assert.equal(alpn, 'h2');
    assert.equal(status, 200);
    assert.match(body, new RegExp(`Hello from Hangar machine ${String(m['id'])}`));
  } finally {
    session.close();
  }
});
