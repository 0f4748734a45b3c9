import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateAppConfig } from '../../../src/core/config/validate.js';
import type { AppConfig, Diagnostic, TopLevelCheck } from '../../../src/core/config/types.js';
import { appConfig } from './app-config.js';

const config = (overrides: Partial<AppConfig> = {}): AppConfig => appConfig({ app: 'demo', ...overrides });

function check(overrides: Partial<TopLevelCheck> = {}): TopLevelCheck {
  return { type: 'http', port: 8080, headers: {}, processes: [], ...overrides };
}

const errors = (ds: Diagnostic[]) => ds.filter((d) => d.severity === 'error');
const messages = (ds: Diagnostic[]) => ds.map((d) => d.message);

describe('validateAppConfig: a clean config', () => {
  it('has no diagnostics', () => {
    assert.deepEqual(validateAppConfig(config()), []);
  });
});

describe('validateAppConfig: [build]', () => {
  it('warns when more than one build configuration is set, listing them in flyctl order', () => {
    const ds = validateAppConfig(config({ build: { image: 'nginx:1', builder: 'heroku/builder:22', dockerfile: 'Dockerfile.prod', builtin: 'node' } }));
    assert.deepEqual(ds, [
      {
        severity: 'warning',
        code: 'build-multiple-strategies',
        path: 'build',
        message:
          'WARN more than one build configuration found: [the "nginx:1" docker image, a buildpack, the "Dockerfile.prod" dockerfile, the "node" builtin image]',
      },
    ]);
  });

  it('counts a build-target alone as "a dockerfile" and buildpacks alone as "a buildpack"', () => {
    const ds = validateAppConfig(config({ build: { 'build-target': 'prod', buildpacks: ['gcr.io/paketo-buildpacks/nodejs'] } }));
    assert.deepEqual(messages(ds), ['WARN more than one build configuration found: [a buildpack, a dockerfile]']);
  });

  it('does not warn for a single build configuration', () => {
    assert.deepEqual(validateAppConfig(config({ build: { dockerfile: 'Dockerfile', 'build-target': 'prod' } })), []);
  });

  it('accepts gzip, zstd and empty compression, rejects anything else with flyctl wording', () => {
    for (const c of ['gzip', 'zstd', '']) assert.deepEqual(validateAppConfig(config({ build: { compression: c } })), []);
    const ds = validateAppConfig(config({ build: { compression: 'brotli' } }));
    assert.deepEqual(ds, [
      {
        severity: 'error',
        code: 'build-compression-invalid',
        path: 'build.compression',
        message: "Invalid value 'brotli' for compression. Valid options are 'gzip', 'zstd', or leave unset.",
      },
    ]);
  });

  it('accepts compression levels 0 and 9, rejects -1, 10 and 2.5', () => {
    for (const l of [0, 9]) assert.deepEqual(validateAppConfig(config({ build: { compression_level: l } })), []);
    for (const l of [-1, 10, 2.5]) {
      assert.deepEqual(messages(validateAppConfig(config({ build: { compression_level: l } }))), [
        `Invalid value '${l}' for compression level. Must be an integer between 0 and 9.`,
      ]);
    }
  });
});

describe('validateAppConfig: [deploy]', () => {
  it('accepts every supported strategy', () => {
    for (const strategy of ['canary', 'rolling', 'immediate', 'bluegreen', '']) {
      assert.deepEqual(validateAppConfig(config({ deploy: { strategy } })), []);
    }
  });

  it('rejects an unsupported strategy', () => {
    const ds = validateAppConfig(config({ deploy: { strategy: 'blue-green' } }));
    assert.deepEqual(ds, [
      {
        severity: 'error',
        code: 'deploy-strategy-unsupported',
        path: 'deploy.strategy',
        message: "unsupported deployment strategy 'blue-green'; Apps v2 supports the following strategies: canary, rolling, immediate, bluegreen",
      },
    ]);
  });

  it('rejects canary with mounts, but not canary without mounts or rolling with mounts', () => {
    const mount = { source: 'data', destination: '/data', processes: [] };
    assert.deepEqual(messages(validateAppConfig(config({ deploy: { strategy: 'canary' }, mounts: [mount] }))), [
      'error canary deployment strategy is not supported when using mounted volumes',
    ]);
    assert.deepEqual(validateAppConfig(config({ deploy: { strategy: 'canary' } })), []);
    assert.deepEqual(validateAppConfig(config({ deploy: { strategy: 'rolling' }, mounts: [mount] })), []);
  });

  it('rejects a release command that cannot be shell-split, accepts one that can', () => {
    assert.deepEqual(validateAppConfig(config({ deploy: { release_command: 'bin/rails db:migrate "VERBOSE=true"' } })), []);
    const ds = validateAppConfig(config({ deploy: { release_command: 'bin/rails db:migrate "VERBOSE=true' } }));
    assert.deepEqual(ds, [
      {
        severity: 'error',
        code: 'release-command-split',
        path: 'deploy.release_command',
        message: `Can't shell split release command: 'bin/rails db:migrate "VERBOSE=true'`,
      },
    ]);
  });
});

