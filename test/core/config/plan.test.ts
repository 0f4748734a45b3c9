import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMachineConfigs } from '../../../src/core/config/plan.js';
import type { AppConfig, HttpService, Service, TopLevelCheck } from '../../../src/core/config/types.js';
import type { MachineConfig } from '../../../src/core/fly/machine-config.js';
import { appConfig } from './app-config.js';

const makeConfig = appConfig;

function httpService(fields: Partial<HttpService> = {}): HttpService {
  return { internal_port: 8080, processes: [], checks: [], machine_checks: [], ...fields };
}

function service(fields: Partial<Service> = {}): Service {
  return { protocol: 'tcp', internal_port: 5432, processes: [], ports: [], tcp_checks: [], http_checks: [], machine_checks: [], ...fields };
}

function check(fields: Partial<TopLevelCheck> = {}): TopLevelCheck {
  return { headers: {}, processes: [], ...fields };
}

function planApp(config: AppConfig, opts: Partial<Parameters<typeof planMachineConfigs>[1]> = {}): MachineConfig {
  const plan = planMachineConfigs(config, { image: 'img:1', ...opts });
  assert.deepEqual(plan.diagnostics, []);
  const app = plan.groups.app;
  assert.ok(app);
  return app;
}

/** No value anywhere in the output is undefined or null. */
function assertNoEmptyValues(value: unknown, path = '$'): void {
  assert.notEqual(value, undefined, `${path} is undefined`);
  assert.notEqual(value, null, `${path} is null`);
  if (Array.isArray(value)) value.forEach((v, i) => assertNoEmptyValues(v, `${path}[${i}]`));
  else if (typeof value === 'object') for (const [k, v] of Object.entries(value as object)) assertNoEmptyValues(v, `${path}.${k}`);
}

test('a minimal app: image, env, default guest, metadata and nothing else', () => {
  const app = planApp(makeConfig());
  assert.deepEqual(app, {
    image: 'img:1',
    env: { FLY_PROCESS_GROUP: 'app' },
    guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
    metadata: { fly_platform_version: 'v2', fly_process_group: 'app' },
  });
});

test('env: [env] + FLY_PROCESS_GROUP + PRIMARY_REGION; platform values win', () => {
  const app = planApp(
    makeConfig({ primary_region: 'ams', env: { A: '1', FLY_PROCESS_GROUP: 'mine', PRIMARY_REGION: 'lhr' } }),
  );
  assert.deepEqual(app.env, { A: '1', FLY_PROCESS_GROUP: 'app', PRIMARY_REGION: 'ams' });
  // without primary_region the [env] value stays
  assert.equal(planApp(makeConfig({ env: { PRIMARY_REGION: 'lhr' } })).env?.PRIMARY_REGION, 'lhr');
});

test('metadata: fly_flyctl_version only when given', () => {
  assert.deepEqual(planApp(makeConfig(), { flyctlVersion: '0.3.1' }).metadata, {
    fly_flyctl_version: '0.3.1',
    fly_platform_version: 'v2',
    fly_process_group: 'app',
  });
});

test('init.cmd is the shell-split [processes] command', () => {
  const plan = planMachineConfigs(makeConfig({ processes: { app: `bin/server --name "my app" 'x y'` } }), { image: 'i' });
  assert.deepEqual(plan.groups.app?.init, { cmd: ['bin/server', '--name', 'my app', 'x y'] });
});

test('init.cmd falls back to [experimental] cmd when the group command is empty or absent', () => {
  const experimental = { cmd: ['exp', 'cmd'], entrypoint: ['/entry'], exec: ['/bin/exec'] };
  const empty = planMachineConfigs(makeConfig({ processes: { app: '' }, experimental }), { image: 'i' });
  assert.deepEqual(empty.groups.app?.init, { cmd: ['exp', 'cmd'], entrypoint: ['/entry'], exec: ['/bin/exec'] });
  const absent = planApp(makeConfig({ experimental }));
  assert.deepEqual(absent.init?.cmd, ['exp', 'cmd']);
  const own = planMachineConfigs(makeConfig({ processes: { app: 'run me' }, experimental }), { image: 'i' });
  assert.deepEqual(own.groups.app?.init?.cmd, ['run', 'me']);
});

