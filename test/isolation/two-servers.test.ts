/**
 * Two `hangar server --driver crun` with their own data dirs on one host: each numbers its
 * networks in its own 6PN site, so bridges, addresses, `::3` resolvers and nftables tables never
 * collide; and a server's start-up cleanup removes only what it can prove is its own. Before,
 * a restarted server deleted the other server's veths, netns and bridges as "left behind".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { networkNumberOf, siteOfNetwork } from '../../src/core/net/sixpn.js';
import { bridgeName } from '../../src/net/plan.js';
import { linkNames } from '../net/helpers.js';
import { hostNetworkLock } from '../helpers/host-lock.js';
import { api, createStarted, exec, httpdConfig, importImage, removeServerNetworking, serverTable, skipReason, startServer, stopServer, waitState, type Server } from './harness.js';

let releaseHostLock: (() => void) | undefined;
before(async () => {
  releaseHostLock = await hostNetworkLock();
});
after(() => releaseHostLock?.());

const reason = await skipReason();
if (reason) console.log(`# two-server tests skipped: ${reason}`);

const BB = '/bin/busybox';

/** GET http://[ip]:8080/ from the host; the body or `error <code>`. */
async function fromHost(ip: string): Promise<string> {
  try {
    const res = await fetch(`http://[${ip}]:8080/`, { signal: AbortSignal.timeout(3000) });
    return await res.text();
  } catch (err) {
    return `error ${String((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name)}`;
  }
}

describe('two hangar servers on one host', { skip: reason }, () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'hangar-two-a-')), mkdtempSync(join(tmpdir(), 'hangar-two-b-'))] as const;
  const servers: Array<Server | undefined> = [undefined, undefined];
  const machines: Array<{ srv: number; id: string; ip: string }> = [];
  const networks = new Set<number>();

  const srv = (i: number): Server => {
    const s = servers[i];
    if (!s) throw new Error(`server ${i} not started`);
    return s;
  };

  before(async () => {
    for (const [i, dir] of dirs.entries()) {
      await importImage(dir);
      servers[i] = await startServer(dir, ['--no-proxy']);
      const r = await api(srv(i), 'POST', '/v1/apps', { app_name: 'web', org_slug: 'personal' });
      assert.equal(r.status, 201, JSON.stringify(r.json));
    }
  });

  after(async () => {
    for (const [i, s] of servers.entries()) {
      if (s) await stopServer(s, machines.filter((x) => x.srv === i).map((m) => ({ app: 'web', id: m.id })));
    }
    await removeServerNetworking(dirs, networks);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('their networks do not collide, and restarting one leaves the other\'s machines reachable', async () => {
    for (const i of [0, 1]) {
      const m = await createStarted(srv(i), 'web', httpdConfig(`server ${i}\n`));
      machines.push({ srv: i, ...m, ip: m.private_ip });
      networks.add(networkNumberOf(m.private_ip));
    }
    const [a, b] = machines as [(typeof machines)[0], (typeof machines)[0]];
    const netA = networkNumberOf(a.ip);
    const netB = networkNumberOf(b.ip);
    assert.notEqual(siteOfNetwork(netA), siteOfNetwork(netB), `${a.ip} and ${b.ip}: one 6PN site`);
    assert.notEqual(serverTable(dirs[0]), serverTable(dirs[1]));
    assert.equal(await fromHost(a.ip), 'server 0\n');
    assert.equal(await fromHost(b.ip), 'server 1\n');
    // each network is its own: A cannot reach B's machine
    const across = await exec(srv(0), 'web', a.id, [BB, 'wget', '-qO-', `http://[${b.ip}]:8080/`], 5);
    assert.notEqual(across.stdout, 'server 1\n');

    // kill -9 and restart server A: its start-up cleanup must leave B's networking alone
    srv(0).child.kill('SIGKILL');
    await srv(0).exited;
    servers[0] = await startServer(dirs[0], ['--no-proxy']);
    await waitState(srv(0), 'web', a.id, 'started');
    const links = await linkNames();
    assert.ok(links.includes(bridgeName(netB)), `bridge of server B gone: ${links.join(' ')}`);
    assert.equal(await fromHost(b.ip), 'server 1\n');
    assert.equal(await fromHost(a.ip), 'server 0\n');
    // B's resolver and names still work inside B
    const byName = await exec(srv(1), 'web', b.id, [BB, 'wget', '-qO-', `http://${b.id}.vm.web.internal:8080/`], 5);
    assert.equal(byName.stdout, 'server 1\n', byName.stderr);
  });
});
