/**
 * The edge proxy with isolated machines (`hangar server --driver crun`): routing to a machine's
 * private 6PN address, autostart of a stopped crun machine (whose start takes long enough that
 * the route table sees it `starting` first — that once answered 503), and `[[statics]]` served
 * from the OCI image's unpacked rootfs while the machine is stopped.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { networkNumberOf } from '../../src/core/net/sixpn.js';
import { hostNetworkLock } from '../helpers/host-lock.js';
import { BUSYBOX } from '../helpers/images.js';
import { api, createStarted, httpdConfig, importImage, removeServerNetworking, skipReason, startServer, stopServer, waitState, type Server } from './harness.js';

let releaseHostLock: (() => void) | undefined;
before(async () => {
  releaseHostLock = await hostNetworkLock();
});
after(() => releaseHostLock?.());

const reason = await skipReason();
if (reason) console.log(`# crun proxy tests skipped: ${reason}`);

function get(port: number, path: string): Promise<{ status: number; body: Buffer; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: 'edge.localhost' }, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('edge proxy with crun machines', { skip: reason }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-crun-proxy-'));
  let srv: Server | undefined;
  let proxyPort = 0;
  const ids: string[] = [];
  const networks = new Set<number>();

  before(async () => {
    await importImage(dir);
    srv = await startServer(dir, ['--http-addr', '127.0.0.1:0', '--https-addr', '127.0.0.1:0', '--autostop-interval', '0']);
    proxyPort = Number(/Edge proxy on [^ ]+:(\d+):/.exec(srv.out)?.[1]);
    assert.ok(proxyPort > 0, srv.out);
    assert.equal((await api(srv, 'POST', '/v1/apps', { app_name: 'edge', org_slug: 'personal' })).status, 201);
  });

  after(async () => {
    if (srv) await stopServer(srv, ids.map((id) => ({ app: 'edge', id })));
    await removeServerNetworking([dir], networks);
    rmSync(dir, { recursive: true, force: true });
  });

  test('routes to the private address, autostarts a stopped machine, and serves statics from the image rootfs without waking it', async () => {
    const s = srv!;
    const config = httpdConfig('from crun\n', {
      services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }], autostart: true, autostop: false }],
      statics: [{ guest_path: '/bin', url_prefix: '/img' }],
    });
    const m = await createStarted(s, 'edge', config);
    ids.push(m.id);
    networks.add(networkNumberOf(m.private_ip));
    assert.match(m.private_ip, /^fdaa:/);
    // started is not listening yet for a moment: the proxy retries a refused connection
    const first = await get(proxyPort, '/');
    assert.equal(first.status, 200, first.body.toString());
    assert.equal(first.body.toString(), 'from crun\n');

    assert.equal((await api(s, 'POST', `/v1/apps/edge/machines/${m.id}/stop`)).status, 200);
    await waitState(s, 'edge', m.id, 'stopped');
    // a static file comes from the OCI image's rootfs (/bin/busybox is the host's busybox-static)
    const img = await get(proxyPort, '/img/busybox');
    assert.equal(img.status, 200);
    assert.equal(createHash('sha256').update(img.body).digest('hex'), createHash('sha256').update(readFileSync(BUSYBOX)).digest('hex'));
    const after = (await api(s, 'GET', `/v1/apps/edge/machines/${m.id}`)).json;
    assert.equal(after['state'], 'stopped', 'a static never wakes the machine');

    // the next dynamic request autostarts it (the table sees it `starting` before `started`)
    const woken = await get(proxyPort, '/');
    assert.equal(woken.status, 200, woken.body.toString());
    assert.equal(woken.body.toString(), 'from crun\n');
    assert.equal((await api(s, 'GET', `/v1/apps/edge/machines/${m.id}`)).json['state'], 'started');
  });
});