test('empty command and no [experimental]: no init at all', () => {
  const plan = planMachineConfigs(makeConfig({ processes: { app: '' } }), { image: 'i' });
  assert.equal(plan.groups.app?.init, undefined);
});

test('swap_size_mb → init.swap_size_mb', () => {
  assert.deepEqual(planApp(makeConfig({ swap_size_mb: 512 })).init, { swap_size_mb: 512 });
});

test('a command that does not split is a wrapped plan error', () => {
  const plan = planMachineConfigs(makeConfig({ processes: { web: 'echo "unterminated' } }), { image: 'i' });
  assert.deepEqual(plan.diagnostics, [
    {
      severity: 'error',
      code: 'plan-command',
      path: 'processes.web',
      message:
        "Converting to machine in process group 'web' will fail because of: could not parse command for web process group: EOF found when expecting closing quote",
    },
  ]);
});

test('guest from the matching [[vm]]; an invalid size is a wrapped plan error at the entry path', () => {
  assert.deepEqual(planApp(makeConfig({ vm: [{ size: 'performance-2x', processes: [] }] })).guest, {
    cpu_kind: 'performance',
    cpus: 2,
    memory_mb: 4096,
  });
  const plan = planMachineConfigs(makeConfig({ vm: [{ size: 'shared-cpu-3x', processes: [], origin: 'vm[0]' }] }), { image: 'i' });
  assert.equal(plan.diagnostics.length, 1);
  assert.equal(plan.diagnostics[0]?.path, 'vm[0]');
  assert.equal(plan.diagnostics[0]?.code, 'plan-vm');
  assert.match(plan.diagnostics[0]?.message ?? '', /^Converting to machine in process group 'app' will fail because of: 'shared-cpu-3x' is an invalid machine size/);
  const zero = planMachineConfigs(makeConfig({ vm: [{ memory: '0', processes: [] }] }), { image: 'i' });
  assert.equal(zero.diagnostics[0]?.message, "Converting to machine in process group 'app' will fail because of: memory cannot be zero");
  assert.equal(zero.diagnostics[0]?.path, 'vm[0]', 'index used when no origin');
});

test('no [[vm]]: shared-cpu-1x guest, with the app host_dedication_id', () => {
  assert.deepEqual(planApp(makeConfig({ host_dedication_id: 'h1' })).guest, {
    cpu_kind: 'shared',
    cpus: 1,
    memory_mb: 256,
    host_dedication_id: 'h1',
  });
});

test('[http_service] expands to one tcp service with ports 80 and 443', () => {
  const app = planApp(
    makeConfig({
      http_service: httpService({
        internal_port: 3000,
        force_https: true,
        auto_stop_machines: 'suspend',
        auto_start_machines: false,
        min_machines_running: 2,
        concurrency: { type: 'connections', soft_limit: 20 },
        http_options: { h2_backend: true, response: { headers: { 'X-A': 'b', Server: false }, pristine: true } },
        tls_options: { versions: ['TLSv1.3'], default_self_signed: true },
      }),
    }),
  );
  assert.deepEqual(app.services, [
    {
      protocol: 'tcp',
      internal_port: 3000,
      ports: [
        {
          port: 80,
          handlers: ['http'],
          force_https: true,
          http_options: { h2_backend: true, response: { headers: { 'X-A': 'b', Server: false }, pristine: true } },
        },
        {
          port: 443,
          handlers: ['http', 'tls'],
          http_options: { h2_backend: true, response: { headers: { 'X-A': 'b', Server: false }, pristine: true } },
          tls_options: { versions: ['TLSv1.3'], default_self_signed: true },
        },
      ],
      concurrency: { type: 'connections', soft_limit: 20 },
      autostop: 'suspend',
      autostart: false,
      min_machines_running: 2,
    },
  ]);
});

