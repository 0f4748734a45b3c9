import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchStatic, newerForStatics, routeStatics, type RouteStatics, type StaticsMachine } from '../../../src/core/proxy/statics.js';
import { buildRouteTable, routeForHost, routeForPort } from '../../../src/core/proxy/table.js';
import { machine } from './fixtures.js';

function statics(list: { guest_path: string; url_prefix: string; index_document?: string; tigris_bucket?: string }[], over: Partial<StaticsMachine> = {}): RouteStatics {
  const s = routeStatics({ id: 'm1', state: 'stopped', config: { image: 'dir:/img', statics: list }, ...over });
  assert.ok(s);
  return s;
}

test('routeStatics: normalized mounts, longest prefix first, Tigris entries and bad prefixes left out', () => {
  const s = statics([
    { guest_path: '/app/public/', url_prefix: '/' },
    { guest_path: '/app/assets', url_prefix: '/static/assets/', index_document: 'index.html' },
    { guest_path: '/x', url_prefix: '/bucket', tigris_bucket: 'b' },
    { guest_path: '/y', url_prefix: '/../up' },
    { guest_path: '/../../etc/./', url_prefix: '/etc' },
  ]);
  assert.deepEqual(
    s.mounts.map((m) => [m.prefix, m.guestPath, m.indexDocument]),
    [
      [['static', 'assets'], '/app/assets', 'index.html'],
      [['etc'], '/etc', undefined],
      [[], '/app/public', undefined],
    ],
  );
  assert.equal(s.image, 'dir:/img');
  assert.equal(s.imageDigest, undefined);
  assert.equal(routeStatics({ id: 'm', state: 'started', config: { image: 'x', statics: [{ guest_path: '/b', url_prefix: '/b', tigris_bucket: 'b' }] } }), undefined);
  assert.equal(routeStatics({ id: 'm', state: 'started', config: { image: 'x' } }), undefined);
  assert.equal(routeStatics(undefined), undefined);
  const withDigest = statics([{ guest_path: '/a', url_prefix: '/a' }], { image_ref: { digest: 'sha256:abc' } });
  assert.equal(withDigest.imageDigest, 'sha256:abc');
});

test('matchStatic: longest prefix wins, segment boundaries, query kept out of the file name', () => {
  const s = statics([
    { guest_path: '/app/public', url_prefix: '/' },
    { guest_path: '/app/static', url_prefix: '/static' },
  ]);
  const file = (t: string) => {
    const m = matchStatic(s, t);
    return m.kind === 'file' ? m.guestFile : m.kind;
  };
  assert.equal(file('/static/app.css?v=2'), '/app/static/app.css');
  assert.equal(file('/staticfoo/app.css'), '/app/public/staticfoo/app.css', '/static does not match /staticfoo');
  assert.equal(file('/robots.txt'), '/app/public/robots.txt');
  assert.equal(file('//static//./a/b.js'), '/app/static/a/b.js', 'empty and "." segments are dropped');
  assert.equal(file('/st%61tic/sp%20ace.css'), '/app/static/sp ace.css', 'segments are percent-decoded');
  assert.equal(file('http://web.localhost/static/x.js'), '/app/static/x.js', 'absolute form');
  assert.equal(file('/static/%zz'), 'none', 'a bad percent-encoding goes to the app');
  assert.equal(file('*'), 'none');
  const only = statics([{ guest_path: '/app/static', url_prefix: '/static/' }]);
  assert.equal(matchStatic(only, '/staticfoo').kind, 'none');
  assert.equal(matchStatic(only, '/api/users').kind, 'none');
  assert.equal(matchStatic(only, '/').kind, 'none');
});

test('matchStatic: "..", encoded separators, backslashes and NUL under a prefix are refused', () => {
  const s = statics([{ guest_path: '/app/static', url_prefix: '/static' }]);
  for (const t of ['/static/../secret', '/static/%2e%2e/secret', '/static/%2E%2E', '/static/a%2F..%2F..%2Fsecret', '/static/a%5Cb', '/static/a%00.css', '/static/a\\b']) {
    const m = matchStatic(s, t);
    assert.equal(m.kind, 'refused', t);
  }
  // Not under the prefix: the app's business (as without statics).
  assert.equal(matchStatic(s, '/api/../x').kind, 'none');
  const root = statics([{ guest_path: '/app', url_prefix: '/' }]);
  assert.match((matchStatic(root, '/x/../../etc/passwd') as { reason: string }).reason, /"\.\." segment/);
});

