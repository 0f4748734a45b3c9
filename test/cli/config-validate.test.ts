import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/main.js';
import { captureIo as capture } from '../helpers/io.js';

// Compiled to dist/test/cli/: the fixtures stay in the source tree.
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/config/', import.meta.url));


/** Runs `hangar config validate <args>` with the working directory set to `cwd`. */
async function validate(cwd: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const prev = process.cwd();
  process.chdir(cwd);
  try {
    const code = await run(['config', 'validate', ...args], io);
    return { code, out: io.out, err: io.err };
  } finally {
    process.chdir(prev);
  }
}

function tomlFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.toml')).sort() : [];
}

describe('hangar config validate: invalid fixtures print exactly their .expected.txt', () => {
  const dir = join(FIXTURES, 'invalid');
  const files = tomlFiles(dir);
  it('has at least 25 invalid fixtures, each with an expected output', () => {
    assert.ok(files.length >= 25, `only ${files.length} fixtures`);
    for (const f of files) assert.ok(existsSync(join(dir, f.replace(/\.toml$/, '.expected.txt'))), `${f} has no .expected.txt`);
  });
  for (const file of files) {
    it(file, async () => {
      const expected = readFileSync(join(dir, file.replace(/\.toml$/, '.expected.txt')), 'utf8');
      const res = await validate(dir, '-c', file);
      assert.equal(res.out, expected);
      assert.equal(res.err, '');
      assert.equal(res.code, 1);
    });
  }
});

describe('hangar config validate: valid fixtures pass', () => {
  const dir = join(FIXTURES, 'valid');
  for (const file of tomlFiles(dir)) {
    it(file, async () => {
      const res = await validate(dir, '-c', file);
      assert.ok(res.out.startsWith(`Validating ${file}\n`), res.out);
      assert.ok(res.out.endsWith('✓ Configuration is valid\n'), res.out);
      assert.ok(!res.out.includes('✘'), res.out);
      assert.equal(res.code, 0);
    });
  }
});

describe('hangar config validate: behaviour', () => {
  let tmp = '';
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'hangar-validate-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const write = (name: string, text: string) => writeFileSync(join(tmp, name), text);

  it('reads ./fly.toml by default and prints the valid line', async () => {
    write('fly.toml', 'app = "demo"\n\n[http_service]\n  internal_port = 8080\n');
    const res = await validate(tmp);
    assert.equal(res.out, 'Validating fly.toml\n✓ Configuration is valid\n');
    assert.equal(res.code, 0);
  });

  it('prints warnings and still passes', async () => {
    write('warn.toml', 'app = "demo"\n\n[env]\n  FLY_APP_NAME = "other"\n');
    const res = await validate(tmp, '-c', 'warn.toml');
    assert.equal(
      res.out,
      "Validating warn.toml\nWARN [env] sets FLY_APP_NAME, which the platform sets on every machine; the platform's value wins\n✓ Configuration is valid\n",
    );
    assert.equal(res.code, 0);
  });

  it('accepts a folder for -c and shows the file inside it', async () => {
    write('fly.toml', 'app = "demo"\n');
    const res = await validate(tmp, '-c', '.');
    assert.equal(res.out, `Validating ${join('.', 'fly.toml')}\n✓ Configuration is valid\n`);
  });

  it('fails with the coded not-found error when the file is missing', async () => {
    const res = await validate(tmp, '-c', 'nope.toml');
    assert.equal(res.code, 1);
    assert.equal(res.out, '');
    assert.match(res.err, /no app config found at nope\.toml/);
  });

  it('prints --json with errors and warnings split, and valid=false on errors', async () => {
    write('json.toml', 'app = "demo"\n\n[deploy]\n  strategy = "fast"\n\n[env]\n  FLY_REGION = "ams"\n');
    const res = await validate(tmp, '-c', 'json.toml', '--json');
    assert.equal(res.code, 1);
    const body = JSON.parse(res.out) as { path: string; valid: boolean; errors: { code: string; path?: string }[]; warnings: { code: string }[]; strict?: unknown };
    assert.equal(body.path, 'json.toml');
    assert.equal(body.valid, false);
    assert.deepEqual(
      body.errors.map((e) => [e.code, e.path]),
      [['deploy-strategy-unsupported', 'deploy.strategy']],
    );
    assert.deepEqual(
      body.warnings.map((w) => w.code),
      ['env-platform-name'],
    );
    assert.equal(body.strict, undefined);
  });

  it('prints --json valid=true for a clean file', async () => {
    write('clean.toml', 'app = "demo"\n');
    const res = await validate(tmp, '-c', 'clean.toml', '--json');
    assert.equal(res.code, 0);
    assert.deepEqual(JSON.parse(res.out), { path: 'clean.toml', valid: true, errors: [], warnings: [] });
  });

  it('--strict lists unknown keys after the normal output and fails even when valid', async () => {
    write('strict.toml', 'app = "demo"\nmystery = 1\n\n[http_service]\n  internal_port = 8080\n  idle_timeout = 30\n');
    const res = await validate(tmp, '-c', 'strict.toml', '--strict');
    const lines = res.out.split('\n');
    assert.deepEqual(lines.slice(0, 4), ['Validating strict.toml', '✓ Configuration is valid', '', 'Strict validation found unrecognised sections or keys:']);
    const listed = lines.slice(4).filter((l) => l !== '');
    assert.ok(listed.every((l) => l.startsWith('  - ')), res.out);
    assert.ok(listed.some((l) => l.startsWith('  - mystery')), res.out);
    assert.ok(listed.some((l) => l.startsWith('  - http_service.idle_timeout')), res.out);
    assert.equal(res.code, 1);
  });

  it('--strict with no findings passes and adds nothing', async () => {
    write('tidy.toml', 'app = "demo"\n\n[http_service]\n  internal_port = 8080\n');
    const res = await validate(tmp, '-c', 'tidy.toml', '--strict');
    assert.equal(res.out, 'Validating tidy.toml\n✓ Configuration is valid\n');
    assert.equal(res.code, 0);
  });

  it('--strict --json adds the findings', async () => {
    write('strict.toml', 'app = "demo"\nmystery = 1\n');
    const res = await validate(tmp, '-c', 'strict.toml', '--strict', '--json');
    const body = JSON.parse(res.out) as { valid: boolean; strict: { path: string }[] };
    assert.equal(body.valid, false);
    assert.ok(body.strict.some((f) => f.path === 'mystery'));
    assert.equal(res.code, 1);
  });

  it('reports a TOML syntax error as an error line instead of crashing', async () => {
    write('broken.toml', 'app = "demo"\napp = "again"\n[http_service\n');
    const res = await validate(tmp, '-c', 'broken.toml');
    assert.equal(res.code, 1);
    assert.ok(res.out.startsWith('Validating broken.toml\n✘ '), res.out);
    assert.equal(res.err, '');
  });

  it('survives arbitrary bytes', async () => {
    for (const text of ['', '\u0000\u0001', '[[[', 'services = 5', 'processes = "x"', '[checks]\nalive = 1', 'mounts = [1, 2]']) {
      write('junk.toml', text);
      const res = await validate(tmp, '-c', 'junk.toml');
      assert.ok(res.code === 0 || res.code === 1, `${JSON.stringify(text)} → exit ${res.code}: ${res.err}`);
      assert.ok(res.out.startsWith('Validating junk.toml\n'), res.out);
    }
  });
});