test('force_https only when true; absent options leave no keys', () => {
  const app = planApp(makeConfig({ http_service: httpService({ force_https: false }) }));
  assert.deepEqual(app.services?.[0]?.ports, [
    { port: 80, handlers: ['http'] },
    { port: 443, handlers: ['http', 'tls'] },
  ]);
  assert.deepEqual(Object.keys(app.services?.[0] ?? {}), ['protocol', 'internal_port', 'ports']);
});

test('autostop on the wire: off → false, stop → true, suspend → "suspend"', () => {
  const modes = { off: false, stop: true, suspend: 'suspend' } as const;
  for (const [mode, wire] of Object.entries(modes)) {
    const app = planApp(makeConfig({ services: [service({ auto_stop_machines: mode as keyof typeof modes })] }));
    assert.equal(app.services?.[0]?.autostop, wire);
  }
});

test('http_service comes first, then [[services]] in order', () => {
  const app = planApp(
    makeConfig({
      http_service: httpService(),
      services: [service({ internal_port: 1 }), service({ internal_port: 2, protocol: 'udp' })],
    }),
  );
  assert.deepEqual(
    app.services?.map((s) => [s.protocol, s.internal_port]),
    [
      ['tcp', 8080],
      ['tcp', 1],
      ['udp', 2],
    ],
  );
});

test('[[services]] ports keep every option; empty handlers are left out', () => {
  const app = planApp(
    makeConfig({
      services: [
        service({
          ports: [
            { port: 5432, handlers: ['pg_tls'] },
            { start_port: 10000, end_port: 10010, handlers: [], proxy_proto_options: { version: 'v2' } },
          ],
          concurrency: { type: 'requests', hard_limit: 30 },
        }),
      ],
    }),
  );
  assert.deepEqual(app.services?.[0], {
    protocol: 'tcp',
    internal_port: 5432,
    ports: [
      { port: 5432, handlers: ['pg_tls'] },
      { start_port: 10000, end_port: 10010, proxy_proto_options: { version: 'v2' } },
    ],
    concurrency: { type: 'requests', hard_limit: 30 },
  });
});

test('service checks: tcp first, then http; headers map → [{name, values}]', () => {
  const app = planApp(
    makeConfig({
      services: [
        service({
          http_checks: [
            {
              interval: '10s',
              timeout: '2s',
              method: 'get',
              path: '/health',
              protocol: 'https',
              tls_skip_verify: true,
              tls_server_name: 'example.com',
              headers: { 'X-B': '2', 'X-A': '1' },
            },
          ],
          tcp_checks: [{ interval: '15s', timeout: '1s', grace_period: '1m0s' }],
        }),
      ],
    }),
  );
  assert.deepEqual(app.services?.[0]?.checks, [
    { type: 'tcp', interval: '15s', timeout: '1s', grace_period: '1m0s' },
    {
      type: 'http',
      interval: '10s',
      timeout: '2s',
      method: 'get',
      path: '/health',
      protocol: 'https',
      tls_skip_verify: true,
      tls_server_name: 'example.com',
      headers: [
        { name: 'X-A', values: ['1'] },
        { name: 'X-B', values: ['2'] },
      ],
    },
  ]);
});

test('http_service checks become http service checks; machine_checks are not sent', () => {
  const app = planApp(
    makeConfig({
      http_service: httpService({
        checks: [{ path: '/up', headers: {} }],
        machine_checks: [{ command: ['curl', 'localhost'] }],
      }),
    }),
  );
  assert.deepEqual(app.services?.[0]?.checks, [{ type: 'http', path: '/up' }]);
});

