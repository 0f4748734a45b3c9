/**
 * Wire compatibility: supabase's `fly-admin` client (npm fly-admin@1.6.1) driving a real
 * `hangar server`, exactly as a user points it at a self-hosted API (reference §1a "supabase
 * fly-admin"): `new Client(token, { apiUrl, graphqlUrl })` from `fly-admin/dist/client`.
 * Only REST calls are exercised; fly-admin's GraphQL calls (secrets, IPs, organization,
 * regions, getAppDetailed) have no Hangar counterpart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type * as FlyClientModule from 'fly-admin/dist/client.js';
import { HELLO_DIR, startHangarServer, type RunningServer } from '../client/hangar-server.js';

type FlyClient = FlyClientModule.default;

const require = createRequire(import.meta.url);
const Client = (require('fly-admin/dist/client') as { default: typeof FlyClientModule.default.default }).default;
// fly-admin types states and signals as TypeScript enums; these are their runtime values.
const { StateEnum, SignalRequestSignalEnum } = require('fly-admin/dist/lib/types') as {
  StateEnum: Record<string, string>;
  SignalRequestSignalEnum: Record<string, string>;
};

const APP = 'compat-hello';

interface Routed {
  state: string;
  hangar_routing?: { address: string; ports: Record<string, number> } | null;
}

/** The hello server's answer through the address its agent reports. */
async function hello(m: Routed): Promise<string> {
  const r = m.hangar_routing;
  assert.ok(r, 'a started machine reports hangar_routing');
  const port = r.ports['8080'];
  assert.ok(port, `hangar_routing maps internal port 8080: ${JSON.stringify(r)}`);
  const host = r.address.includes(':') ? `[${r.address}]` : r.address;
  let lastErr: unknown;
  // The process is `started` once spawned; it may take a moment more to listen.
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`http://${host}:${port}/`);
      return await res.text();
    } catch (err) {
      lastErr = err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw lastErr;
}

