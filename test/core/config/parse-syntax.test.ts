/**
 * TOML syntax errors: one `toml-syntax` diagnostic worded as flyctl words it
 * (`failed loading app config from <path>: row <r> column <c>: <what>`), naming the key when the
 * problem is a duplicate (reference §5).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeAppConfig } from '../../../src/core/config/index.js';
import { parseFlyToml } from '../../../src/core/config/parse.js';

interface SyntaxCase {
  name: string;
  text: string;
  line: number;
  column: number;
  what: string;
}

const CASES: SyntaxCase[] = [
  {
    name: 'duplicate top-level key',
    text: 'app = "shop"\nprimary_region = "iad"\napp = "shop-2"\n',
    line: 3,
    column: 1,
    what: 'key "app" is already defined',
  },
  {
    name: 'duplicate key inside a table (named with its table)',
    text: '[http_service]\n  internal_port = 8080\n  force_https = true\n  internal_port = 3000\n',
    line: 4,
    column: 3,
    what: 'key "http_service.internal_port" is already defined',
  },
  {
    name: 'table defined twice',
    text: '[env]\n  A = "1"\n\n[env]\n  B = "2"\n',
    line: 4,
    column: 2,
    what: 'key "env" is already defined',
  },
  {
    name: 'dotted key defined twice',
    text: 'vm.size = "shared-cpu-1x"\nvm.size = "shared-cpu-2x"\n',
    line: 2,
    column: 1,
    what: 'key "vm.size" is already defined',
  },
  {
    name: 'unterminated string',
    text: 'app = "shop\nprimary_region = "iad"\n',
    line: 1,
    column: 12,
    what: 'control characters are not allowed in strings',
  },
  {
    name: 'unterminated table header',
    text: 'app = "shop"\n[http_service\n  internal_port = 8080\n',
    line: 2,
    column: 14,
    what: 'illegal character in key',
  },
  {
    name: 'value without a key',
    text: 'app = "shop"\n= 8080\n',
    line: 2,
    column: 1,
    what: 'unexpected end of key',
  },
];

describe('TOML syntax errors', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const res = normalizeAppConfig(c.text, { path: 'apps/shop/fly.toml' });
      assert.equal(res.config, null);
      assert.deepEqual(res.diagnostics, [
        {
          severity: 'error',
          code: 'toml-syntax',
          message: `failed loading app config from apps/shop/fly.toml: row ${c.line} column ${c.column}: ${c.what}`,
          line: c.line,
          column: c.column,
        },
      ]);
    });
  }

  it('names fly.toml when no path is given', () => {
    const res = normalizeAppConfig('app = "a"\napp = "b"\n');
    assert.equal(res.diagnostics[0]?.message, 'failed loading app config from fly.toml: row 2 column 1: key "app" is already defined');
  });

  it('reads CRLF files and reports rows the same way', () => {
    const res = normalizeAppConfig('app = "a"\r\nkill_timeout = 5\r\napp = "b"\r\n');
    assert.equal(res.diagnostics[0]?.line, 3);
    assert.match(res.diagnostics[0]?.message ?? '', /row 3 column 1: key "app" is already defined$/);
  });
});

describe('documents that are not fly.toml-shaped but still TOML', () => {
  it('an empty file is a valid empty config (flyctl accepts it; `app` may be missing)', () => {
    const res = normalizeAppConfig('');
    assert.deepEqual(res.diagnostics, []);
    assert.equal(res.config?.app, undefined);
    assert.deepEqual(res.config?.services, []);
  });

  it('comments and blank lines only', () => {
    const res = normalizeAppConfig('# nothing here\n\n   \n');
    assert.deepEqual(res.diagnostics, []);
    assert.notEqual(res.config, null);
  });

  it('a UTF-8 BOM is skipped', () => {
    const res = normalizeAppConfig('\ufeffapp = "bom"\n');
    assert.equal(res.config?.app, 'bom');
  });

  it('NUL bytes and binary garbage give one syntax diagnostic', () => {
    for (const text of ['\u0000\u0000', 'app = "x"\u0000\n', '\u0089PNG\r\n\u001a\n\u0000\u0000\u0000\rIHDR']) {
      const res = normalizeAppConfig(text);
      assert.equal(res.config, null);
      assert.equal(res.diagnostics.length, 1);
      assert.equal(res.diagnostics[0]?.code, 'toml-syntax');
    }
  });

  it('an integer beyond 64 bits is a type problem of its key, not of the file', () => {
    const res = normalizeAppConfig('swap_size_mb = 99999999999999999999\napp = "big"\n');
    assert.equal(res.config?.app, 'big');
    assert.deepEqual(
      res.diagnostics.filter((d) => d.code === 'type'),
      [{ severity: 'error', code: 'type', path: 'swap_size_mb', message: 'swap_size_mb: integer 99999999999999999999 is out of range' }],
    );
  });

  it('a `__proto__` key is ignored with a warning and pollutes nothing', () => {
    const res = normalizeAppConfig('[env]\n__proto__ = "x"\nA = "1"\n\n[checks.__proto__]\ntype = "http"\n');
    assert.deepEqual(res.config?.env, { A: '1' });
    assert.deepEqual(res.config?.checks, {});
    assert.equal(Object.getPrototypeOf(res.config?.env), Object.prototype);
    assert.deepEqual(res.diagnostics.map((d) => `${d.severity} ${d.code} ${d.path}`).sort(), [
      'warning unsafe-key checks.__proto__',
      'warning unsafe-key env.__proto__',
    ]);
  });

  it('nesting deeper than 64 levels is cut with an error instead of overflowing later', () => {
    const res = normalizeAppConfig(`build.settings.${Array(5000).fill('a').join('.')} = 1\n`);
    assert.notEqual(res.config, null);
    assert.equal(res.diagnostics[0]?.code, 'too-deep');
    assert.doesNotThrow(() => JSON.stringify(res.config));
  });

  it('parseFlyToml returns plain objects', () => {
    const res = parseFlyToml('[a]\nb = [{ c = 1 }]\n');
    assert.ok(res.ok);
    if (res.ok) {
      assert.equal(Object.getPrototypeOf(res.raw), Object.prototype);
      assert.deepEqual(res.raw, { a: { b: [{ c: 1 }] } });
    }
  });
});
