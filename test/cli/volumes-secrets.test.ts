import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { ApiSecret, ApiVolume } from '../../src/client/types.js';
import { HANGAR_BIN, startHangarServer, type RunningServer } from '../client/hangar-server.js';
import { cli, ok, okJson, useServer } from './cli-helpers.js';

const APP = 'cli-data';

/** Runs the built CLI as a child process with `input` on stdin. */
function runBin(args: string[], input: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HANGAR_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out, err }));
    child.stdin.end(input);
  });
}

describe('hangar volumes and secrets', { timeout: 60_000 }, () => {
  let server: RunningServer;
  let restore: () => void;

  before(async () => {
    server = await startHangarServer({ driver: 'fake' });
    restore = useServer(server, join(server.dataDir, 'test-cli-config.json'));
    await ok(['apps', 'create', APP]);
  });
  after(async () => {
    restore?.();
    await server?.stop();
  });

  describe('volumes', () => {
    let volId = '';

    it('creates, lists and shows a volume', async () => {
      const v = await okJson<ApiVolume>(['volumes', 'create', 'data', '-a', APP, '-s', '2']);
      assert.match(v.id, /^vol_/);
      assert.equal(v.size_gb, 2);
      volId = v.id;
      const list = await ok(['volumes', 'list', '-a', APP]);
      assert.match(list.out, /^ID\s+STATE\s+NAME\s+SIZE/m);
      assert.match(list.out, new RegExp(`^${volId}\\s+\\S+\\s+data\\s+2GB`, 'm'));
      assert.deepEqual((await okJson<ApiVolume[]>(['volumes', 'list', '-a', APP])).map((x) => x.id), [volId]);
      assert.match((await ok(['volumes', 'show', volId, '-a', APP])).out, /^Size\s+2GB$/m);
    });

    it('extends to a size and by an amount', async () => {
      assert.match((await ok(['volumes', 'extend', volId, '-a', APP, '-s', '3'])).out, new RegExp(`Volume ${volId} extended to 3GB`));
      const res = await okJson<{ volume: ApiVolume }>(['volumes', 'extend', volId, '-a', APP, '-s', '+2']);
      assert.equal(res.volume.size_gb, 5);
      const bad = await cli(['volumes', 'extend', volId, '-a', APP]);
      assert.match(bad.err, /needs the new size/);
      const badSize = await cli(['volumes', 'create', 'x', '-a', APP, '-s', 'big']);
      assert.match(badSize.err, /invalid -s\/--size "big"/);
    });

    it('destroys a volume only with --yes', async () => {
      assert.match((await cli(['volumes', 'destroy', volId, '-a', APP])).err, /pass --yes/);
      await ok(['volumes', 'destroy', volId, '-a', APP, '--yes']);
      const left = await okJson<ApiVolume[]>(['volumes', 'list', '-a', APP]);
      assert.ok(!left.some((x) => x.id === volId && !['destroyed', 'pending_destroy'].includes(x.state)));
      const missing = await cli(['volumes', 'show', 'vol_doesnotexist0000', '-a', APP]);
      assert.equal(missing.code, 1);
      assert.match(missing.err, new RegExp(`hangar volumes list -a ${APP}`));
    });
  });

  describe('secrets', () => {
    it('sets and lists secrets without showing values', async () => {
      const r = await ok(['secrets', 'set', 'API_KEY=supersecretvalue', 'DB_URL=postgres://u:p@h/db', '-a', APP]);
      assert.match(r.out, /Set 2 secrets on app cli-data: API_KEY, DB_URL/);
      const list = await ok(['secrets', 'list', '-a', APP]);
      assert.match(list.out, /^NAME\s+DIGEST/m);
      assert.match(list.out, /^API_KEY\s+\S+/m);
      assert.doesNotMatch(list.out, /supersecretvalue/);
      const json = await okJson<ApiSecret[]>(['secrets', 'list', '-a', APP]);
      assert.deepEqual(json.map((s) => s.name).sort(), ['API_KEY', 'DB_URL']);
      assert.doesNotMatch(JSON.stringify(json), /supersecretvalue/);
    });

    it('unsets secrets', async () => {
      await ok(['secrets', 'unset', 'DB_URL', '-a', APP]);
      assert.deepEqual((await okJson<ApiSecret[]>(['secrets', 'list', '-a', APP])).map((s) => s.name), ['API_KEY']);
    });

    it('imports NAME=VALUE lines from stdin', async () => {
      const r = await runBin(['secrets', 'import', '-a', APP], '# from a file\nONE=1\nPEM="""-----BEGIN-----\nabc\n-----END-----"""\n');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Set 2 secrets on app cli-data: ONE, PEM/);
      assert.deepEqual((await okJson<ApiSecret[]>(['secrets', 'list', '-a', APP])).map((s) => s.name).sort(), ['API_KEY', 'ONE', 'PEM']);
      const bad = await runBin(['secrets', 'import', '-a', APP], 'not a pair\n');
      assert.equal(bad.code, 1);
      assert.match(bad.err, /line 1: expected NAME=VALUE/);
    });

    it('rejects malformed arguments', async () => {
      const r = await cli(['secrets', 'set', 'NOVALUE', '-a', APP]);
      assert.equal(r.code, 1);
      assert.match(r.err, /invalid secret "NOVALUE": expected NAME=VALUE/);
    });
  });
});