describe('fly-admin against hangar server', { timeout: 180_000 }, () => {
  let server: RunningServer;
  let fly: FlyClient;
  let org: string;
  /** The region of the embedded host, as the first machine reports it. */
  let machineRegion = '';

  before(async () => {
    server = await startHangarServer({ driver: 'process' });
    fly = new Client(server.token, { apiUrl: server.url, graphqlUrl: server.url });
    const who = (await (await fetch(`${server.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${server.token}` } })).json()) as { org: string };
    org = who.org;
  });
  after(async () => {
    await server?.stop();
  });

  it('creates, lists and gets an app', async () => {
    await fly.App.createApp({ app_name: APP, org_slug: org });
    const list = (await fly.App.listApps(org)) as unknown as { apps: { name: string }[] };
    assert.ok(list.apps.some((a) => a.name === APP), JSON.stringify(list));
    const app = await fly.App.getApp(APP);
    assert.equal(app.name, APP);
    assert.equal(app.organization.slug, org);
    await assert.rejects(fly.App.createApp({ app_name: APP, org_slug: org }), /^Error: 422: .*name_taken|^Error: 422: /);
  });

  describe('machines', () => {
    let id = '';
    let firstVersion = '';
    const config = {
      image: `dir:${HELLO_DIR}`,
      init: { exec: [process.execPath, 'server.mjs'] },
      env: { GREETING: 'one' },
      services: [{ protocol: 'tcp' as const, internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }] }],
      restart: { policy: 'no' },
    };

    it('creates a machine that starts and answers', async () => {
      const m = await fly.Machine.createMachine({ app_name: APP, name: 'compat-1', config } as never);
      assert.match(m.id, /^[0-9a-f]{14}$/);
      assert.equal(m.name, 'compat-1');
      assert.match(m.instance_id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
      id = m.id;
      machineRegion = m.region;
      firstVersion = m.instance_id;
      const ok = await fly.Machine.waitMachine({ app_name: APP, machine_id: id, state: StateEnum.Started as never, timeout: '60s' });
      assert.deepEqual(ok, { ok: true });
      const got = await fly.Machine.getMachine({ app_name: APP, machine_id: id });
      assert.equal(got.state, 'started');
      assert.equal(got.config.image, config.image);
      assert.match(await hello(got as unknown as Routed), new RegExp(`^Hello from Hangar machine ${id} in \\S+`));
    });

    it('lists the machine', async () => {
      const list = await fly.Machine.listMachines(APP);
      assert.deepEqual(list.map((m) => m.id), [id]);
      const byRegion = await fly.Machine.listMachines({ app_name: APP, region: 'no-such-region' });
      assert.deepEqual(byRegion, []);
    });

    it('updates the config as a new version', async () => {
      const m = await fly.Machine.updateMachine({ app_name: APP, machine_id: id, config: { ...config, env: { GREETING: 'two' } } as never });
      assert.notEqual(m.instance_id, firstVersion);
      await fly.Machine.waitMachine({ app_name: APP, machine_id: id, instance_id: m.instance_id, state: StateEnum.Started as never, timeout: '60s' });
      const got = await fly.Machine.getMachine({ app_name: APP, machine_id: id });
      assert.equal(got.instance_id, m.instance_id);
      assert.equal(got.config.env.GREETING, 'two');
      const versions = await fly.Machine.listVersions({ app_name: APP, machine_id: id });
      assert.ok(versions.length >= 2, JSON.stringify(versions));
      assert.ok(versions.some((v) => v.version === firstVersion));
      assert.ok(versions.some((v) => v.version === m.instance_id));
    });

    it('stops and starts the machine', async () => {
      await fly.Machine.stopMachine({ app_name: APP, machine_id: id });
      const stopped = await fly.Machine.getMachine({ app_name: APP, machine_id: id });
      await fly.Machine.waitMachine({ app_name: APP, machine_id: id, instance_id: stopped.instance_id, state: StateEnum.Stopped as never, timeout: '60s' });
      assert.equal((await fly.Machine.getMachine({ app_name: APP, machine_id: id })).state, 'stopped');
      await fly.Machine.startMachine({ app_name: APP, machine_id: id });
      await fly.Machine.waitMachine({ app_name: APP, machine_id: id, state: StateEnum.Started as never, timeout: '60s' });
      const started = await fly.Machine.getMachine({ app_name: APP, machine_id: id });
      assert.equal(started.state, 'started');
      assert.match(await hello(started as unknown as Routed), /^Hello from Hangar machine/);
    });

    it('restarts the machine', async () => {
      await fly.Machine.restartMachine({ app_name: APP, machine_id: id, timeout: '5s' });
      await fly.Machine.waitMachine({ app_name: APP, machine_id: id, state: StateEnum.Started as never, timeout: '60s' });
      const m = await fly.Machine.getMachine({ app_name: APP, machine_id: id });
      assert.equal(m.state, 'started');
      assert.match(await hello(m as unknown as Routed), /^Hello from Hangar machine/);
    });

    it('signals the machine (SIGTERM ends hello, which does not restart with policy no)', async () => {
      await fly.Machine.signalMachine({ app_name: APP, machine_id: id, signal: SignalRequestSignalEnum.SIGTERM as never });
      const m = await fly.Machine.getMachine({ app_name: APP, machine_id: id });
      await fly.Machine.waitMachine({ app_name: APP, machine_id: id, instance_id: m.instance_id, state: StateEnum.Stopped as never, timeout: '60s' });
      assert.equal((await fly.Machine.getMachine({ app_name: APP, machine_id: id })).state, 'stopped');
      await fly.Machine.startMachine({ app_name: APP, machine_id: id });
      await fly.Machine.waitMachine({ app_name: APP, machine_id: id, state: StateEnum.Started as never, timeout: '60s' });
    });

    it('lists the processes of a running machine', async () => {
      const ps = (await fly.Machine.listProcesses({ app_name: APP, machine_id: id })) as unknown as { pid: number; command: string }[];
      assert.ok(Array.isArray(ps) && ps.length >= 1, JSON.stringify(ps));
      assert.ok(ps.some((p) => p.command.includes('server.mjs')), JSON.stringify(ps));
    });

    it('cordons and uncordons the machine', async () => {
      await fly.Machine.cordonMachine({ app_name: APP, machine_id: id });
      const cordoned = (await fly.Machine.getMachine({ app_name: APP, machine_id: id })) as unknown as { cordoned?: boolean };
      assert.equal(cordoned.cordoned, true);
      await fly.Machine.uncordonMachine({ app_name: APP, machine_id: id });
      const back = (await fly.Machine.getMachine({ app_name: APP, machine_id: id })) as unknown as { cordoned?: boolean };
      assert.equal(back.cordoned, false);
    });

    it('lists events newest first', async () => {
      const events = await fly.Machine.listEvents({ app_name: APP, machine_id: id });
      assert.ok(events.length >= 3, JSON.stringify(events));
      const types = events.map((e) => e.type);
      assert.ok(types.includes('launch'), types.join(','));
      assert.ok(types.includes('start'), types.join(','));
      for (let i = 1; i < events.length; i++) assert.ok((events[i - 1]?.timestamp ?? 0) >= (events[i]?.timestamp ?? 0), 'newest first');
      assert.equal(events.at(-1)?.type, 'launch');
    });

    it('acquires and reads a lease; mutations without its nonce are refused', async () => {
      const lease = await fly.Machine.acquireLease({ app_name: APP, machine_id: id, ttl: 60, description: 'compat test' });
      assert.equal(lease.status, 'success');
      assert.ok(lease.data.nonce);
      assert.ok(lease.data.expires_at > Date.now() / 1000);
      const again = await fly.Machine.getLease({ app_name: APP, machine_id: id });
      assert.equal(again.data.nonce, lease.data.nonce);
      // fly-admin never sends the lease nonce, so a second holder is refused...
      await assert.rejects(fly.Machine.acquireLease({ app_name: APP, machine_id: id, ttl: 60 }), /^Error: 409: /);
      // ...and so is a mutation (flyctl matches this text).
      await assert.rejects(fly.Machine.stopMachine({ app_name: APP, machine_id: id }), /lease currently held by/);
      // fly-admin has no release call; release with the nonce as fly-go does.
      const res = await fetch(`${server.url}/v1/apps/${APP}/machines/${id}/lease`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${server.token}`, 'fly-machine-lease-nonce': lease.data.nonce },
      });
      assert.equal(res.status, 200, await res.text());
      await assert.rejects(fly.Machine.getLease({ app_name: APP, machine_id: id }), /^Error: 404: .*lease not found/);
    });

    it('deletes the machine (force kills it while running)', async () => {
      await fly.Machine.deleteMachine({ app_name: APP, machine_id: id, force: true });
      const list = await fly.Machine.listMachines(APP);
      assert.ok(!list.some((m) => m.id === id && m.state !== 'destroyed' && m.state !== 'destroying'), JSON.stringify(list.map((m) => [m.id, m.state])));
      await assert.rejects(fly.Machine.getMachine({ app_name: 'no-such-app', machine_id: id }), /^Error: 404: /);
    });
  });

  describe('volumes', () => {
    let volId = '';
    let region: string;

    it('creates, lists and gets a volume', async () => {
      region = machineRegion;
      assert.ok(region, 'the machine test recorded the host region');
      const v = await fly.Volume.createVolume({ app_name: APP, name: 'data', region, size_gb: 1 });
      assert.match(v.id, /^vol_[a-z0-9]{16}$/);
      assert.equal(v.name, 'data');
      assert.equal(v.size_gb, 1);
      volId = v.id;
      const list = await fly.Volume.listVolumes(APP);
      assert.deepEqual(list.map((x) => x.id), [volId]);
      const got = await fly.Volume.getVolume({ app_name: APP, volume_id: volId });
      assert.equal(got.id, volId);
      assert.equal(got.region, region);
    });

    it('extends a volume', async () => {
      const res = await fly.Volume.extendVolume({ app_name: APP, volume_id: volId, size_gb: 3 });
      assert.equal(res.volume.size_gb, 3);
      assert.equal(typeof res.needs_restart, 'boolean');
      assert.equal((await fly.Volume.getVolume({ app_name: APP, volume_id: volId })).size_gb, 3);
    });

    it('lists snapshots of a volume', async () => {
      const snaps = await fly.Volume.listSnapshots({ app_name: APP, volume_id: volId });
      assert.ok(Array.isArray(snaps), JSON.stringify(snaps));
    });

    it('deletes a volume', async () => {
      await fly.Volume.deleteVolume({ app_name: APP, volume_id: volId });
      const list = await fly.Volume.listVolumes(APP);
      assert.ok(!list.some((x) => x.id === volId && x.state !== 'destroyed' && x.state !== 'pending_destroy'), JSON.stringify(list));
    });
  });

  it('deletes the app', async () => {
    await fly.App.deleteApp(APP);
    await assert.rejects(fly.App.getApp(APP), /^Error: 404: /);
  });
});
