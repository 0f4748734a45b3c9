/**
 * Robustness: whatever the input (mutated real files, binary garbage, a 10 MB file),
 * normalizeAppConfig and strictFindings never throw and always return a well-formed result.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { normalizeAppConfig, strictFindings } from '../../../src/core/config/index.js';
import type { NormalizeResult } from '../../../src/core/config/types.js';

const VALID = fileURLToPath(new URL('../../../../test/fixtures/config/valid/', import.meta.url));
const FIXTURES = readdirSync(VALID)
  .filter((f) => f.endsWith('.toml'))
  .sort()
  .map((f) => readFileSync(join(VALID, f), 'utf8'))
  .filter((t) => t.length > 0);

const LIST_KEYS = ['services', 'mounts', 'vm', 'restart', 'metrics', 'statics', 'files', 'machine_checks'] as const;
const MAP_KEYS = ['env', 'checks', 'processes'] as const;

/** The shape every result must have, whatever the input. */
function assertWellFormed(res: NormalizeResult): void {
  assert.ok(res && typeof res === 'object');
  assert.ok(Array.isArray(res.diagnostics));
  for (const d of res.diagnostics) {
    assert.ok(d.severity === 'error' || d.severity === 'warning');
    assert.equal(typeof d.code, 'string');
    assert.equal(typeof d.message, 'string');
    assert.ok(d.message.length > 0);
    if ('path' in d) assert.equal(typeof d.path, 'string');
  }
  const syntax = res.diagnostics.some((d) => d.code === 'toml-syntax');
  assert.equal(res.config === null, syntax, 'config is null exactly when the file is not TOML');
  if (res.config) {
    for (const k of LIST_KEYS) assert.ok(Array.isArray(res.config[k]), `${k} is a list`);
    for (const k of MAP_KEYS) assert.equal(typeof res.config[k], 'object', `${k} is a map`);
    for (const v of Object.values(res.config.env)) assert.equal(typeof v, 'string');
    assert.doesNotThrow(() => JSON.stringify(res.config));
  }
}

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'retype'; at: number; value: string }
  | { kind: 'bytes'; at: number; bytes: Uint8Array };

const VALUES = [
  '1',
  '-1',
  '0',
  '1.5',
  'true',
  'false',
  '"str"',
  '""',
  '"20,25"',
  '"1gb"',
  '"5s"',
  '"stop"',
  '"443"',
  '[1, "a"]',
  '[]',
  '{ a = 1 }',
  '{}',
  '[{ name = "x", value = 1 }]',
  '1979-05-27T07:32:00Z',
  '99999999999999999999',
  'nan',
  'inf',
];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('retype' as const), at: fc.nat(), value: fc.constantFrom(...VALUES) }),
  fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
);

function mutate(text: string, m: Mutation): string {
  const lines = text.split('\n');
  const n = lines.length;
  switch (m.kind) {
    case 'delete':
      lines.splice(m.at % n, 1);
      return lines.join('\n');
    case 'duplicate':
      lines.splice(m.at % n, 0, lines[m.at % n] ?? '');
      return lines.join('\n');
    case 'swap': {
      const a = m.a % n;
      const b = m.b % n;
      [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
      return lines.join('\n');
    }
    case 'retype': {
      // change the value of the next `key = value` line at or after `at`
      for (let i = 0; i < n; i++) {
        const idx = (m.at + i) % n;
        const line = lines[idx] ?? '';
        const eq = line.indexOf('=');
        if (eq > 0 && !line.trimStart().startsWith('#')) {
          lines[idx] = `${line.slice(0, eq + 1)} ${m.value}`;
          break;
        }
      }
      return lines.join('\n');
    }
    case 'bytes': {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + String.fromCharCode(...m.bytes) + text.slice(at);
    }
  }
}

describe('normalizeAppConfig never throws', () => {
  it('1,000 random mutations of the valid fixtures give a well-formed result', () => {
    fc.assert(
      fc.property(fc.constantFrom(...FIXTURES), fc.array(mutation, { minLength: 1, maxLength: 4 }), (original, mutations) => {
        const text = mutations.reduce(mutate, original);
        const res = normalizeAppConfig(text, { path: 'fly.toml' });
        assertWellFormed(res);
        assert.deepEqual(normalizeAppConfig(text, { path: 'fly.toml' }), res, 'deterministic');
        const findings = strictFindings(text);
        assert.ok(Array.isArray(findings));
        for (const f of findings) assert.equal(typeof f.path, 'string');
      }),
      { numRuns: 1000 },
    );
  });

  it('binary garbage gives a clean result', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const latin1 = String.fromCharCode(...bytes);
        const utf8 = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
        for (const text of [latin1, utf8]) {
          assertWellFormed(normalizeAppConfig(text));
          assert.ok(Array.isArray(strictFindings(text)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary unicode strings give a clean result', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        assertWellFormed(normalizeAppConfig(text));
      }),
      { numRuns: 300 },
    );
  });

  it('the empty file is a valid empty config', () => {
    const res = normalizeAppConfig('');
    assertWellFormed(res);
    assert.deepEqual(res.diagnostics, []);
  });

  it('a 10 MB file is read in a couple of seconds', () => {
    const parts: string[] = ['app = "big"\nprimary_region = "ams"\n\n[env]\n'];
    let size = parts[0]?.length ?? 0;
    for (let i = 0; size < 10 * 1024 * 1024; i++) {
      const line = `VAR_${i} = "value ${i} ${'x'.repeat(40)}"\n`;
      parts.push(line);
      size += line.length;
    }
    parts.push('\n[http_service]\ninternal_port = 8080\n');
    const text = parts.join('');
    const start = process.hrtime.bigint();
    const res = normalizeAppConfig(text);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assertWellFormed(res);
    assert.equal(res.config?.http_service?.internal_port, 8080);
    assert.ok(ms < 4000, `took ${Math.round(ms)} ms`);
  });

  it('a 10 MB file of garbage, and one with a syntax error at its end, fail fast', () => {
    const garbage = Array.from({ length: 10 * 1024 * 1024 }, (_, i) => String.fromCharCode((i * 7919) % 256)).join('');
    const lateError = `${'# padding line of a long comment block\n'.repeat(270_000)}app = "x"\napp = "y"\n`;
    for (const text of [garbage, lateError]) {
      const start = process.hrtime.bigint();
      const res = normalizeAppConfig(text);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      assertWellFormed(res);
      assert.equal(res.config, null);
      assert.ok(ms < 4000, `took ${Math.round(ms)} ms`);
    }
  });
});