test('top-level checks: method uppercased, no kind, port from http_service when missing', () => {
  const app = planApp(
    makeConfig({
      http_service: httpService({ internal_port: 4000 }),
      checks: {
        web: check({ type: 'http', method: 'get', path: '/', interval: '30s', headers: { Host: 'x' } }),
        db: check({ type: 'tcp', port: 5432, grace_period: '5s' }),
      },
    }),
  );
  assert.deepEqual(app.checks, {
    db: { type: 'tcp', port: 5432, grace_period: '5s' },
    web: { type: 'http', port: 4000, interval: '30s', method: 'GET', path: '/', headers: [{ name: 'Host', values: ['x'] }] },
  });
});

test("top-level check without port and no http_service is flyctl's plan error", () => {
  const plan = planMachineConfigs(makeConfig({ checks: { alive: check({ type: 'tcp' }) } }), { image: 'i' });
  assert.deepEqual(plan.diagnostics, [
    {
      severity: 'error',
      code: 'plan-check-port',
      path: 'checks.alive',
      message:
        "Converting to machine in process group 'app' will fail because of: Check 'alive' for process group 'app' has no port set and the group has no http_service to take it from",
    },
  ]);
  assert.equal(plan.groups.app?.checks, undefined);
});

test('top-level check without a type is a plan error', () => {
  const plan = planMachineConfigs(makeConfig({ checks: { old: check({ port: 1 }) } }), { image: 'i' });
  assert.equal(plan.diagnostics[0]?.code, 'plan-check-type');
  assert.equal(
    plan.diagnostics[0]?.message,
    "Converting to machine in process group 'app' will fail because of: Missing or invalid check type, must be 'http' or 'tcp'",
  );
});

test('first matching [[metrics]] → metrics; https only when true', () => {
  const app = planApp(
    makeConfig({
      metrics: [
        { port: 9091, path: '/metrics', https: false, processes: [] },
        { port: 9092, path: '/other', processes: [] },
      ],
    }),
  );
  assert.deepEqual(app.metrics, { port: 9091, path: '/metrics' });
  const https = planApp(makeConfig({ metrics: [{ port: 1, path: '/m', https: true, processes: [] }] }));
  assert.deepEqual(https.metrics, { port: 1, path: '/m', https: true });
});

test('[[statics]] → statics, optional keys only when set', () => {
  const app = planApp(
    makeConfig({
      statics: [
        { guest_path: '/app/public', url_prefix: '/' },
        { guest_path: '/srv', url_prefix: '/s', tigris_bucket: 'b', index_document: 'index.html' },
      ],
    }),
  );
  assert.deepEqual(app.statics, [
    { guest_path: '/app/public', url_prefix: '/' },
    { guest_path: '/srv', url_prefix: '/s', tigris_bucket: 'b', index_document: 'index.html' },
  ]);
});

test('[[files]]: raw_value base64 (UTF-8), secret_name as is, local_path through the reader', () => {
  const reads: string[] = [];
  const app = planApp(
    makeConfig({
      files: [
        { guest_path: '/a', raw_value: 'héllo\n', processes: [] },
        { guest_path: '/b', secret_name: 'TLS_KEY', processes: [] },
        { guest_path: '/c', local_path: 'conf/c.txt', processes: [] },
        { guest_path: '/d', local_path: 'bin.dat', processes: [] },
      ],
    }),
    {
      readLocalFile: (p) => {
        reads.push(p);
        return p === 'bin.dat' ? new Uint8Array([0, 255, 1]) : 'from disk';
      },
    },
  );
  assert.deepEqual(app.files, [
    { guest_path: '/a', raw_value: 'aMOpbGxvCg==' },
    { guest_path: '/b', secret_name: 'TLS_KEY' },
    { guest_path: '/c', raw_value: 'ZnJvbSBkaXNr' },
    { guest_path: '/d', raw_value: 'AP8B' },
  ]);
  assert.deepEqual(reads, ['conf/c.txt', 'bin.dat']);
});

