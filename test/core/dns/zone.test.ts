import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildZone, INTERNAL_TTL, type LookupResult, type ZoneInput, type ZoneMachine } from '../../../src/core/dns/zone.js';

const started = (id: string, app: string, region: string, ip: string, extra: Partial<ZoneMachine> = {}): ZoneMachine => ({
  id,
  app,
  region,
  state: 'started',
  private_ip: ip,
  ...extra,
});

const INPUT: ZoneInput = {
  networks: ['empty-net'],
  apps: [
    { name: 'web', network: 'default', org: 'acme' },
    { name: 'db', network: 'default', org: 'acme' },
    { name: 'idle', network: 'default', org: 'acme' },
    { name: 'secret', network: 'isolated', org: 'acme' },
  ],
  machines: [
    started('m2', 'web', 'ams', 'fdaa:0:1:1:0:0:2:2', { process_group: 'app', metadata: { role: 'Primary' } }),
    started('m1', 'web', 'iad', 'fdaa:0:1:1:0:0:1:2', { process_group: 'app' }),
    started('m3', 'web', 'iad', 'fdaa:0:1:2:0:0:1:2', { process_group: 'worker' }),
    { id: 'm4', app: 'web', region: 'lhr', state: 'stopped', private_ip: 'fdaa:0:1:2:0:0:2:2' },
    started('m5', 'web', 'ord', 'fdaa:0:1:2:0:0:3:2', { skip_registration: true }),
    { id: 'm6', app: 'web', region: 'ord', state: 'destroyed', private_ip: 'fdaa:0:1:2:0:0:4:2' },
    started('d1', 'db', 'iad', '127.77.0.9'),
    started('s1', 'secret', 'iad', 'fdaa:0:2:1:0:0:1:2'),
    started('orphan', 'gone', 'iad', 'fdaa:0:1:1:0:0:9:2'),
  ],
  localRegion: 'iad',
  distances: { iad: { ams: 80, lhr: 75 } },
  serial: 42,
};
const zone = buildZone(INPUT);

function answer(r: LookupResult) {
  assert.equal(r.kind, 'answer');
  return r as Extract<LookupResult, { kind: 'answer' }>;
}
const data = (r: LookupResult) => answer(r).answers.map((a) => (a.type === 'TXT' ? a.data.join('') : a.data));
const aaaa = (name: string, network = 'default') => data(zone.lookup(network, name, 'AAAA'));

