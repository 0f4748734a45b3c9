import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHangarServer, type RunningServer } from '../client/hangar-server.js';
import { cli, ok, okJson, useServer } from './cli-helpers.js';

describe('hangar apps', { timeout: 60_000 }, () => {
  let server: RunningServer;
  let restore: () => void;

  before(async () => {
    server = await startHangarServer({ driver: 'fake' });
    restore = useServer(server, join(server.dataDir, 'test-cli-config.json'));
  });
  after(async () => {
    restore?.();
    await server?.stop();
  });

  it('creates, lists and shows an app', async () => {
    assert.match((await ok(['apps', 'create', 'demo'])).out, /^New app created: demo$/m);
    const list = await ok(['apps', 'list']);
    assert.match(list.out, /^NAME\s+ORG\s+STATUS\s+MACHINES$/m);
    assert.match(list.out, /^demo\s+\S+\s+pending\s+0$/m);
    const apps = await okJson<{ name: string }[]>(['apps', 'list']);
    assert.deepEqual(apps.map((a) => a.name), ['demo']);
    const shown = await okJson<{ name: string; machine_count: number }>(['apps', 'show', 'demo']);
    assert.equal(shown.name, 'demo');
    assert.match((await ok(['apps', 'show', '-a', 'demo'])).out, /^Name\s+demo$/m);
  });

  it("reports a taken name with the API's message", async () => {
    const r = await cli(['apps', 'create', 'demo']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^Error: .*(taken|exists)/im);
  });

  it('takes the app from fly.toml when -a is absent', async () => {
    const dir = join(server.dataDir, 'proj');
    mkdirSync(dir);
    writeFileSync(join(dir, 'fly.toml'), 'app = "demo"\n');
    const r = await ok(['machine', 'list', '-c', dir]);
    assert.match(r.out, /No machines in app demo/);
    writeFileSync(join(dir, 'fly.toml'), 'primary_region = "ams"\n');
    const noApp = await cli(['machine', 'list', '-c', dir]);
    assert.equal(noApp.code, 1);
    assert.match(noApp.err, /does not set `app`; pass -a\/--app <name>/);
  });

  it('asks for -a when there is no fly.toml', async () => {
    const r = await cli(['machine', 'list']);
    assert.equal(r.code, 1);
    assert.match(r.err, /no app given: pass -a\/--app <name>/);
  });

  it('explains an unknown app and suggests how to create it', async () => {
    const r = await cli(['machine', 'list', '-a', 'ghost']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^Error: .*ghost.*not found|^Error: .*not found/im);
    assert.match(r.err, /hangar apps create ghost/);
  });

  it('destroys an app only with --yes', async () => {
    const r = await cli(['apps', 'destroy', 'demo']);
    assert.equal(r.code, 1);
    assert.match(r.err, /pass --yes to confirm/);
    assert.match((await ok(['apps', 'destroy', 'demo', '--yes'])).out, /Destroyed app demo/);
    const gone = await cli(['apps', 'show', 'demo']);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /hangar apps list/);
  });
});