describe('validateAppConfig: top-level [checks]', () => {
  it('rejects a missing or invalid check type', () => {
    const bad = { type: 'script' } as unknown as Partial<TopLevelCheck>;
    const ds = validateAppConfig(config({ checks: { alive: check({ type: undefined }), legacy: check(bad) } }));
    assert.deepEqual(ds, [
      {
        severity: 'error',
        code: 'check-type-invalid',
        path: 'checks.alive.type',
        message: "Can't process top level check 'alive': Missing or invalid check type, must be 'http' or 'tcp'",
      },
      {
        severity: 'error',
        code: 'check-type-invalid',
        path: 'checks.legacy.type',
        message: "Can't process top level check 'legacy': Missing or invalid check type, must be 'http' or 'tcp'",
      },
    ]);
  });

  it('accepts tcp and http checks', () => {
    assert.deepEqual(validateAppConfig(config({ checks: { a: check({ type: 'tcp' }), b: check({ type: 'http' }) } })), []);
  });

  it('accepts an interval of exactly 2s and rejects 1.999s', () => {
    assert.deepEqual(validateAppConfig(config({ checks: { alive: check({ interval: '2s' }) } })), []);
    const ds = validateAppConfig(config({ checks: { alive: check({ interval: '1.999s' }) } }));
    assert.deepEqual(ds, [
      {
        severity: 'error',
        code: 'check-interval-too-short',
        path: 'checks.alive.interval',
        message: "Check 'alive' interval is too short: 1.999s, minimum is 2 seconds",
      },
    ]);
  });

  it('formats the interval like Go (500ms, 0s)', () => {
    assert.deepEqual(messages(validateAppConfig(config({ checks: { a: check({ interval: '500ms' }), b: check({ interval: '0s' }) } }))), [
      "Check 'a' interval is too short: 500ms, minimum is 2 seconds",
      "Check 'b' interval is too short: 0s, minimum is 2 seconds",
    ]);
  });

  it('accepts a timeout of exactly 60s and rejects 1m0.001s', () => {
    assert.deepEqual(validateAppConfig(config({ checks: { alive: check({ timeout: '1m0s' }) } })), []);
    const ds = validateAppConfig(config({ checks: { alive: check({ timeout: '1m0.001s' }) } }));
    assert.deepEqual(ds, [
      {
        severity: 'error',
        code: 'check-timeout-too-long',
        path: 'checks.alive.timeout',
        message: "Check 'alive' timeout is too long: 1m0.001s, maximum is 60 seconds",
      },
    ]);
  });

  it('reports type, interval and timeout problems of one check together', () => {
    const ds = validateAppConfig(config({ checks: { x: check({ type: undefined, interval: '1s', timeout: '2m0s' }) } }));
    assert.deepEqual(
      ds.map((d) => d.code),
      ['check-type-invalid', 'check-interval-too-short', 'check-timeout-too-long'],
    );
  });
});

describe('validateAppConfig: [processes], console_command, [[restart]]', () => {
  it('rejects a process command that cannot be shell-split, with shlex wording', () => {
    const ds = validateAppConfig(config({ processes: { web: 'bin/server', worker: "bin/worker --queue 'default", cron: '' } }));
    assert.deepEqual(ds, [
      {
        severity: 'error',
        code: 'process-command-split',
        path: 'processes.worker',
        message: "Could not parse command for 'worker' process group; check [processes] section: EOF found when expecting closing quote",
      },
    ]);
  });

  it('reports a trailing escape with its own shlex wording', () => {
    assert.deepEqual(messages(validateAppConfig(config({ processes: { app: 'run \\' } }))), [
      "Could not parse command for 'app' process group; check [processes] section: EOF found after escape character",
    ]);
  });

  it('rejects a console command that cannot be shell-split', () => {
    assert.deepEqual(validateAppConfig(config({ console_command: '/app/bin/console remote' })), []);
    assert.deepEqual(errors(validateAppConfig(config({ console_command: '"/app/bin/console remote' }))), [
      {
        severity: 'error',
        code: 'console-command-split',
        path: 'console_command',
        message: `Can't shell split console command: '"/app/bin/console remote'`,
      },
    ]);
  });

  it("accepts restart processes that exist (and 'app' without [processes]); rejects unknown ones", () => {
    assert.deepEqual(validateAppConfig(config({ restart: [{ policy: 'always', processes: ['app'] }] })), []);
    assert.deepEqual(validateAppConfig(config({ processes: { web: 'x' }, restart: [{ policy: 'never', processes: ['web'] }] })), []);
    const ds = validateAppConfig(config({ processes: { web: 'x' }, restart: [{ policy: 'on-failure', processes: ['web', 'worker'] }] }));
    assert.deepEqual(ds, [
      {
        severity: 'error',
        code: 'restart-process-unknown',
        path: 'restart[0].processes',
        message:
          "Restart policy specifies 'worker' as one of its processes, but no processes are defined with that name; update fly.toml [processes] to add 'worker' process or remove it from restart policy's processes list",
      },
    ]);
  });

  it('reports a restart policy outside the type (configs built in code)', () => {
    const restart = { policy: 'no', processes: [] } as unknown as AppConfig['restart'][number];
    assert.deepEqual(messages(validateAppConfig(config({ restart: [restart] }))), ['invalid restart policy: no']);
  });
});

describe('validateAppConfig: order', () => {
  it('reports in flyctl order: build, deploy, checks, services, processes, console, mounts, restart', () => {
    const ds = validateAppConfig(
      config({
        build: { compression: 'xz' },
        deploy: { strategy: 'fast' },
        checks: { c: check({ interval: '1s' }) },
        services: [{ protocol: 'tcp', internal_port: 8080, processes: ['nope'], ports: [{ port: 80, handlers: ['http'] }], tcp_checks: [], http_checks: [], machine_checks: [] }],
        processes: { app: '"x' },
        console_command: "'",
        mounts: [{ source: 'd', destination: '/d', snapshot_retention: 0, processes: [] }],
        restart: [{ policy: 'always', processes: ['gone'] }],
      }),
    );
    assert.deepEqual(
      ds.map((d) => d.code),
      [
        'build-compression-invalid',
        'deploy-strategy-unsupported',
        'check-interval-too-short',
        'service-process-unknown',
        'process-command-split',
        'console-command-split',
        'mount-snapshot-retention-range',
        'restart-process-unknown',
      ],
    );
  });
});
