import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, HangarError, type ErrorCode } from '../../src/core/errors.js';

// Keeps docs/errors.md and the registry in sync (STYLE.md habit 5, like fastify's errors test).
const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map<string, { http: number; user: boolean }>();
for (const m of doc.matchAll(/^\| `(HANGAR_ERR_[A-Z0-9_]+)` \| (\d{3}) \| (user|system) \|/gm)) {
  documented.set(m[1]!, { http: Number(m[2]), user: m[3] === 'user' });
}

describe('error registry', () => {
  it('documents every code with its HTTP status and fault', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      const d = documented.get(code);
      assert.ok(d, `${code} is missing from docs/errors.md`);
      assert.equal(d.http, spec.http, `${code}: HTTP status differs between registry and docs`);
      assert.equal(d.user, spec.user, `${code}: user/system differs between registry and docs`);
    }
  });

  it('documents no code the registry lacks', () => {
    for (const code of documented.keys()) assert.ok(code in ERRORS, `docs/errors.md lists unknown code ${code}`);
  });

  it('gives every code a suggestion and a 4xx/5xx status matching its fault', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      assert.ok(spec.suggestion.length > 10, `${code} needs a suggestion`);
      if (spec.user) assert.ok(spec.http >= 400 && spec.http < 500, `${code}: user errors are 4xx`);
      else assert.ok(spec.http >= 500, `${code}: system errors are 5xx`);
    }
  });

  it('carries code, cause and details', () => {
    const cause = new Error('root');
    const e = new HangarError('HANGAR_ERR_CONFIG_INVALID' satisfies ErrorCode, 'bad', { cause, details: ['a'] });
    assert.equal(e.code, 'HANGAR_ERR_CONFIG_INVALID');
    assert.equal(e.cause, cause);
    assert.deepEqual(e.details, ['a']);
    assert.match(e.suggestion, /validate/);
  });
});
