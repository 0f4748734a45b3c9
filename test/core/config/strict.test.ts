/**
 * `--strict`: keys flyctl does not know, after flyctl's patches, as `<section>` or
 * `<path>.<key>` with array indexes and map keys (reference §1b), plus Hangar-only forms noted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeAppConfig, strictFindings } from '../../../src/core/config/index.js';
import type { StrictFinding } from '../../../src/core/config/types.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/config/', import.meta.url));

const byPath = (a: StrictFinding, b: StrictFinding): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

describe('strictFindings', () => {
  it('lists unknown keys at every depth (fixture strict/unknown-keys)', () => {
    const text = readFileSync(join(FIXTURES, 'strict', 'unknown-keys.toml'), 'utf8');
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'strict', 'unknown-keys.expected.json'), 'utf8')) as StrictFinding[];
    assert.deepEqual([...strictFindings(text)].sort(byPath), [...expected].sort(byPath));
  });

  it('normal decoding ignores the same unknown keys', () => {
    const text = readFileSync(join(FIXTURES, 'strict', 'unknown-keys.toml'), 'utf8');
    const res = normalizeAppConfig(text);
    assert.deepEqual(
      res.diagnostics.filter((d) => d.code === 'type' || d.code === 'toml-syntax'),
      [],
    );
    assert.equal(res.config?.build?.['build-target'], 'release');
    assert.equal(res.config?.kill_timeout, '5s');
  });

  it('finds nothing in the valid fixtures except their Hangar-only forms', () => {
    const dir = join(FIXTURES, 'valid');
    const found: Record<string, StrictFinding[]> = {};
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.toml'))) {
      const findings = strictFindings(readFileSync(join(dir, f), 'utf8'));
      if (findings.length > 0) found[f] = findings;
    }
    assert.deepEqual(found, {
      'http-service-checks-table.toml': [
        { path: 'http_service.checks', note: 'Fly expects [[http_service.checks]]; Hangar reads a single [http_service.checks] table as one check' },
      ],
      // legacy keys that real files carry and flyctl ignores
      'legacy-experimental.toml': [{ path: 'experimental.private_network' }],
      'node-legacy.toml': [
        { path: 'experimental.allowed_public_ports' },
        { path: 'services[0].script_checks' },
        { path: 'services[0].tcp_checks[0].restart_limit' },
      ],
      'game-udp.toml': [{ path: 'services[2].ports[0].protocol' }],
      'vm-override.toml': [{ path: 'vm[0].override', note: 'Fly ignores [[vm.override]]; Hangar applies it' }],
    });
  });

  it('reports unknown top-level keys as sections and map keys in paths', () => {
    assert.deepEqual(strictFindings('foo = 1\n[bar]\nx = 1\n[checks.web]\ntype = "http"\nbogus = true\n'), [
      { path: 'bar' },
      { path: 'checks.web.bogus' },
      { path: 'foo' },
    ]);
  });

  it('accepts the alias and legacy spellings flyctl patches', () => {
    const text = [
      'processes = [{ name = "web", command = "x" }]',
      'checks = [{ name = "a", type = "tcp", port = 1 }]',
      '[build]',
      'build_target = "t"',
      '[experimental]',
      'kill_timeout = 5',
      'metrics_port = 9091',
      'metrics_path = "/m"',
      '[[compute]]',
      'size = "shared-cpu-1x"',
      '[[computes]]',
      'memory = 512',
      '[metric]',
      'port = 1',
      '[mount]',
      'source = "d"',
      'destination = "/d"',
      '[services]',
      'concurrency = "20,25"',
    ].join('\n');
    assert.deepEqual(strictFindings(text), []);
  });

  it('a file that is not TOML has no findings (its syntax error is reported elsewhere)', () => {
    assert.deepEqual(strictFindings('app = "a"\napp = "b"\n'), []);
    assert.deepEqual(strictFindings('\u0000\u0001'), []);
  });
});
