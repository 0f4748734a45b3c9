import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Zone, LookupResult } from '../../src/core/dns/zone.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { ZoneFeeder, zoneMachine } from '../../src/dns/feeder.js';
import { DnsServer, type BoundListener } from '../../src/dns/server.js';
import type { MachineRecord } from '../../src/core/machine/types.js';
import { query, udp } from './helpers.js';

/** The fields of a machine record the zone reads, plus what the store round-trips. */
function machine(id: string, app: string, fields: Partial<MachineRecord> = {}): MachineRecord {
  return {
    id,
    name: id,
    app,
    org: 'acme',
    region: 'iad',
    host: 'h1',
    instance_id: '01HX',
    state: 'started',
    desired: 'started',
    generation: 1,
    applied_generation: 1,
    config: { image: 'img', metadata: { fly_process_group: 'app' } },
    private_ip: `fdaa:0:1:1::${id.slice(1)}:2`,
    image_ref: { registry: '', repository: '', tag: '', digest: '', labels: {} },
    events: [],
    checks: [],
    cordoned: false,
    lease: null,
    restart_count: 0,
    host_status: 'ok',
    created_at: '',
    updated_at: '',
    ...fields,
  };
}

const app = (name: string, network = 'acme-net', org = 'acme') => ({ id: name, name, org, network, internal_numeric_id: 1, status: 'deployed', created_at: '' });
/** Zone networks are keyed by org and name (`networkId`). */
const ACME = 'acme:acme-net';

function ips(r: LookupResult): string[] {
  assert.equal(r.kind, 'answer');
  return r.kind === 'answer' ? r.answers.map((a) => String(a.data)) : [];
}

describe('zone feeder', () => {
  let store: SqliteStore;
  let feeder: ZoneFeeder;
  let server: DnsServer;
  let listener: BoundListener;
  let zone: Zone | undefined;

  before(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.put('app', 'web', app('web'), { scope: 'acme' });
    await store.put('app', 'other', app('other', 'other-net'), { scope: 'acme' });
    await store.put('machine', 'm1', machine('m1', 'web'), { scope: 'web' });
    await store.put('machine', 'm2', machine('m2', 'web', { state: 'stopped' }), { scope: 'web' });
    await store.put('machine', 'o1', machine('o1', 'other'), { scope: 'other' });
    server = new DnsServer();
    listener = await server.listen({ network: ACME, host: '127.0.0.1', port: 0 });
    feeder = new ZoneFeeder({
      store,
      onZone: (z) => {
        zone = z;
        server.setZone(z);
      },
    });
    await feeder.start();
  });
  after(async () => {
    feeder.close();
    await server.close();
    await store.close();
  });

  it("keeps two orgs' networks of the same name apart", async () => {
    await store.put('app', 'rival', app('rival', 'acme-net', 'globex'), { scope: 'globex' });
    await store.put('machine', 'r1', machine('r1', 'rival'), { scope: 'rival' });
    await feeder.settled(await store.revision());
    assert.equal((zone!.lookup(ACME, 'rival.internal', 'AAAA') as { rcode?: string }).rcode, 'NXDOMAIN');
    assert.equal(ips(zone!.lookup('globex:acme-net', 'rival.internal', 'AAAA')).length, 1);
    assert.equal((zone!.lookup('globex:acme-net', 'web.internal', 'AAAA') as { rcode?: string }).rcode, 'NXDOMAIN');
    await store.delete('machine', 'r1');
    await store.delete('app', 'rival');
    await feeder.settled(await store.revision());
  });

  it('builds the first zone from the snapshot before start() resolves', async () => {
    assert.ok(zone);
    assert.deepEqual(ips(zone.lookup(ACME, 'web.internal', 'AAAA')), ['fdaa:0:1:1::1:2']);
    assert.deepEqual(ips(zone.lookup('acme:other-net', 'other.internal', 'AAAA')), ['fdaa:0:1:1::1:2']);
    const r = await udp(listener.port, query('app.process.web.internal', 'AAAA'));
    assert.equal(r.answers?.length, 1);
  });

  it('rebuilds when a machine starts, stops, hides or goes away', async () => {
    const builds = feeder.builds;
    let rev = (await store.put('machine', 'm2', machine('m2', 'web'))).revision;
    await feeder.settled(rev);
    assert.equal(feeder.builds, builds + 1);
    assert.deepEqual(ips(zone!.lookup(ACME, 'web.internal', 'AAAA')), ['fdaa:0:1:1::1:2', 'fdaa:0:1:1::2:2']);
    assert.equal((await udp(listener.port, query('m2.vm.web.internal', 'AAAA'))).answers?.length, 1);

    rev = (await store.put('machine', 'm2', machine('m2', 'web', { config: { image: 'img', dns: { skip_registration: true } } }))).revision;
    await feeder.settled(rev);
    assert.deepEqual(ips(zone!.lookup(ACME, 'web.internal', 'AAAA')), ['fdaa:0:1:1::1:2']);

    await store.delete('machine', 'm1');
    await store.put('machine', 'm9', machine('m9', 'web', { state: 'starting' }), { scope: 'web' });
    rev = await store.revision();
    await feeder.settled(rev);
    const r = zone!.lookup(ACME, 'web.internal', 'AAAA');
    assert.deepEqual(ips(r), []);
    assert.equal(r.kind === 'answer' && r.rcode, 'NOERROR');
  });

  it('debounces a burst of writes into one build', async () => {
    const builds = feeder.builds;
    const writes = [];
    for (let i = 10; i < 30; i++) writes.push(store.put('machine', `m${i}`, machine(`m${i}`, 'web'), { scope: 'web' }));
    await Promise.all(writes);
    await feeder.settled(await store.revision());
    assert.ok(feeder.builds - builds <= 2, `built ${feeder.builds - builds} zones for one burst`);
    assert.equal(ips(zone!.lookup(ACME, 'web.internal', 'AAAA')).length, 20);
  });

  it('skips rebuilds for changes the zone does not read', async () => {
    const builds = feeder.builds;
    const current = await store.get<MachineRecord>('machine', 'm10');
    assert.ok(current);
    const rev = (await store.put('machine', 'm10', { ...current.value, events: [{ id: 'e', type: 'start', status: 'started', source: 'flyd', timestamp: 1 }], checks: [] })).revision;
    await feeder.settled(rev);
    assert.equal(feeder.builds, builds);
  });

  it('follows apps being created and deleted', async () => {
    const rev = (await store.put('app', 'new', app('new'), { scope: 'acme' })).revision;
    await feeder.settled(rev);
    const txt = zone!.lookup(ACME, '_apps.internal', 'TXT');
    assert.deepEqual(ips(txt), ['new,web']);
    await store.delete('app', 'web');
    await feeder.settled(await store.revision());
    assert.equal((zone!.lookup(ACME, 'm10.vm.web.internal', 'AAAA') as { rcode?: string }).rcode, 'NXDOMAIN');
  });

  it('maps machine records to zone machines', () => {
    assert.deepEqual(zoneMachine(machine('m5', 'web', { config: { image: 'i', metadata: { fly_process_group: 'worker', role: 'x' }, dns: { skip_registration: true } } })), {
      id: 'm5',
      app: 'web',
      region: 'iad',
      state: 'started',
      private_ip: 'fdaa:0:1:1::5:2',
      process_group: 'worker',
      skip_registration: true,
      metadata: { fly_process_group: 'worker', role: 'x' },
    });
  });
});
