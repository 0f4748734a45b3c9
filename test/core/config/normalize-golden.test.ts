/**
 * Golden fixtures: each `test/fixtures/config/valid/<name>.toml` normalizes to exactly
 * `<name>.expected.json` (written by hand from reference §1b/§5, not dumped from the code).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeAppConfig } from '../../../src/core/config/index.js';

// Compiled to dist/test/core/config/: the fixtures stay in the source tree.
const VALID = fileURLToPath(new URL('../../../../test/fixtures/config/valid/', import.meta.url));

/** Diagnostics the normalizer itself produces (the rest come from validate.ts). */
const DECODE_CODES = new Set(['toml-syntax', 'type', 'too-deep', 'unsafe-key', 'internal']);

const files = readdirSync(VALID)
  .filter((f) => f.endsWith('.toml'))
  .sort();

describe('normalizeAppConfig: golden fixtures', () => {
  it('covers the stacks and legacy forms of reference §5', () => {
    for (const name of [
      'rails',
      'phoenix',
      'django',
      'node-legacy',
      'go-api',
      'postgres',
      'game-udp',
      'gpu-inference',
      'legacy-experimental',
      'legacy-service-table',
      'legacy-lists',
      'aliases',
      'dotted-vm',
      'concurrency-only',
      'vm-override',
      'http-service-checks-table',
      'autostop-forms',
      'full-reference',
      'empty',
      'no-app',
    ]) {
      assert.ok(files.includes(`${name}.toml`), `missing fixture ${name}.toml`);
    }
  });

  for (const file of files) {
    it(file, () => {
      const text = readFileSync(join(VALID, file), 'utf8');
      const expected: unknown = JSON.parse(readFileSync(join(VALID, file.replace(/\.toml$/, '.expected.json')), 'utf8'));
      const result = normalizeAppConfig(text, { path: file });
      assert.deepEqual(
        result.diagnostics.filter((d) => DECODE_CODES.has(d.code)),
        [],
      );
      assert.deepEqual(result.config, expected);
    });
  }
});