test('[[files]] with the same guest_path: the later one wins', () => {
  const app = planApp(
    makeConfig({
      files: [
        { guest_path: '/a', raw_value: 'one', processes: [] },
        { guest_path: '/b', raw_value: 'b', processes: [] },
        { guest_path: '/a', raw_value: 'two', processes: [] },
      ],
    }),
  );
  assert.deepEqual(app.files, [
    { guest_path: '/a', raw_value: 'dHdv' },
    { guest_path: '/b', raw_value: 'Yg==' },
  ]);
});

test('a local_path the reader cannot read is a plan error; no reader is a warning', () => {
  const config = makeConfig({ files: [{ guest_path: '/x', local_path: 'missing.txt', processes: [] }] });
  const failed = planMachineConfigs(config, { image: 'i', readLocalFile: () => undefined });
  assert.deepEqual(failed.diagnostics, [
    {
      severity: 'error',
      code: 'plan-file-unreadable',
      path: 'files[0].local_path',
      message: "Converting to machine in process group 'app' will fail because of: could not read file missing.txt",
    },
  ]);
  assert.equal(failed.groups.app?.files, undefined);
  const noReader = planMachineConfigs(config, { image: 'i' });
  assert.equal(noReader.diagnostics.length, 1);
  assert.equal(noReader.diagnostics[0]?.severity, 'warning');
  assert.equal(noReader.diagnostics[0]?.code, 'plan-file-not-read');
});

test('[[mounts]] → mounts with name, path and auto-extend sizes in GB', () => {
  const app = planApp(
    makeConfig({
      mounts: [
        {
          source: 'data',
          destination: '/data',
          initial_size: '10gb',
          auto_extend_size_threshold: 80,
          auto_extend_size_increment: '2GB',
          auto_extend_size_limit: '100',
          processes: [],
        },
      ],
    }),
  );
  assert.deepEqual(app.mounts, [{ name: 'data', path: '/data', extend_threshold_percent: 80, add_size_gb: 2, size_gb_limit: 100 }]);
  const plain = planApp(makeConfig({ mounts: [{ source: 'v', destination: '/v', processes: [] }] }));
  assert.deepEqual(plain.mounts, [{ name: 'v', path: '/v' }]);
});

test('kill_signal/kill_timeout → stop_config, omitted when neither is set', () => {
  assert.deepEqual(planApp(makeConfig({ kill_signal: 'SIGTERM', kill_timeout: '1m0s' })).stop_config, { signal: 'SIGTERM', timeout: '1m0s' });
  assert.deepEqual(planApp(makeConfig({ kill_timeout: '5s' })).stop_config, { timeout: '5s' });
  assert.deepEqual(planApp(makeConfig({ kill_signal: 'SIGINT' })).stop_config, { signal: 'SIGINT' });
  assert.equal(planApp(makeConfig()).stop_config, undefined);
});

test('[[restart]]: never → no, retries → max_retries, last match wins', () => {
  assert.deepEqual(planApp(makeConfig({ restart: [{ policy: 'never', processes: [] }] })).restart, { policy: 'no' });
  assert.deepEqual(
    planApp(
      makeConfig({
        restart: [
          { policy: 'always', processes: [] },
          { policy: 'on-failure', retries: 3, processes: [] },
        ],
      }),
    ).restart,
    { policy: 'on-failure', max_retries: 3 },
  );
});

test('an unknown restart policy is a plan error', () => {
  const bogus = { policy: 'no', processes: [] } as unknown as AppConfig['restart'][number];
  const plan = planMachineConfigs(makeConfig({ restart: [bogus] }), { image: 'i' });
  assert.deepEqual(plan.diagnostics, [
    {
      severity: 'error',
      code: 'plan-restart',
      path: 'restart[0].policy',
      message: "Converting to machine in process group 'app' will fail because of: invalid restart policy: no",
    },
  ]);
});