describe('.internal zone', () => {
  it('answers AAAA for every name of a started machine (reference §1d)', () => {
    const web = ['fdaa:0:1:1:0:0:1:2', 'fdaa:0:1:1:0:0:2:2', 'fdaa:0:1:2:0:0:1:2'];
    assert.deepEqual(aaaa('web.internal'), web);
    assert.deepEqual(aaaa('global.web.internal'), web);
    assert.deepEqual(aaaa('iad.web.internal'), ['fdaa:0:1:1:0:0:1:2', 'fdaa:0:1:2:0:0:1:2']);
    assert.deepEqual(aaaa('m2.vm.web.internal'), ['fdaa:0:1:1:0:0:2:2']);
    assert.deepEqual(aaaa('app.process.web.internal'), ['fdaa:0:1:1:0:0:1:2', 'fdaa:0:1:1:0:0:2:2']);
    assert.deepEqual(aaaa('worker.process.web.internal'), ['fdaa:0:1:2:0:0:1:2']);
    assert.deepEqual(aaaa('primary.role.kv._metadata.web.internal'), ['fdaa:0:1:1:0:0:2:2']);
  });

  it('matches names case-insensitively and with a trailing dot', () => {
    assert.deepEqual(aaaa('M2.VM.Web.Internal.'), ['fdaa:0:1:1:0:0:2:2']);
  });

  it('lists neither stopped, destroyed nor skip_registration machines', () => {
    assert.equal(answer(zone.lookup('default', 'm4.vm.web.internal', 'AAAA')).rcode, 'NXDOMAIN');
    assert.equal(answer(zone.lookup('default', 'm5.vm.web.internal', 'AAAA')).rcode, 'NXDOMAIN');
    assert.equal(answer(zone.lookup('default', 'ord.web.internal', 'AAAA')).rcode, 'NXDOMAIN');
    assert.equal(answer(zone.lookup('default', 'lhr.web.internal', 'AAAA')).rcode, 'NXDOMAIN');
  });

  it('orders topN.nearest.of by distance from the local region, ties by id', () => {
    assert.deepEqual(aaaa('top1.nearest.of.web.internal'), ['fdaa:0:1:1:0:0:1:2']);
    assert.deepEqual(aaaa('top2.nearest.of.web.internal'), ['fdaa:0:1:1:0:0:1:2', 'fdaa:0:1:2:0:0:1:2']);
    assert.deepEqual(aaaa('top9.nearest.of.web.internal'), ['fdaa:0:1:1:0:0:1:2', 'fdaa:0:1:2:0:0:1:2', 'fdaa:0:1:1:0:0:2:2']);
    const r = answer(zone.lookup('default', 'Top1.Nearest.Of.Web.Internal', 'AAAA'));
    assert.equal(r.answers[0]?.name, 'top1.nearest.of.web.internal');
    assert.equal(answer(zone.lookup('default', 'top0.nearest.of.web.internal', 'AAAA')).rcode, 'NXDOMAIN');
    assert.equal(answer(zone.lookup('default', 'top1.nearest.of.nope.internal', 'AAAA')).rcode, 'NXDOMAIN');
    assert.equal(answer(zone.lookup('default', 'top1.nearest.of.idle.internal', 'AAAA')).rcode, 'NXDOMAIN');
    // TXT of a topN name: the name exists, no TXT
    const txt = answer(zone.lookup('default', 'top1.nearest.of.web.internal', 'TXT'));
    assert.equal(txt.rcode, 'NOERROR');
    assert.deepEqual(txt.answers, []);
    assert.equal(txt.authority[0]?.type, 'SOA');
  });

  it('writes the TXT records in Fly\'s formats', () => {
    const txt = (name: string, network = 'default') => data(zone.lookup(network, name, 'TXT'));
    assert.deepEqual(txt('vms.web.internal'), ['m1 iad,m2 ams,m3 iad']);
    assert.deepEqual(txt('regions.web.internal'), ['ams,iad']);
    assert.deepEqual(txt('all.vms.web.internal'), ['m1 iad,m2 ams,m3 iad,m4 lhr']);
    assert.deepEqual(txt('all.regions.web.internal'), ['ams,iad,lhr']);
    assert.deepEqual(txt('_apps.internal'), ['db,idle,web']);
    assert.deepEqual(txt('_instances.internal'), [
      'instance=d1,app=db,ip=127.77.0.9,region=iad;instance=m1,app=web,ip=fdaa:0:1:1:0:0:1:2,region=iad;' +
        'instance=m2,app=web,ip=fdaa:0:1:1:0:0:2:2,region=ams;instance=m3,app=web,ip=fdaa:0:1:2:0:0:1:2,region=iad',
    ]);
    assert.deepEqual(txt('_apps.internal', 'isolated'), ['secret']);
  });

  it('splits long TXT values into 255-byte strings of one record', () => {
    const many: ZoneMachine[] = [];
    for (let i = 0; i < 40; i++) many.push(started(`machine${String(i).padStart(3, '0')}`, 'big', 'iad', `fdaa:0:1:1::${i + 1}`));
    const z = buildZone({ apps: [{ name: 'big', network: 'n', org: 'o' }], machines: many });
    const r = answer(z.lookup('n', 'vms.big.internal', 'TXT'));
    assert.equal(r.answers.length, 1);
    const rec = r.answers[0];
    assert.ok(rec?.type === 'TXT');
    assert.ok(rec.data.length > 1 && rec.data.every((s) => s.length <= 255));
    assert.equal(rec.data.join('').split(',').length, 40);
  });

  it('gives A records to loopback (process driver) machines under the same names', () => {
    assert.deepEqual(data(zone.lookup('default', 'db.internal', 'A')), ['127.77.0.9']);
    assert.deepEqual(data(zone.lookup('default', 'd1.vm.db.internal', 'A')), ['127.77.0.9']);
    const none = answer(zone.lookup('default', 'db.internal', 'AAAA'));
    assert.equal(none.rcode, 'NOERROR');
    assert.deepEqual(none.answers, []);
  });

  it('tells NODATA from NXDOMAIN, both with the SOA', () => {
    const nodata = [
      ['web.internal', 'TXT'],
      ['web.internal', 'MX'],
      ['web.internal', 'UNKNOWN_65'],
      ['vms.web.internal', 'AAAA'],
      ['vm.web.internal', 'AAAA'], // empty non-terminal
      ['idle.internal', 'AAAA'], // an app with nothing started
      ['internal', 'AAAA'],
    ] as const;
    for (const [name, type] of nodata) {
      const r = answer(zone.lookup('default', name, type));
      assert.equal(r.rcode, 'NOERROR', `${name} ${type}`);
      assert.deepEqual(r.answers, [], `${name} ${type}`);
      assert.equal(r.authority[0]?.type, 'SOA', `${name} ${type}`);
      assert.equal(r.authority[0]?.ttl, INTERNAL_TTL);
    }
    for (const name of ['nope.internal', 'x.web.internal', 'vms.idle.internal', '_instances.internal.x.internal']) {
      const r = answer(zone.lookup('default', name, 'AAAA'));
      assert.equal(r.rcode, 'NXDOMAIN', name);
      assert.equal(r.authority[0]?.type, 'SOA', name);
    }
    const soa = answer(zone.lookup('default', 'internal', 'SOA')).answers[0];
    assert.ok(soa?.type === 'SOA');
    assert.equal(soa.data.serial, 42);
    assert.equal(soa.data.minimum, INTERNAL_TTL);
  });

  it('answers ANY with every record of the name', () => {
    assert.deepEqual(data(zone.lookup('default', 'm1.vm.web.internal', 'ANY')), ['fdaa:0:1:1:0:0:1:2']);
  });

  it('keeps networks apart, and answers NXDOMAIN for an unknown network', () => {
    assert.equal(answer(zone.lookup('default', 'secret.internal', 'AAAA')).rcode, 'NXDOMAIN');
    assert.equal(answer(zone.lookup('isolated', 'web.internal', 'AAAA')).rcode, 'NXDOMAIN');
    assert.deepEqual(aaaa('secret.internal', 'isolated'), ['fdaa:0:2:1:0:0:1:2']);
    assert.equal(answer(zone.lookup('isolated', '_instances.internal', 'TXT')).answers.length, 1);
    assert.equal(answer(zone.lookup('nowhere', 'web.internal', 'AAAA')).rcode, 'NXDOMAIN');
    // a declared network with no apps: `_apps.internal` does not exist there
    assert.equal(answer(zone.lookup('empty-net', '_apps.internal', 'TXT')).rcode, 'NXDOMAIN');
    assert.deepEqual(zone.networks, ['default', 'empty-net', 'isolated']);
  });

  it('leaves machines of unknown apps out', () => {
    assert.equal(answer(zone.lookup('default', 'gone.internal', 'AAAA')).rcode, 'NXDOMAIN');
    assert.ok(!String(data(zone.lookup('default', '_instances.internal', 'TXT'))[0]).includes('orphan'));
  });

  it('forwards names outside .internal', () => {
    for (const name of ['example.com', 'internal.example.com', 'xinternal', 'com.']) assert.deepEqual(zone.lookup('default', name, 'A'), { kind: 'forward' });
  });
});
