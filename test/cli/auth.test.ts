import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHangarServer, type RunningServer } from '../client/hangar-server.js';
import { cli, ok, okJson, useServer } from './cli-helpers.js';

describe('hangar auth and tokens', { timeout: 60_000 }, () => {
  let server: RunningServer;
  let restore: () => void;
  let configPath: string;

  before(async () => {
    server = await startHangarServer({ driver: 'fake' });
    configPath = join(server.dataDir, 'test-cli-config.json');
    restore = useServer(server, configPath);
  });
  after(async () => {
    restore?.();
    await server?.stop();
  });

  it('whoami shows the token in use', async () => {
    const who = await okJson<{ org: string; role: string; token_name: string; api_url: string; token_source: string }>(['auth', 'whoami']);
    assert.equal(who.role, 'admin');
    assert.equal(who.api_url, server.url);
    assert.equal(who.token_source, 'env');
    const text = await ok(['auth', 'whoami']);
    assert.match(text.out, new RegExp(`Org\\s+${who.org}`));
    assert.match(text.out, /Token from\s+HANGAR_API_TOKEN/);
  });

  it('tells how to log in when there is no token', async () => {
    delete process.env.HANGAR_API_TOKEN;
    try {
      const r = await cli(['apps', 'list']);
      assert.equal(r.code, 1);
      assert.match(r.err, /Error: no access token: not logged in to the Hangar API at http:\/\/127\.0\.0\.1:\d+/);
      assert.match(r.err, /hangar auth login --token <token>/);
      assert.match(r.err, /admin-token/);
    } finally {
      process.env.HANGAR_API_TOKEN = server.token;
    }
  });

  it('login checks the token and saves it, then commands use it', async () => {
    delete process.env.HANGAR_API_TOKEN;
    try {
      const r = await ok(['auth', 'login', '--token', server.token]);
      assert.match(r.out, /Logged in to http:\/\/127\.0\.0\.1:\d+ as admin \(admin token of org \S+\)/);
      const saved = JSON.parse(readFileSync(configPath, 'utf8')) as { api_url: string; token: string };
      assert.deepEqual(saved, { api_url: server.url, token: server.token });
      const who = await okJson<{ token_source: string }>(['auth', 'whoami']);
      assert.equal(who.token_source, 'config');
    } finally {
      process.env.HANGAR_API_TOKEN = server.token;
    }
  });

  it('login refuses a token the server rejects, and saves nothing', async () => {
    const other = join(server.dataDir, 'other-config.json');
    process.env.HANGAR_CONFIG = other;
    try {
      const r = await cli(['auth', 'login', '--token', 'hangar_not-a-real-token']);
      assert.equal(r.code, 1);
      assert.match(r.err, /log in again/);
      assert.equal(existsSync(other), false);
      const noToken = await cli(['auth', 'login']);
      assert.equal(noToken.code, 1);
      assert.match(noToken.err, /pass --token <token>/);
    } finally {
      process.env.HANGAR_CONFIG = configPath;
    }
  });

  it('-t/--access-token wins over the environment', async () => {
    process.env.HANGAR_API_TOKEN = 'hangar_wrong';
    try {
      assert.equal((await cli(['auth', 'whoami'])).code, 1);
      const who = await okJson<{ token_source: string; role: string }>(['auth', 'whoami', '-t', server.token]);
      assert.equal(who.token_source, 'flag');
    } finally {
      process.env.HANGAR_API_TOKEN = server.token;
    }
  });

  it('creates deploy and readonly tokens with their roles', async () => {
    const deploy = (await ok(['tokens', 'create', 'deploy', '--name', 'ci'])).out.trim();
    assert.ok(deploy.length > 10);
    const who = await okJson<{ role: string; token_name: string }>(['auth', 'whoami', '-t', deploy]);
    assert.equal(who.role, 'deploy');
    assert.equal(who.token_name, 'ci');
    const ro = await okJson<{ token: string; role: string }>(['tokens', 'create', 'readonly']);
    assert.equal(ro.role, 'readonly');
    // a readonly token reads but cannot change anything
    await ok(['apps', 'list', '-t', ro.token]);
    const denied = await cli(['apps', 'create', 'nope-readonly', '-t', ro.token]);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /role/i);
  });

  it('rejects an unknown token type', async () => {
    const r = await cli(['tokens', 'create', 'superuser']);
    assert.equal(r.code, 1);
    assert.match(r.err, /unknown token type "superuser": use deploy or readonly/);
  });

  it('says so when the API cannot be reached', async () => {
    process.env.HANGAR_API_URL = 'http://127.0.0.1:9';
    try {
      const r = await cli(['apps', 'list']);
      assert.equal(r.code, 1);
      assert.match(r.err, /cannot reach the Hangar API at http:\/\/127\.0\.0\.1:9/);
      assert.match(r.err, /hangar server/);
    } finally {
      process.env.HANGAR_API_URL = server.url;
    }
  });
});
