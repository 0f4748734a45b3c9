/**
 * `[[statics]]` end to end: a real `hangar server` process (process driver) runs one machine
 * whose image is a directory holding the app and its `public/` files. The machine is stopped;
 * the proxy serves files under `url_prefix` from the image directory (index_document, 304,
 * HEAD, keep-alive) and the machine stays stopped. Traversal attempts are refused or never reach
 * a file outside the image. A missing file and a POST go to the app, whose machine autostarts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ApiClient } from '../../src/client/api.js';
import { startServerChild, type ServerChild } from './server-child.js';
import { raw } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'hangar-statics-'));
const dataDir = join(tmp, 'data');
const img = join(tmp, 'img');
let running: ServerChild | undefined;

after(async () => {
  await running?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** The image: an app that says what it got, and the files `[[statics]]` points at. */
function makeImage(): void {
  mkdirSync(join(img, 'public', 'docs'), { recursive: true });
  writeFileSync(
    join(img, 'app.mjs'),
    [
      "import { createServer } from 'node:http';",
      'const server = createServer((req, res) => { req.resume(); req.on("end", () => res.end(`app: ${req.method} ${req.url}\\n`)); });',
      'server.listen(Number(process.env.PORT), process.env.FLY_PRIVATE_IP || "127.0.0.1");',
      'for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => { server.close(() => process.exit(0)); server.closeAllConnections(); });',
    ].join('\n'),
  );
  writeFileSync(join(img, 'public', 'app.css'), 'body { color: red }\n');
  writeFileSync(join(img, 'public', 'index.html'), '<h1>static index</h1>\n');
  writeFileSync(join(img, 'public', 'docs', 'index.html'), '<h1>docs</h1>\n');
  writeFileSync(join(tmp, 'secret.txt'), 'TOP SECRET\n');
  symlinkSync(join(tmp, 'secret.txt'), join(img, 'public', 'leak-abs'));
  symlinkSync('../../secret.txt', join(img, 'public', 'leak-rel'));
  // A link inside the image resolves as the guest sees it.
  symlinkSync('/public/app.css', join(img, 'public', 'alias.css'));
}

interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function http(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host: 'stat.localhost', ...headers }, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('[[statics]] are served from the image while the machine is stopped; misses and POSTs go to the app', { timeout: 90_000 }, async () => {
  makeImage();
  const srv = await startServerChild(dataDir, 0);
  running = srv;
  const port = srv.proxyPort;
  const client = new ApiClient({ apiUrl: srv.api, token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim() });
  await client.createApp({ app_name: 'stat' });
  const m = await client.createMachine('stat', {
    config: {
      image: `dir:${img}`,
      init: { exec: [process.execPath, 'app.mjs'] },
      services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }], autostart: true }],
      statics: [{ guest_path: '/public', url_prefix: '/static/', index_document: 'index.html' }],
    },
  });
  await client.waitMachine('stat', m.id, 'started', { timeoutMs: 30_000 });
  await client.stopMachine('stat', m.id);
  await client.waitMachine('stat', m.id, 'stopped', { timeoutMs: 30_000 });

  const css = await http(port, 'GET', '/static/app.css?v=1');
  assert.equal(css.status, 200, css.body);
  assert.equal(css.body, 'body { color: red }\n');
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  assert.equal(css.headers['content-length'], '20');
  assert.match(css.headers.etag ?? '', /^W\/"14-[0-9a-f]+"$/);
  assert.ok(css.headers['last-modified']);
  assert.match(String(css.headers['fly-request-id']), /^[0-9A-Z]{26}-ams$/);
  assert.equal(css.headers.via, '1.1 hangar');
  assert.equal((await http(port, 'GET', '/static/alias.css')).body, 'body { color: red }\n', 'an absolute link inside the image resolves inside it');

  // index_document for the prefix and for a directory; the slash-less directory is redirected.
  assert.equal((await http(port, 'GET', '/static/')).body, '<h1>static index</h1>\n');
  assert.equal((await http(port, 'GET', '/static/docs/')).body, '<h1>docs</h1>\n');
  const redirect = await http(port, 'GET', '/static/docs?x=1');
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, '/static/docs/?x=1');

  // Conditional requests and HEAD.
  const inm = await http(port, 'GET', '/static/app.css', { 'if-none-match': css.headers.etag! });
  assert.equal(inm.status, 304);
  assert.equal(inm.body, '');
  assert.equal(inm.headers.etag, css.headers.etag);
  assert.equal((await http(port, 'GET', '/static/app.css', { 'if-modified-since': css.headers['last-modified']! })).status, 304);
  assert.equal((await http(port, 'GET', '/static/app.css', { 'if-none-match': 'W/"other"' })).status, 200);
  assert.equal((await http(port, 'GET', '/static/app.css', { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 200);
  const head = await http(port, 'HEAD', '/static/app.css');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '20');
  assert.equal(head.body, '');

  // Keep-alive: two pipelined requests on one connection, both answered, the connection open.
  const two = await raw(port, 'GET /static/app.css HTTP/1.1\r\nHost: stat.localhost\r\n\r\nHEAD /static/ HTTP/1.1\r\nHost: stat.localhost\r\n\r\n', (s) => (s.match(/HTTP\/1\.1 200 OK/g) ?? []).length === 2 && s.includes('Content-Length: 22'));
  assert.equal((two.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 2, two);
  assert.ok(!/Connection: close/i.test(two), two);

  // Traversal: refused by the proxy, never served, never passed on.
  for (const path of ['/static/../secret.txt', '/static/%2e%2e/%2e%2e/secret.txt', '/static/a%2F..%2F..%2Fsecret.txt']) {
    const res = await raw(port, `GET ${path} HTTP/1.1\r\nHost: stat.localhost\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 400 /, `${path}: ${res}`);
    assert.ok(!res.includes('TOP SECRET'), path);
  }

  // Nothing above woke the machine.
  assert.equal((await client.getMachine('stat', m.id)).state, 'stopped');
  const metrics = await new Promise<string>((resolve, reject) => {
    request(`${srv.api}/metrics`, (res) => {
      let t = '';
      res.on('data', (c: Buffer) => (t += c.toString()));
      res.on('end', () => resolve(t));
    })
      .on('error', reject)
      .end();
  });
  assert.match(metrics, /hangar_proxy_static_responses_total\{app="stat",port="80",status="200"\} \d+/);
  assert.match(metrics, /hangar_proxy_static_responses_total\{app="stat",port="80",status="304"\} 2/);

  // Links out of the image name no file of the image: the app answers (autostarting its machine).
  for (const path of ['/static/leak-abs', '/static/leak-rel']) {
    const res = await http(port, 'GET', path);
    assert.equal(res.status, 200);
    assert.equal(res.body, `app: GET ${path}\n`);
  }
  // A missing file and a POST under the prefix go to the app.
  assert.equal((await http(port, 'GET', '/static/missing.css')).body, 'app: GET /static/missing.css\n');
  assert.equal((await http(port, 'POST', '/static/app.css', { 'content-type': 'text/plain' }, 'x')).body, 'app: POST /static/app.css\n');
  assert.equal((await http(port, 'GET', '/api')).body, 'app: GET /api\n');
  assert.equal((await client.getMachine('stat', m.id)).state, 'started');
});
