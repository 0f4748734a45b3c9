import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSecretArgs, parseSecretsText } from '../../../../src/cli/commands/secrets/parse.js';

describe('secrets parsing', () => {
  it('reads NAME=VALUE arguments', () => {
    assert.deepEqual(parseSecretArgs(['A=1', 'DATABASE_URL=postgres://u:p@h/db?x=y']), { A: '1', DATABASE_URL: 'postgres://u:p@h/db?x=y' });
    assert.throws(() => parseSecretArgs(['A']), /expected NAME=VALUE/);
    assert.throws(() => parseSecretArgs(['1A=x']), /invalid secret name "1A"/);
  });

  it('reads import text with comments, blank lines and """ values', () => {
    const text = '# comment\nA=1\n\nKEY="""line one\nline two"""\nB=two words\n';
    assert.deepEqual(parseSecretsText(text), { A: '1', KEY: 'line one\nline two', B: 'two words' });
  });

  it('names the line of a bad entry', () => {
    assert.throws(() => parseSecretsText('A=1\nnot a pair\n'), /line 2: expected NAME=VALUE/);
    assert.throws(() => parseSecretsText('K="""open\nstill open\n'), /line 1: the """ value of K is never closed/);
  });
});
