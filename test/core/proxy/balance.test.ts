import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pick, type PickRequest } from '../../../src/core/proxy/balance.js';
import { buildRouteTable, routeForHost } from '../../../src/core/proxy/table.js';
import { regionDistance } from '../../../src/core/proxy/region.js';
import { forwardedForLine, parseRegionList } from '../../../src/core/proxy/headers.js';
import type { Route } from '../../../src/core/proxy/types.js';
import { machine } from './fixtures.js';

function route(...ms: ReturnType<typeof machine>[]): Route {
  return routeForHost(buildRouteTable([{ name: 'web' }], ms), 80, 'web.localhost')!;
}
const opts = { region: 'ams', distances: { ams: { fra: 10, iad: 90 } }, random: () => 0.99 };
function chosen(r: Route, load: Record<string, number>, req: PickRequest = {}): string {
  const p = pick(r, req, new Map(Object.entries(load)), opts);
  return p.kind === 'machine' ? p.backend.machineId + (p.preferredUnavailable ? '!' : '') : p.kind;
}

test('least loaded wins; at soft limit only when all others are too; never at hard limit; then queue', () => {
  const r = route(machine('a', { region: 'ams' }), machine('b', { region: 'ams' }));
  assert.equal(chosen(r, { 'a:8080': 1, 'b:8080': 0 }), 'b');
  assert.equal(chosen(r, { 'a:8080': 1, 'b:8080': 2 }), 'a');
  assert.equal(chosen(r, { 'a:8080': 3, 'b:8080': 2 }), 'b');
  assert.equal(chosen(r, { 'a:8080': 4, 'b:8080': 3 }), 'b');
  assert.equal(chosen(r, { 'a:8080': 4, 'b:8080': 4 }), 'queue');
  assert.deepEqual(pick(route(machine('s', { state: 'stopped' })), {}, new Map(), opts), { kind: 'reject', status: 503, reason: 'no started machine is available to serve this app' });
});

test('ties are broken randomly', () => {
  const r = route(machine('a', { region: 'ams' }), machine('b', { region: 'ams' }));
  const seen = new Set<string>();
  for (const x of [0, 0.99]) {
    const p = pick(r, {}, new Map(), { ...opts, random: () => x });
    if (p.kind === 'machine') seen.add(p.backend.machineId);
  }
  assert.deepEqual([...seen].sort(), ['a', 'b']);
});

test('closest region first; another region only when every local machine is at its hard limit', () => {
  const r = route(machine('far', { region: 'iad' }), machine('near', { region: 'fra' }), machine('home', { region: 'ams' }));
  assert.equal(chosen(r, { 'home:8080': 3 }), 'home'); // over soft, below hard: stays local
  assert.equal(chosen(r, { 'home:8080': 4 }), 'near');
  assert.equal(chosen(r, { 'home:8080': 4, 'near:8080': 4 }), 'far');
  assert.equal(regionDistance(undefined, 'x', 'y'), Number.POSITIVE_INFINITY);
});

test("without a distance table, closeness comes from the regions' cities", () => {
  const r = route(machine('tokyo', { region: 'nrt' }), machine('virginia', { region: 'iad' }), machine('frankfurt', { region: 'fra' }));
  const noTable = (load: Record<string, number>) => {
    const p = pick(r, {}, new Map(Object.entries(load)), { region: 'ams', random: () => 0.99 });
    return p.kind === 'machine' ? p.backend.machineId : p.kind;
  };
  assert.equal(noTable({}), 'frankfurt');
  assert.equal(noTable({ 'frankfurt:8080': 4 }), 'virginia');
  assert.equal(noTable({ 'frankfurt:8080': 4, 'virginia:8080': 4 }), 'tokyo');
});

test('client routing headers: prefer/force region and instance', () => {
  const r = route(machine('far', { region: 'iad' }), machine('home', { region: 'ams' }));
  assert.equal(chosen(r, {}, { preferRegions: ['iad'] }), 'far');
  assert.equal(chosen(r, { 'far:8080': 4 }, { preferRegions: ['iad'] }), 'home');
  assert.equal(chosen(r, {}, { forceRegions: ['iad'] }), 'far');
  assert.equal(chosen(r, { 'far:8080': 4 }, { forceRegions: ['iad'] }), 'queue');
  assert.equal(chosen(r, {}, { forceRegions: ['syd'] }), 'reject');
  assert.equal(chosen(r, {}, { preferInstance: 'far' }), 'far');
  assert.equal(chosen(r, { 'far:8080': 4 }, { preferInstance: 'far' }), 'home!');
  assert.equal(chosen(r, {}, { preferInstance: 'gone' }), 'home!');
  assert.equal(chosen(r, {}, { forceInstance: 'far' }), 'far');
  assert.equal(chosen(r, { 'far:8080': 4 }, { forceInstance: 'far' }), 'queue');
  assert.equal(chosen(r, {}, { forceInstance: 'gone' }), 'reject');
  assert.deepEqual(parseRegionList('IAD, ord,,'), ['iad', 'ord']);
  assert.equal(forwardedForLine('1.2.3.4', '5.6.7.8'), 'X-Forwarded-For: 1.2.3.4, 5.6.7.8\r\n');
});

test('autostart seam: answered only when enabled and a stopped machine exists', () => {
  const r = route(machine('a', { region: 'ams' }), machine('s', { state: 'stopped' }));
  assert.equal(pick(r, {}, new Map([['a:8080', 2]]), { ...opts, autostart: true }).kind, 'autostart');
  assert.equal(chosen(r, { 'a:8080': 2 }), 'a');
});

test('a machine on its way up is waited for, not answered with a 503 (an autostart in progress that the table already sees as starting)', () => {
  const starting = route(machine('s', { state: 'starting' }));
  assert.equal(starting.starting, 1);
  assert.equal(pick(starting, {}, new Map(), { ...opts, autostart: true }).kind, 'queue');
  assert.equal(pick(starting, {}, new Map(), opts).kind, 'queue', 'also a start through the API, without autostart');
  assert.equal(pick(starting, { forceRegions: ['syd'] }, new Map(), opts).kind, 'reject', 'a forced region still rejects');
  const none = route(machine('d', { state: 'destroyed' }));
  assert.deepEqual(pick(none, {}, new Map(), opts), { kind: 'reject', status: 503, reason: 'no started machine is available to serve this app' });
});