test('machine_config JSON is the base: unmanaged fields kept, managed ones replaced', () => {
  const base = JSON.stringify({
    dns: { nameservers: ['1.1.1.1'] },
    guest: { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 },
    env: { DROPPED: '1' },
    metadata: { team: 'core', fly_process_group: 'x' },
    init: { tty: true, cmd: ['dropped'] },
    schedule: 'daily',
  });
  const app = planApp(makeConfig({ machine_config: base, experimental: { cmd: ['run'] } }));
  assert.deepEqual(app, {
    image: 'img:1',
    env: { FLY_PROCESS_GROUP: 'app' },
    init: { tty: true, cmd: ['run'] },
    guest: { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 },
    metadata: { fly_platform_version: 'v2', fly_process_group: 'app', team: 'core' },
    dns: { nameservers: ['1.1.1.1'] },
    schedule: 'daily',
  });
});

test('[experimental] machine_config wins; a .json path is read through the reader', () => {
  const app = planApp(makeConfig({ machine_config: '{"schedule":"hourly"}', experimental: { machine_config: 'mc.json' } }), {
    readLocalFile: (p) => (p === 'mc.json' ? '{"schedule":"weekly"}' : undefined),
  });
  assert.equal(app.schedule, 'weekly');
});

test('machine_config errors are plan errors', () => {
  const cases: [Partial<AppConfig>, string, string][] = [
    [{ machine_config: 'nonsense' }, 'machine_config', 'invalid machine config source: "nonsense"'],
    [{ machine_config: '{not json' }, 'machine_config', 'invalid machine config "{not json": '],
    [{ experimental: { machine_config: 'gone.json' } }, 'experimental.machine_config', 'could not read machine config file gone.json'],
  ];
  for (const [fields, path, prefix] of cases) {
    const plan = planMachineConfigs(makeConfig(fields), { image: 'i', readLocalFile: () => undefined });
    assert.equal(plan.diagnostics.length, 1);
    assert.equal(plan.diagnostics[0]?.code, 'plan-machine-config');
    assert.equal(plan.diagnostics[0]?.path, path);
    assert.ok(plan.diagnostics[0]?.message.startsWith(prefix), plan.diagnostics[0]?.message);
  }
});

test('every value of a full plan is defined and not null', () => {
  const plan = planMachineConfigs(
    makeConfig({
      primary_region: 'ams',
      http_service: httpService({ checks: [{ headers: {} }] }),
      services: [service({ tcp_checks: [{}] })],
      checks: { c: check({ type: 'tcp' }) },
      mounts: [{ source: 's', destination: '/d', processes: [] }],
      files: [{ guest_path: '/f', processes: [] }],
      statics: [{ guest_path: '/g', url_prefix: '/' }],
      deploy: { release_command: 'migrate' },
    }),
    { image: 'i' },
  );
  assert.deepEqual(plan.diagnostics, []);
  assertNoEmptyValues(plan.groups);
  assertNoEmptyValues(plan.release_command);
});

test('the planner does not change its input', () => {
  const config = makeConfig({
    http_service: httpService({ http_options: { compress: true } }),
    vm: [{ size: 'shared-cpu-2x', processes: [] }],
    env: { A: 'b' },
  });
  const before = structuredClone(config);
  const plan = planMachineConfigs(config, { image: 'i' });
  const opts = plan.groups.app?.services?.[0]?.ports?.[0]?.http_options;
  assert.ok(opts);
  opts.compress = false; // changing the output must not reach the input either
  const guest = plan.groups.app?.guest;
  assert.ok(guest);
  guest.cpus = 99;
  assert.deepEqual(config, before);
  assert.equal(planMachineConfigs(config, { image: 'i' }).groups.app?.guest?.cpus, 2);
});
