import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/main.js';
import { captureIo } from '../helpers/io.js';


describe('cli frame', () => {
  it('prints the version', async () => {
    const io = captureIo();
    assert.equal(await run(['version'], io), 0);
    assert.match(io.out, /^hangar v\d+\.\d+\.\d+ /);
  });

  it('prints the version as JSON with --json', async () => {
    const io = captureIo();
    assert.equal(await run(['version', '--json'], io), 0);
    const v = JSON.parse(io.out) as { version: string; node: string };
    assert.match(v.version, /^\d+\.\d+\.\d+$/);
    assert.equal(v.node, process.versions.node);
  });

  it('fails with usage help on an unknown command', async () => {
    const io = captureIo();
    const code = await run(['no-such-command'], io);
    assert.notEqual(code, 0);
    assert.match(io.err, /unknown command 'no-such-command'/);
  });

  it('reports a missing config file as a coded user error with a suggestion', async () => {
    const io = captureIo();
    const code = await run(['config', 'show', '-c', '/nonexistent/fly.toml'], io);
    assert.equal(code, 1);
    assert.match(io.err, /Error: no app config found at \/nonexistent\/fly.toml/);
    assert.match(io.err, /-c\/--config/);
    assert.doesNotMatch(io.err, /HANGAR_ERR_CONFIG_NOT_FOUND/, 'the code is shown only with --debug');
  });

  it('adds the code and cause chain with --debug', async () => {
    const io = captureIo();
    const code = await run(['config', 'show', '-c', '/nonexistent/fly.toml', '--debug'], io);
    assert.equal(code, 1);
    assert.match(io.err, /\[HANGAR_ERR_CONFIG_NOT_FOUND\]/);
    assert.match(io.err, /ENOENT/);
  });

  it('runs as an executable', () => {
    const bin = fileURLToPath(new URL('../../../bin/hangar.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^hangar v/);
  });
});
