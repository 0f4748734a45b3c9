// Golden plans. The web-worker example's AppConfig is written out by hand here (what the
// normalizer makes of examples/web-worker/fly.toml) so the planner is checked against the
// hand-checked machines.expected.json independently of the normalizer; the CLI test checks the
// same file end to end from the TOML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { planMachineConfigs } from '../../../src/core/config/plan.js';
import type { AppConfig } from '../../../src/core/config/types.js';

const repoRoot = new URL('../../../../', import.meta.url);

const webWorker: AppConfig = {
  app: 'web-worker-demo',
  primary_region: 'ams',
  kill_signal: 'SIGTERM',
  kill_timeout: '30s',
  swap_size_mb: 512,
  build: { image: 'registry.example.com/web-worker-demo:1.4.2' },
  deploy: { strategy: 'rolling', release_command: "bin/rails db:migrate VERBOSE='true'" },
  env: { LOG_LEVEL: 'info', PORT: '8080' },
  processes: { web: 'bundle exec puma -C config/puma.rb', worker: "bundle exec sidekiq -q default -q 'mailers'" },
  http_service: {
    internal_port: 8080,
    force_https: true,
    auto_stop_machines: 'stop',
    auto_start_machines: true,
    min_machines_running: 1,
    processes: ['web'],
    concurrency: { type: 'requests', soft_limit: 200, hard_limit: 250 },
    http_options: { compress: true },
    tls_options: { alpn: ['h2', 'http/1.1'] },
    checks: [{ interval: '15s', timeout: '2s', grace_period: '10s', method: 'GET', path: '/up', headers: { 'X-Health': 'fly' } }],
    machine_checks: [],
  },
  services: [],
  checks: {
    web_alive: { type: 'http', processes: ['web'], interval: '30s', timeout: '5s', method: 'get', path: '/healthz', headers: {} },
    worker_metrics: { type: 'tcp', port: 9394, processes: ['worker'], interval: '20s', timeout: '2s', headers: {} },
  },
  vm: [
    { size: 'shared-cpu-2x', memory: '1gb', processes: ['web'], origin: 'vm[0]' },
    { size: 'performance-1x', memory_mb: 4096, processes: ['worker'], origin: 'vm[1]' },
  ],
  mounts: [
    {
      source: 'worker_data',
      destination: '/data',
      initial_size: '10gb',
      auto_extend_size_threshold: 80,
      auto_extend_size_increment: '1GB',
      auto_extend_size_limit: '50GB',
      processes: ['worker'],
    },
  ],
  restart: [
    { policy: 'always', processes: ['web'] },
    { policy: 'on-failure', retries: 5, processes: ['worker'] },
  ],
  statics: [{ guest_path: '/app/public', url_prefix: '/static/' }],
  metrics: [{ port: 9394, path: '/metrics', processes: ['worker'] }],
  files: [
    { guest_path: '/etc/motd', raw_value: 'Welcome to web-worker-demo\n', processes: [] },
    { guest_path: '/etc/sidekiq/limits.json', raw_value: '{"default": 10, "mailers": 2}', processes: ['worker'] },
  ],
  machine_checks: [],
};

test('golden: examples/web-worker plans to machines.expected.json', () => {
  const expected: unknown = JSON.parse(readFileSync(new URL('examples/web-worker/machines.expected.json', repoRoot), 'utf8'));
  const plan = planMachineConfigs(webWorker, { image: 'registry.example.com/web-worker-demo:1.4.2' });
  assert.deepEqual(plan.diagnostics, []);
  assert.deepEqual({ groups: plan.groups, release_command: plan.release_command ?? null }, expected);
});

test('golden: an app without [processes] (one http_service, one volume, no release command)', () => {
  const config: AppConfig = {
    app: 'solo',
    primary_region: 'fra',
    env: { NODE_ENV: 'production' },
    http_service: { internal_port: 3000, force_https: true, auto_stop_machines: 'off', processes: [], checks: [], machine_checks: [] },
    services: [],
    checks: { alive: { type: 'tcp', headers: {}, processes: [] } },
    processes: {},
    mounts: [{ source: 'data', destination: '/data', processes: [] }],
    vm: [{ memory: '512mb', processes: [] }],
    restart: [],
    metrics: [],
    statics: [],
    files: [],
    machine_checks: [],
  };
  const plan = planMachineConfigs(config, { image: 'registry.fly.io/solo:deployment-1', flyctlVersion: '0.3.200' });
  assert.deepEqual(plan, {
    groups: {
      app: {
        image: 'registry.fly.io/solo:deployment-1',
        env: { FLY_PROCESS_GROUP: 'app', NODE_ENV: 'production', PRIMARY_REGION: 'fra' },
        guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 512 },
        mounts: [{ name: 'data', path: '/data' }],
        services: [
          {
            protocol: 'tcp',
            internal_port: 3000,
            ports: [
              { port: 80, handlers: ['http'], force_https: true },
              { port: 443, handlers: ['http', 'tls'] },
            ],
            autostop: false,
          },
        ],
        checks: { alive: { type: 'tcp', port: 3000 } },
        metadata: { fly_flyctl_version: '0.3.200', fly_platform_version: 'v2', fly_process_group: 'app' },
      },
    },
    diagnostics: [],
  });
});
