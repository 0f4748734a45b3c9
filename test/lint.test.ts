import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';

// The lint rules encode two architecture rules; prove they fire (and don't fire on clean code).
const cwd = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd });

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

describe('lint rules', () => {
  it('rejects I/O modules imported from src/core', async () => {
    for (const mod of ['node:fs', 'fs', 'node:net', 'node:child_process', 'node:dgram', 'better-sqlite3']) {
      const ids = await ruleIds(`import * as m from '${mod}';\nexport const x = m;\n`, 'src/core/probe.ts');
      assert.ok(ids.includes('no-restricted-imports'), `${mod} should be rejected in src/core, got ${ids.join(',')}`);
    }
  });

  it('allows I/O modules outside src/core', async () => {
    const ids = await ruleIds(`import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n`, 'src/cli/probe.ts');
    assert.deepEqual(ids, []);
  });

  it('rejects shell: true and exec/execSync anywhere', async () => {
    const spawnShell = `import { spawn } from 'node:child_process';\nspawn('ls', [], { shell: true });\n`;
    assert.ok((await ruleIds(spawnShell, 'src/agent/probe.ts')).includes('no-restricted-syntax'));
    const execImport = `import { exec } from 'node:child_process';\nexport const x = exec;\n`;
    assert.ok((await ruleIds(execImport, 'src/agent/probe.ts')).includes('no-restricted-imports'));
    const execSyncImport = `import { execSync } from 'child_process';\nexport const x = execSync;\n`;
    assert.ok((await ruleIds(execSyncImport, 'src/agent/probe.ts')).includes('no-restricted-imports'));
  });

  it('accepts spawn with an argv array', async () => {
    const ok = `import { spawn } from 'node:child_process';\nspawn('ls', ['-l'], { stdio: 'inherit' });\n`;
    assert.deepEqual(await ruleIds(ok, 'src/agent/probe.ts'), []);
  });
});
