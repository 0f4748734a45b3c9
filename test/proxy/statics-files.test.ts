/**
 * The I/O side of `[[statics]]` (src/proxy/statics.ts, statics-root.ts) on real files and real
 * sockets: lookups inside a rootfs (links resolved as the guest sees them, never outside), the
 * conditional-request rules, the rootfs of an image imported into a real ImageStore, and a
 * proxy serving a large file to a slow reader and then the next request on the same connection.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect as h2Connect, type IncomingHttpHeaders } from 'node:http2';
import { buildRouteTable, type RouteMachine } from '../../src/core/proxy/table.js';
import { LocalCa } from '../../src/certs/local-ca.js';
import { SniContexts } from '../../src/certs/sni.js';
import { H2Front } from '../../src/proxy/h2/front.js';
import { TlsFront } from '../../src/proxy/tls/front.js';
import { ImageStore } from '../../src/images/store.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { contentTypeFor } from '../../src/proxy/statics-mime.js';
import { imageStaticRoot } from '../../src/proxy/statics-root.js';
import { headerValue, notModified, openInRoot } from '../../src/proxy/statics.js';
import { buildImage, ociLayoutTar } from '../helpers/images.js';
import { httpMachine, httpUpstream, raw } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'hangar-statics-io-'));
const closers: Array<() => unknown> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
  rmSync(tmp, { recursive: true, force: true });
});

async function contents(root: string, guest: string): Promise<string | undefined> {
  const f = await openInRoot(root, guest);
  if (!f) return undefined;
  try {
    return f.st.isFile() ? (await f.fh.readFile()).toString() : 'DIR';
  } finally {
    await f.fh.close();
  }
}

test('openInRoot: links resolve inside the rootfs, never to the host; only files and directories open', async () => {
  const root = join(tmp, 'root');
  mkdirSync(join(root, 'app', 'public', 'css'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'app', 'public', 'css', 'a.css'), 'a');
  writeFileSync(join(root, 'etc', 'hostname'), 'image hostname');
  writeFileSync(join(tmp, 'outside.txt'), 'host secret');
  symlinkSync('/app/public/css/a.css', join(root, 'app', 'public', 'abs.css'));
  symlinkSync('css/a.css', join(root, 'app', 'public', 'rel.css'));
  symlinkSync('/etc/hostname', join(root, 'app', 'public', 'hostname'));
  symlinkSync(join(tmp, 'outside.txt'), join(root, 'app', 'public', 'out-abs'));
  symlinkSync('../../../../outside.txt', join(root, 'app', 'public', 'out-rel'));
  symlinkSync('/', join(root, 'app', 'public', 'slash'));
  symlinkSync('loop2', join(root, 'app', 'public', 'loop1'));
  symlinkSync('loop1', join(root, 'app', 'public', 'loop2'));
  execFileSync('mkfifo', [join(root, 'app', 'public', 'fifo')]);

  assert.equal(await contents(root, '/app/public/css/a.css'), 'a');
  assert.equal(await contents(root, '/app/public/abs.css'), 'a');
  assert.equal(await contents(root, '/app/public/rel.css'), 'a');
  assert.equal(await contents(root, '/app/public/hostname'), 'image hostname', "an absolute link names the image's file, not the host's");
  assert.equal(await contents(root, '/app/public/out-abs'), undefined);
  assert.equal(await contents(root, '/app/public/out-rel'), undefined);
  assert.equal(await contents(root, '/app/public/slash/etc/hostname'), 'image hostname');
  assert.equal(await contents(root, '/app/public/slash/../../..'), 'DIR', '".." stops at the top of the rootfs');
  assert.equal(await contents(root, '/app/public/loop1'), undefined);
  assert.equal(await contents(root, '/app/public/fifo'), undefined, 'a FIFO is not opened (it would block)');
  assert.equal(await contents(root, '/app/public/css/a.css/x'), undefined);
  assert.equal(await contents(root, '/app/public/missing'), undefined);
  assert.equal(await contents(root, '/app/public'), 'DIR');
});

test('conditional requests: If-None-Match (weak, lists, *) wins over If-Modified-Since', () => {
  const head = (lines: string) => Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n${lines}\r\n`, 'latin1');
  const etag = 'W/"14-abc"';
  const mod = new Date('2024-05-01T10:00:00Z');
  assert.equal(headerValue(head('IF-NONE-MATCH:  "a" \r\n'), 'if-none-match'), '"a"');
  assert.equal(headerValue(head(''), 'if-none-match'), undefined);
  assert.equal(notModified(head(''), etag, mod), false);
  assert.equal(notModified(head('If-None-Match: "14-abc"\r\n'), etag, mod), true);
  assert.equal(notModified(head('If-None-Match: "x", W/"14-abc"\r\n'), etag, mod), true);
  assert.equal(notModified(head('If-None-Match: *\r\n'), etag, mod), true);
  assert.equal(notModified(head(`If-None-Match: "other"\r\nIf-Modified-Since: ${mod.toUTCString()}\r\n`), etag, mod), false);
  assert.equal(notModified(head(`If-Modified-Since: ${mod.toUTCString()}\r\n`), etag, mod), true);
  assert.equal(notModified(head('If-Modified-Since: Wed, 01 May 2024 09:59:59 GMT\r\n'), etag, mod), false);
  assert.equal(notModified(head('If-Modified-Since: yesterday\r\n'), etag, mod), false);
});

test('Content-Type by extension', () => {
  assert.equal(contentTypeFor('/a/b/app.CSS'), 'text/css; charset=utf-8');
  assert.equal(contentTypeFor('/index.html'), 'text/html; charset=utf-8');
  assert.equal(contentTypeFor('/x/font.woff2'), 'font/woff2');
  assert.equal(contentTypeFor('/x/.env'), 'application/octet-stream');
  assert.equal(contentTypeFor('/x.y/README'), 'application/octet-stream');
});

test('imageStaticRoot: dir: images are their directory; others the ImageStore rootfs, by digest or reference; never pulled', async () => {
  const dataDir = join(tmp, 'images');
  const store = await ImageStore.open({ dataDir, platform: { os: 'linux', architecture: 'amd64' } });
  const image = buildImage({
    layers: [
      {
        entries: [
          { path: 'site/', type: 'dir' },
          { path: 'site/style.css', body: 'from the image' },
          { path: 'site/link.css', type: 'symlink', linkname: '/site/style.css' },
        ],
      },
    ],
  });
  const tar = join(tmp, 'site.tar');
  writeFileSync(tar, ociLayoutTar(image));
  const [rec] = await store.import(tar, { ref: 'example.test/site:v1' });
  assert.ok(rec);
  const resolve = imageStaticRoot(store);
  assert.equal(await resolve({ ref: 'dir:/srv/app', digest: undefined }), '/srv/app');
  const byRef = await resolve({ ref: 'example.test/site:v1', digest: undefined });
  assert.ok(byRef);
  assert.equal(await contents(byRef, '/site/link.css'), 'from the image');
  // The digest the agent recorded wins over a reference that moved or is gone.
  assert.equal(await resolve({ ref: 'example.test/site:moved', digest: image.digest }), byRef);
  assert.equal(await resolve({ ref: 'example.test/other:v1', digest: undefined }), undefined);
  assert.equal(await imageStaticRoot(undefined)({ ref: 'example.test/site:v1', digest: undefined }), undefined);

  // Served by a proxy whose only machine was never started (state `created`).
  const m: RouteMachine = { ...httpMachine('m1', 1), state: 'created', routing: null, instance_id: '01J0000000000000000000000A' };
  m.config.image = 'example.test/site:v1';
  m.config.statics = [{ guest_path: '/site', url_prefix: '/assets' }];
  const proxy = new ProxyServer({ region: 'tst', staticRoot: resolve });
  closers.push(() => proxy.close());
  await proxy.setTable(buildRouteTable([{ name: 'web' }], [m], { httpAddr: '127.0.0.1:0', httpsAddr: null }));
  await proxy.start();
  const port = proxy.addresses()[0]!.port;
  const res = await raw(port, 'GET /assets/link.css HTTP/1.1\r\nHost: web.localhost\r\nConnection: close\r\n\r\n');
  assert.match(res, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(res, /\r\nConnection: close\r\n/);
  assert.ok(res.endsWith('\r\n\r\nfrom the image'), res);
});

test('a large static file streams to a slow reader intact; the connection then serves the next request; pristine routes carry no Fly lines', async () => {
  const img = join(tmp, 'big');
  mkdirSync(join(img, 'pub'), { recursive: true });
  const big = randomBytes(6 * 1024 * 1024);
  writeFileSync(join(img, 'pub', 'big.bin'), big);
  writeFileSync(join(img, 'pub', 'small.txt'), 'small');
  const app = await httpUpstream((_q, s) => s.end('app'));
  closers.push(() => app.server.close());
  const m: RouteMachine = httpMachine('m1', app.port);
  m.config.image = `dir:${img}`;
  m.config.statics = [{ guest_path: '/pub', url_prefix: '/' }];
  const pristine: RouteMachine = httpMachine('p1', app.port, undefined, 'clean');
  pristine.config.image = `dir:${img}`;
  pristine.config.statics = [{ guest_path: '/pub', url_prefix: '/' }];
  pristine.config.services![0]!.ports![0]!.http_options = { response: { pristine: true, headers: { 'X-Frame-Options': 'DENY', 'Content-Type': 'text/x-custom', Date: false } } };
  const proxy = new ProxyServer({ region: 'tst', staticRoot: imageStaticRoot(undefined) });
  closers.push(() => proxy.close());
  await proxy.setTable(buildRouteTable([{ name: 'web' }, { name: 'clean' }], [m, pristine], { httpAddr: '127.0.0.1:0', httpsAddr: null }));
  await proxy.start();
  const port = proxy.addresses()[0]!.port;

  const sock = connect(port, '127.0.0.1');
  closers.push(() => sock.destroy());
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write('GET /big.bin HTTP/1.1\r\nHost: web.localhost\r\n\r\n');
  const chunks: Buffer[] = [];
  let paused = false;
  const whole = 6 * 1024 * 1024;
  const done = new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      // Stop reading once for a while: the proxy's writes back up and it must wait for drain.
      if (!paused) {
        paused = true;
        sock.pause();
        setTimeout(() => sock.resume(), 300);
      }
      const text = Buffer.concat(chunks);
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0 && text.length - end - 4 >= whole) resolve();
    });
  });
  await done;
  const all = Buffer.concat(chunks);
  const headEnd = all.indexOf('\r\n\r\n');
  const head = all.subarray(0, headEnd).toString('latin1');
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nContent-Length: 6291456\r\n/);
  assert.match(head, /\r\nContent-Type: application\/octet-stream\r\n/);
  assert.match(head, /\r\nFly-Request-Id: /);
  const body = all.subarray(headEnd + 4);
  assert.equal(body.length, whole, 'exactly Content-Length bytes');
  assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(big).digest('hex'));
  // Same connection: the next request is answered.
  const next = new Promise<string>((resolve) => {
    let t = '';
    sock.removeAllListeners('data');
    sock.on('data', (d: Buffer) => {
      t += d.toString('latin1');
      if (t.endsWith('small')) resolve(t);
    });
  });
  sock.write('GET /small.txt HTTP/1.1\r\nHost: web.localhost\r\n\r\n');
  assert.match(await next, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 5\r\n/);

  const clean = await raw(port, 'GET /small.txt HTTP/1.1\r\nHost: clean.localhost\r\nConnection: close\r\n\r\n');
  assert.match(clean, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(clean, /Fly-Request-Id|Via:/i);
  // the port's response headers apply to static answers as to the app's: added, replaced, removed
  assert.match(clean, /\r\nX-Frame-Options: DENY\r\n/);
  assert.match(clean, /\r\nContent-Type: text\/x-custom\r\n/);
  assert.doesNotMatch(clean, /Content-Type: text\/plain|\r\nDate: /i);
  // A file the image lacks goes to the app (here a running machine).
  const miss = await raw(port, 'GET /nope HTTP/1.1\r\nHost: web.localhost\r\nConnection: close\r\n\r\n');
  assert.ok(miss.endsWith('\r\n\r\napp'), miss);
  const metrics = await proxy.metrics.render(proxy.load);
  assert.match(metrics, /hangar_proxy_static_responses_total\{app="web",port="80",status="200"\} 2/);
  assert.match(metrics, /hangar_proxy_static_bytes_out_total\{app="web",port="80"\} 6291461/);
  assert.match(metrics, /hangar_proxy_requests_total\{app="web",port="80",machine="m1",status="200"\} 1/);
});

test('statics over HTTP/2 (the h2 front bridges streams into the same session): 200, HEAD and 304', async () => {
  const img = join(tmp, 'h2img');
  mkdirSync(join(img, 'pub'), { recursive: true });
  writeFileSync(join(img, 'pub', 'a.js'), 'console.log(1)\n');
  const ca = await LocalCa.open(join(tmp, 'ca'));
  const h2 = new H2Front();
  const front: TlsFront = new TlsFront({ table: () => proxy.table(), certs: new SniContexts(ca), h2 });
  const proxy = new ProxyServer({ region: 'tst', secureAcceptor: front, staticRoot: imageStaticRoot(undefined) });
  closers.push(() => proxy.close());
  const m: RouteMachine = { ...httpMachine('m1', 1), state: 'stopped', routing: null };
  m.config.services![0]!.ports = [{ port: 443, handlers: ['tls', 'http'] }];
  m.config.image = `dir:${img}`;
  m.config.statics = [{ guest_path: '/pub', url_prefix: '/js' }];
  await proxy.setTable(buildRouteTable([{ name: 'web' }], [m], { httpAddr: '127.0.0.1:0', httpsAddr: '127.0.0.1:0' }));
  await proxy.start();
  const port = proxy.addresses().find((a) => a.spec.publicPort === 443)!.port;
  const session = h2Connect(`https://web.localhost:${port}`, { ca: ca.rootPem, servername: 'web.localhost', host: '127.0.0.1', port } as never);
  closers.push(() => session.close());
  const get = (method: string, headers: Record<string, string> = {}) =>
    new Promise<{ headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = session.request({ ':method': method, ':path': '/js/a.js', ...headers });
      let body = '';
      let h: IncomingHttpHeaders = {};
      req.on('response', (r) => (h = r));
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolve({ headers: h, body }));
      req.on('error', reject);
      req.end();
    });
  const ok = await get('GET');
  assert.equal(ok.headers[':status'], 200);
  assert.equal(ok.body, 'console.log(1)\n');
  assert.equal(ok.headers['content-type'], 'text/javascript; charset=utf-8');
  const head = await get('HEAD');
  assert.equal(head.headers[':status'], 200);
  assert.equal(head.headers['content-length'], '15');
  assert.equal(head.body, '');
  const cached = await get('GET', { 'if-none-match': String(ok.headers.etag) });
  assert.equal(cached.headers[':status'], 304);
});
