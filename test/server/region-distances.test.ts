import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegionDistances } from '../../src/server/region-distances.js';

const dir = mkdtempSync(join(tmpdir(), 'hangar-test-distances-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('--region-distances reads a JSON table of ms', () => {
  assert.deepEqual(loadRegionDistances(file('ok.json', '{"ams":{"fra":8,"lhr":6.5}}')), { ams: { fra: 8, lhr: 6.5 } });
});

test('--region-distances names the file and what is wrong with it', () => {
  assert.throws(() => loadRegionDistances(join(dir, 'missing.json')), /cannot read --region-distances file .*missing\.json: ENOENT/);
  assert.throws(() => loadRegionDistances(file('bad.json', '{"ams":')), /is not JSON/);
  assert.throws(() => loadRegionDistances(file('neg.json', '{"ams":{"fra":-1}}')), /ams\.fra: .*expected \{"ams"/);
  assert.throws(() => loadRegionDistances(file('str.json', '{"ams":{"fra":"8"}}')), /ams\.fra/);
  assert.throws(() => loadRegionDistances(file('arr.json', '[1]')), /\(top level\)/);
});
