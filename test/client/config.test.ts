import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_API_URL, clientConfigPath, resolveClientSettings, writeClientConfig } from '../../src/client/config.js';
import { isHangarError } from '../../src/core/errors.js';

describe('client settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-client-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ api_url: 'http://file:1/', token: 'file-token' }));

  it('reads the file named by HANGAR_CONFIG', () => {
    const s = resolveClientSettings({ env: { HANGAR_CONFIG: file } });
    assert.deepEqual(s, { apiUrl: 'http://file:1', token: 'file-token', tokenSource: 'config', configPath: file });
  });

  it('prefers the environment over the file, and the flag over both', () => {
    const env = { HANGAR_CONFIG: file, HANGAR_API_URL: 'http://env:2', HANGAR_API_TOKEN: 'env-token' };
    assert.equal(resolveClientSettings({ env }).token, 'env-token');
    assert.equal(resolveClientSettings({ env }).apiUrl, 'http://env:2');
    const flagged = resolveClientSettings({ env, accessToken: 'flag-token' });
    assert.equal(flagged.token, 'flag-token');
    assert.equal(flagged.tokenSource, 'flag');
  });

  it('defaults to ~/.hangar/config.json and the local API when nothing is set', () => {
    assert.match(clientConfigPath({}), /\.hangar\/config\.json$/);
    const s = resolveClientSettings({ env: { HANGAR_CONFIG: join(dir, 'missing.json') } });
    assert.equal(s.apiUrl, DEFAULT_API_URL);
    assert.equal(s.token, undefined);
  });

  it('reports a malformed config file with its path', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{nope');
    assert.throws(
      () => resolveClientSettings({ env: { HANGAR_CONFIG: bad } }),
      (err: unknown) => isHangarError(err) && err.code === 'HANGAR_ERR_CONFIG_UNREADABLE' && err.message.includes(bad),
    );
    writeFileSync(bad, '[1]');
    assert.throws(() => resolveClientSettings({ env: { HANGAR_CONFIG: bad } }), /must hold a JSON object/);
  });

  it('does not read a broken file when env and flag settle everything', () => {
    const bad = join(dir, 'bad2.json');
    writeFileSync(bad, '{nope');
    const s = resolveClientSettings({ env: { HANGAR_CONFIG: bad, HANGAR_API_URL: 'http://e:1', HANGAR_API_TOKEN: 't' } });
    assert.equal(s.token, 't');
  });

  it('writes the file merged, readable by its owner only', () => {
    const target = join(dir, 'sub', 'config.json');
    writeClientConfig(target, { api_url: 'http://a:1' });
    writeClientConfig(target, { token: 'tok' });
    assert.deepEqual(JSON.parse(readFileSync(target, 'utf8')), { api_url: 'http://a:1', token: 'tok' });
    assert.equal(statSync(target).mode & 0o777, 0o600);
  });
});
