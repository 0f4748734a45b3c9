/**
 * `hangar config show [--json] -c <file>`, in-process through `run(argv, io)`: the normalized
 * config as JSON (always JSON, like `fly config show`); a file with errors exits 1 listing them.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/main.js';
import { captureIo } from '../helpers/io.js';

// Compiled to dist/test/cli/: the fixtures stay in the source tree.
const VALID = fileURLToPath(new URL('../../../test/fixtures/config/valid/', import.meta.url));

async function show(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await run(['config', 'show', ...args], io);
  return { code, out: io.out, err: io.err };
}

const expected = (name: string): unknown => JSON.parse(readFileSync(join(VALID, `${name}.expected.json`), 'utf8'));

describe('hangar config show', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hangar-config-show-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--json prints the normalized config', async () => {
    const res = await show('--json', '-c', join(VALID, 'rails.toml'));
    assert.equal(res.code, 0);
    assert.equal(res.err, '');
    assert.deepEqual(JSON.parse(res.out), expected('rails'));
  });

  it('prints JSON without --json too (like fly config show)', async () => {
    const res = await show('-c', join(VALID, 'legacy-service-table.toml'));
    assert.equal(res.code, 0);
    assert.deepEqual(JSON.parse(res.out), expected('legacy-service-table'));
  });

  it('reads fly.toml from a folder given with -c', async () => {
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'fly.toml'), readFileSync(join(VALID, 'phoenix.toml')));
    const res = await show('--json', '-c', app);
    assert.equal(res.code, 0);
    assert.deepEqual(JSON.parse(res.out), expected('phoenix'));
  });

  it('prints warnings on stderr and still succeeds', async () => {
    const res = await show('--json', '-c', join(VALID, 'concurrency-only.toml'));
    assert.equal(res.code, 0);
    assert.deepEqual(JSON.parse(res.out), expected('concurrency-only'));
    assert.match(res.err, /^WARNING: Service must expose at least one port/);
  });

  it('a syntax error exits 1 with the flyctl-worded message and prints no config', async () => {
    const file = join(dir, 'dup.toml');
    writeFileSync(file, 'app = "a"\n[env]\nA = "1"\n[env]\nB = "2"\n');
    const res = await show('--json', '-c', file);
    assert.equal(res.code, 1);
    assert.equal(res.out, '');
    assert.match(res.err, /failed loading app config from .*dup\.toml: row 4 column 2: key "env" is already defined/);
  });

  it('type errors exit 1 and list every problem', async () => {
    const file = join(dir, 'types.toml');
    writeFileSync(file, '[http_service]\ninternal_port = "8080"\nauto_stop_machines = "maybe"\n[[restart]]\npolicy = "no"\n');
    const res = await show('-c', file);
    assert.equal(res.code, 1);
    assert.equal(res.out, '');
    assert.match(res.err, /http_service\.internal_port: expected an integer, got string "8080"/);
    assert.match(res.err, /invalid autostop string value "maybe" \(at http_service\.auto_stop_machines\)/);
    assert.match(res.err, /invalid restart policy: no \(at restart\[0\]\.policy\)/);
  });

  it('a missing file exits 1', async () => {
    const res = await show('-c', join(dir, 'nope.toml'));
    assert.equal(res.code, 1);
    assert.match(res.err, /no app config found/);
  });
});
