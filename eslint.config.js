// Lint rules that encode two of our habits (STYLE.md):
//  - src/core is pure: no I/O modules may be imported there;
//  - never run a shell: no child_process.exec/execSync (they always use one), no `shell: true`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'fs', 'fs/promises', 'net', 'tls', 'dgram', 'dns', 'dns/promises', 'http', 'https', 'http2',
  'child_process', 'cluster', 'worker_threads', 'readline', 'os', 'process', 'v8', 'vm', 'inspector',
];
const ioPaths = ioModules.flatMap((m) => [m, `node:${m}`]);
const ioPackages = ['better-sqlite3', 'pg', 'fastify', 'undici', 'pino'];

export const noShellSyntax = [
  {
    selector: "Property[key.name='shell'][value.value=true]",
    message: 'Never run through a shell: pass an argv array to spawn/execFile (STYLE.md habit 8).',
  },
  {
    selector: "Property[key.name='shell'][value.type='Literal'][value.value=/./]",
    message: 'Never run through a shell: pass an argv array to spawn/execFile (STYLE.md habit 8).',
  },
];

const noExecImports = {
  paths: ['child_process', 'node:child_process'].map((name) => ({
    name,
    importNames: ['exec', 'execSync'],
    message: 'exec/execSync always run a shell: use execFile/spawn with an argv array (STYLE.md habit 8).',
  })),
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/lint/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly' } },
    rules: {
      'no-restricted-syntax': ['error', ...noShellSyntax],
      'no-restricted-imports': ['error', noExecImports],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...ioPaths.map((name) => ({ name, message: 'src/core is pure: do I/O at the edges, not in the core (ARCHITECTURE.md).' })),
            ...ioPackages.map((name) => ({ name, message: 'src/core is pure: do I/O at the edges, not in the core (ARCHITECTURE.md).' })),
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'src/core is pure: pass environment and arguments in.' }, { name: 'fetch', message: 'src/core is pure.' }],
    },
  },
);
