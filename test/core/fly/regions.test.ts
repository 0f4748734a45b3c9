import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimatedRttMs, FLY_REGIONS, regionDistance } from '../../../src/core/fly/regions.js';

test('the estimate orders regions as geography does', () => {
  const fromAms = (r: string) => estimatedRttMs('ams', r)!;
  assert.ok(fromAms('fra') < fromAms('lhr') || fromAms('lhr') < fromAms('iad'), 'neighbours first');
  assert.ok(fromAms('lhr') < fromAms('iad'));
  assert.ok(fromAms('iad') < fromAms('nrt'));
  assert.ok(fromAms('nrt') < fromAms('syd'));
  assert.ok(estimatedRttMs('iad', 'ewr')! < estimatedRttMs('iad', 'lax')!);
  assert.ok(estimatedRttMs('sin', 'bom')! < estimatedRttMs('sin', 'fra')!);
  // about right in ms: Amsterdam–Ashburn is ~85 ms of RTT in practice
  assert.ok(fromAms('iad') > 60 && fromAms('iad') < 120, String(fromAms('iad')));
  assert.equal(estimatedRttMs('ams', 'ams'), 0);
  assert.equal(estimatedRttMs('ams', 'atlantis'), undefined);
  for (const a of Object.keys(FLY_REGIONS)) for (const b of Object.keys(FLY_REGIONS)) assert.equal(estimatedRttMs(a, b), estimatedRttMs(b, a), `${a}/${b} symmetric`);
});

test("the operator's table wins for the pairs it has, looked up both ways; the rest are estimated", () => {
  const table = { ams: { nrt: 1 } };
  assert.equal(regionDistance(table, 'ams', 'nrt'), 1);
  assert.equal(regionDistance(table, 'nrt', 'ams'), 1);
  assert.equal(regionDistance(table, 'ams', 'fra'), estimatedRttMs('ams', 'fra'));
  assert.equal(regionDistance(table, 'lab1', 'lab2'), Number.POSITIVE_INFINITY, 'unknown regions sort last');
  assert.equal(regionDistance(undefined, 'lab1', 'lab1'), 0);
});