test('matchStatic: index_document for paths ending in "/", a redirect target for a directory named without it', () => {
  const s = statics([
    { guest_path: '/site', url_prefix: '/docs', index_document: 'index.html' },
    { guest_path: '/plain', url_prefix: '/plain' },
  ]);
  assert.deepEqual(matchStatic(s, '/docs/'), { kind: 'file', mount: s.mounts[0], guestFile: '/site/index.html', dirIndex: undefined, redirect: '' });
  assert.deepEqual(matchStatic(s, '/docs/guide/'), { kind: 'file', mount: s.mounts[0], guestFile: '/site/guide/index.html', dirIndex: undefined, redirect: '' });
  assert.deepEqual(matchStatic(s, '/docs/guide?x=1'), { kind: 'file', mount: s.mounts[0], guestFile: '/site/guide', dirIndex: '/site/guide/index.html', redirect: '/docs/guide/?x=1' });
  assert.deepEqual(matchStatic(s, '/docs'), { kind: 'file', mount: s.mounts[0], guestFile: '/site', dirIndex: '/site/index.html', redirect: '/docs/' });
  // No index document: a directory path has no file to serve, the app answers.
  assert.equal(matchStatic(s, '/plain/').kind, 'none');
  const m = matchStatic(s, '/plain/dir');
  assert.equal(m.kind === 'file' && m.dirIndex, undefined);
});

test('newerForStatics: the newest instance_id wins; destroyed machines never do', () => {
  const a: StaticsMachine = { id: 'a', state: 'started', instance_id: '01J0000000000000000000000B', config: {} };
  const b: StaticsMachine = { id: 'b', state: 'stopped', instance_id: '01J0000000000000000000000A', config: {} };
  assert.equal(newerForStatics(a, undefined), true);
  assert.equal(newerForStatics(b, a), false);
  assert.equal(newerForStatics(a, b), true);
  assert.equal(newerForStatics({ ...a, state: 'destroyed' }, undefined), false);
  assert.equal(newerForStatics({ ...b, instance_id: a.instance_id, id: 'c' }, a), true, 'ties break on the machine id');
});

test('buildRouteTable: HTTP routes carry the statics of the newest machine, also when every machine is stopped', () => {
  const old = { guest_path: '/old', url_prefix: '/static' };
  const cur = { guest_path: '/new', url_prefix: '/static', index_document: 'index.html' };
  const t = buildRouteTable(
    [{ name: 'web' }],
    [
      { ...machine('m1', { state: 'stopped' }), instance_id: '01J0000000000000000000000A', config: { ...machine('m1').config, image: 'dir:/old', statics: [old] } },
      { ...machine('m2', { state: 'stopped' }), instance_id: '01J0000000000000000000000B', image_ref: { digest: 'sha256:beef' }, config: { ...machine('m2').config, image: 'registry.example/web:2', statics: [cur] } },
    ],
  );
  const r = routeForHost(t, 80, 'web.localhost')!;
  assert.equal(r.backends.length, 0);
  assert.equal(r.statics?.machineId, 'm2');
  assert.equal(r.statics?.image, 'registry.example/web:2');
  assert.equal(r.statics?.imageDigest, 'sha256:beef');
  assert.deepEqual(r.statics?.mounts.map((m) => m.guestPath), ['/new']);
  assert.equal(routeForHost(t, 443, 'web.localhost')?.statics?.machineId, 'm2');
  // A newer version without statics takes them away.
  const t2 = buildRouteTable([{ name: 'web' }], [{ ...machine('m1'), instance_id: 'A', config: { ...machine('m1').config, image: 'dir:/x', statics: [old] } }, { ...machine('m2'), instance_id: 'B', config: { ...machine('m2').config, image: 'dir:/x' } }]);
  assert.equal(routeForHost(t2, 80, 'web.localhost')?.statics, undefined);
  // TCP routes never serve statics.
  const tcp = buildRouteTable(
    [{ name: 'db' }],
    [{ ...machine('d1', { app: 'db', services: [{ protocol: 'tcp', internal_port: 7000, ports: [{ port: 5432 }] }] }), config: { services: [{ protocol: 'tcp', internal_port: 7000, ports: [{ port: 5432 }] }], image: 'dir:/x', statics: [old] } }],
  );
  assert.equal(routeForPort(tcp, 5432)?.statics, undefined);
});
