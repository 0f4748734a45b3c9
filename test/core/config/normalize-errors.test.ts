/**
 * Decoding problems: every one is reported at once with its key path (code `type`), in flyctl's
 * words where flyctl has them; the bad value is dropped and the rest of the file still decodes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeAppConfig } from '../../../src/core/config/index.js';
import type { Diagnostic, NormalizeResult } from '../../../src/core/config/types.js';

/** The normalizer's own diagnostics (validate.ts adds rule-level ones after them). */
function decodeDiagnostics(res: NormalizeResult): Diagnostic[] {
  return res.diagnostics.filter((d) => d.code === 'type');
}

function typeError(path: string, message: string): Diagnostic {
  return { severity: 'error', code: 'type', path, message };
}

describe('type problems', () => {
  it('a string internal_port under [http_service] fails (no patch there) and the rest decodes', () => {
    const res = normalizeAppConfig('app = "a"\n[http_service]\ninternal_port = "8080"\nforce_https = true\n');
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('http_service.internal_port', 'http_service.internal_port: expected an integer, got string "8080"'),
    ]);
    assert.equal(res.config?.app, 'a');
    assert.equal(res.config?.http_service?.force_https, true);
    assert.equal(res.config?.http_service?.internal_port, 0);
  });

  it('auto_stop_machines: any other string fails in fly-go words', () => {
    const res = normalizeAppConfig(
      '[http_service]\ninternal_port = 8080\nauto_stop_machines = "sometimes"\n\n[[services]]\ninternal_port = 9\nauto_stop_machines = "Stop"\n\n[[services]]\ninternal_port = 10\nauto_stop_machines = 1\n',
    );
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('http_service.auto_stop_machines', 'invalid autostop string value "sometimes"'),
      typeError('services[0].auto_stop_machines', 'invalid autostop string value "Stop"'),
      typeError('services[1].auto_stop_machines', 'services[1].auto_stop_machines: expected a boolean or one of "off", "stop", "suspend", got integer 1'),
    ]);
    assert.equal(res.config?.http_service?.auto_stop_machines, undefined);
    assert.equal('auto_stop_machines' in (res.config?.http_service ?? {}), false);
  });

  it('non-numeric string ports under [[services]] fail in flyctl words (patches.go castToInt)', () => {
    const res = normalizeAppConfig(
      '[[services]]\ninternal_port = "80x"\n[[services.ports]]\nport = "https"\nhandlers = ["tls"]\n[[services.ports]]\nport = true\n[[services.ports]]\nport = "8443"\n',
    );
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('services[0].ports[0].port', `Can not convert 'https' to integer: strconv.Atoi: parsing "https": invalid syntax`),
      typeError('services[0].ports[1].port', 'Unknown type for cast: bool'),
      typeError('services[0].internal_port', `Can not convert '80x' to integer: strconv.Atoi: parsing "80x": invalid syntax`),
    ]);
    assert.deepEqual(res.config?.services[0]?.ports, [{ handlers: ['tls'] }, { handlers: [] }, { port: 8443, handlers: [] }]);
    assert.equal(res.config?.services[0]?.internal_port, 0);
  });

  it('a port beyond int64 is out of range for Atoi', () => {
    const res = normalizeAppConfig('[[services]]\ninternal_port = "99999999999999999999"\n');
    assert.deepEqual(decodeDiagnostics(res), [
      typeError(
        'services[0].internal_port',
        `Can not convert '99999999999999999999' to integer: strconv.Atoi: parsing "99999999999999999999": value out of range`,
      ),
    ]);
  });

  it('old concurrency strings that do not parse fail in flyctl words', () => {
    const res = normalizeAppConfig('[[services]]\nconcurrency = "20"\n[[services]]\nconcurrency = "a,25"\n[[services]]\nconcurrency = "20, 25"\n');
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('services[0].concurrency', "Unknown value '20' for concurrency limits"),
      typeError('services[1].concurrency', `Can not convert 'a,25': strconv.Atoi: parsing "a": invalid syntax`),
      typeError('services[2].concurrency', `Can not convert '20, 25': strconv.Atoi: parsing " 25": invalid syntax`),
    ]);
    assert.equal(res.config?.services.length, 3);
  });

  it('restart policies other than always/never/on-failure drop their entry with flyctl text', () => {
    const res = normalizeAppConfig(
      '[[restart]]\npolicy = "no"\n\n[[restart]]\npolicy = "always"\nprocesses = ["web"]\n\n[[restart]]\nretries = 2\n\n[[restart]]\npolicy = "unless-stopped"\n',
    );
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('restart[0].policy', 'invalid restart policy: no'),
      typeError('restart[2].policy', 'invalid restart policy: '),
      typeError('restart[3].policy', 'invalid restart policy: unless-stopped'),
    ]);
    assert.deepEqual(res.config?.restart, [{ policy: 'always', processes: ['web'] }]);
  });

  it('durations: a Go duration string is required where a string is given', () => {
    const res = normalizeAppConfig(
      'kill_timeout = "5 seconds"\n[deploy]\nwait_timeout = "10"\n[checks.a]\ntype = "tcp"\ninterval = "fast"\ntimeout = true\n',
    );
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('checks.a.timeout', 'checks.a.timeout: expected a duration such as "10s" or a number of milliseconds, got boolean true'),
      typeError('kill_timeout', 'kill_timeout: time: invalid duration "5 seconds"'),
      typeError('deploy.wait_timeout', 'deploy.wait_timeout: time: invalid duration "10"'),
      typeError('checks.a.interval', 'checks.a.interval: time: invalid duration "fast"'),
    ]);
    assert.deepEqual(res.config?.checks, { a: { type: 'tcp', headers: {}, processes: [] } });
  });

  it('reports every problem of a file at once, at every depth', () => {
    const text = [
      'app = 5',
      'swap_size_mb = 1.5',
      '[env]',
      '  GOOD = "yes"',
      '  NESTED = { a = 1 }',
      '[http_service]',
      '  internal_port = 8080',
      '  processes = "web"',
      '  [http_service.tls_options]',
      '    alpn = ["h2", 2]',
      '  [[http_service.checks]]',
      '    interval = "10s"',
      '    headers = { X = 1 }',
      '[[services]]',
      '  internal_port = 8080',
      '  protocol = "http"',
      '  [[services.ports]]',
      '    port = 443',
      '    handlers = ["tls", 5, "http"]',
      '    force_https = "yes"',
      '[[mounts]]',
      '  source = "data"',
      '  destination = "/data"',
      '  snapshot_retention = "7"',
      '[[vm]]',
      '  cpus = "2"',
      '  memory = true',
      '[processes]',
      '  web = ["bin/web"]',
    ].join('\n');
    const res = normalizeAppConfig(text);
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('env.NESTED', 'env.NESTED: expected a string, got table'),
      typeError('vm[0].memory', 'vm[0].memory: expected a size such as "1gb" or a number of MB, got boolean true'),
      typeError('app', 'app: expected a string, got integer 5'),
      typeError('swap_size_mb', 'swap_size_mb: expected an integer, got float 1.5'),
      typeError('http_service.processes', 'http_service.processes: expected an array, got string "web"'),
      typeError('http_service.tls_options.alpn[1]', 'http_service.tls_options.alpn[1]: expected a string, got integer 2'),
      typeError('http_service.checks[0].headers.X', 'http_service.checks[0].headers.X: expected a string, got integer 1'),
      typeError('services[0].protocol', 'services[0].protocol: expected "tcp" or "udp", got string "http"'),
      typeError('services[0].ports[0].handlers[1]', 'services[0].ports[0].handlers[1]: expected a string, got integer 5'),
      typeError('services[0].ports[0].force_https', 'services[0].ports[0].force_https: expected a boolean, got string "yes"'),
      typeError('processes.web', 'processes.web: expected a string, got array'),
      typeError('mounts[0].snapshot_retention', 'mounts[0].snapshot_retention: expected an integer, got string "7"'),
      typeError('vm[0].cpus', 'vm[0].cpus: expected an integer, got string "2"'),
    ]);
    const config = res.config;
    assert.ok(config);
    assert.equal(config.app, undefined);
    assert.deepEqual(config.env, { GOOD: 'yes' });
    assert.deepEqual(config.http_service?.tls_options, { alpn: ['h2'] });
    assert.deepEqual(config.http_service?.checks, [{ interval: '10s', headers: {} }]);
    assert.deepEqual(config.services[0]?.ports, [{ port: 443, handlers: ['tls', 'http'] }]);
    assert.equal(config.services[0]?.protocol, 'tcp');
    assert.deepEqual(config.mounts, [{ source: 'data', destination: '/data', processes: [] }]);
    assert.deepEqual(config.vm, [{ processes: [] }]);
    assert.deepEqual(config.processes, {});
  });

  it('a section of the wrong kind is dropped whole', () => {
    const res = normalizeAppConfig('app = "x"\nhttp_service = "8080"\nservices = 5\nmounts = "data"\nexperimental = []\nbuild = "Dockerfile"\n');
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('services', 'services: expected a table or an array of tables, got integer 5'),
      typeError('experimental', 'Experimental section of unknown type: []interface {}'),
      typeError('mounts', 'mounts: expected a table or an array of tables, got string "data"'),
      typeError('build', 'Build section of unknown type: string'),
      typeError('http_service', 'http_service: expected a table, got string "8080"'),
    ]);
    assert.equal(res.config?.app, 'x');
    assert.equal(res.config?.http_service, undefined);
    assert.deepEqual(res.config?.services, []);
  });

  it('[experimental] cmd/entrypoint/exec must be strings (flyctl words)', () => {
    const res = normalizeAppConfig('[experimental]\ncmd = ["run", 1]\nentrypoint = 5\nexec = "/bin/app"\n');
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('experimental.cmd', 'could not cast 1 of type int64 to string on cmd'),
      typeError('experimental.entrypoint', 'could not cast 5 of type int64 to []string on entrypoint'),
    ]);
    assert.deepEqual(res.config?.experimental, { exec: ['/bin/app'] });
  });

  it('list-form checks need a string name; headers need name/value tables', () => {
    const res = normalizeAppConfig(
      'checks = [{ type = "tcp", port = 1 }, "x", { name = "ok", type = "http", port = 2, headers = [{ value = "v" }] }]\n',
    );
    assert.deepEqual(decodeDiagnostics(res), [
      typeError('checks[0].name', 'check item name not a string'),
      typeError('checks[1]', 'check item of unknown type: string'),
      typeError('checks.ok.headers[0]', 'checks.ok.headers[0]: expected a table with "name" and "value", got table'),
    ]);
    assert.deepEqual(res.config?.checks, { ok: { type: 'http', port: 2, headers: {}, processes: [] } });
  });

  it('a top-level check type other than http/tcp is left for the validator (no decode message)', () => {
    const res = normalizeAppConfig('[checks.legacy]\ntype = "script"\ninterval = 10000\n');
    assert.deepEqual(decodeDiagnostics(res), []);
    assert.deepEqual(res.config?.checks, { legacy: { interval: '10s', headers: {}, processes: [] } });
  });

  it('[[vm.override]] entries are decoded with their own paths', () => {
    const res = normalizeAppConfig('[vm]\nsize = "shared-cpu-1x"\n[[vm.override]]\nprocesses = ["w"]\ncpus = "2"\nmemory = 2048\n');
    assert.deepEqual(decodeDiagnostics(res), [typeError('vm.override[0].cpus', 'vm.override[0].cpus: expected an integer, got string "2"')]);
    assert.deepEqual(res.config?.vm, [
      { size: 'shared-cpu-1x', processes: [], origin: 'vm[0]' },
      { memory: '2048', processes: ['w'], origin: 'vm.override[0]' },
    ]);
  });

  it('overrides under one of several [[vm]] entries carry that entry in their path', () => {
    const res = normalizeAppConfig('[[vm]]\nsize = "a"\n[[vm]]\nsize = "b"\n[[vm.override]]\nprocesses = ["w"]\nsize = "c"\n');
    assert.deepEqual(
      res.config?.vm.map((v) => [v.size, v.origin]),
      [
        ['a', 'vm[0]'],
        ['b', 'vm[1]'],
        ['c', 'vm[1].override[0]'],
      ],
    );
  });

  it('a replay_cache entry without a valid type is dropped', () => {
    const res = normalizeAppConfig(
      '[http_service]\ninternal_port = 1\n[[http_service.http_options.replay_cache]]\npath_prefix = "/"\nttl_seconds = 60\nname = "sid"\n[[http_service.http_options.replay_cache]]\npath_prefix = "/x"\nttl_seconds = 5\ntype = "cookie"\nname = "c"\n',
    );
    assert.deepEqual(decodeDiagnostics(res), [
      typeError(
        'http_service.http_options.replay_cache[0].type',
        'http_service.http_options.replay_cache[0].type: expected "cookie" or "header", got nothing',
      ),
    ]);
    assert.deepEqual(res.config?.http_service?.http_options?.replay_cache, [{ path_prefix: '/x', ttl_seconds: 5, type: 'cookie', name: 'c' }]);
  });

  it('stringifies [env] scalars like Go %v', () => {
    const res = normalizeAppConfig('[env]\nI = 8080\nF = 1.5\nTINY = 0.00001\nB = false\nD = 1979-05-27\nBIG = 99999999999999999999\n');
    assert.deepEqual(res.config?.env, { I: '8080', F: '1.5', TINY: '1e-05', B: 'false', D: '1979-05-27', BIG: '99999999999999999999' });
  });

  it('kill_timeout: integer = seconds, float truncated, "" = unset; [experimental] only fills a missing one', () => {
    assert.equal(normalizeAppConfig('kill_timeout = 300').config?.kill_timeout, '5m0s');
    assert.equal(normalizeAppConfig('kill_timeout = 2.9').config?.kill_timeout, '2s');
    assert.equal(normalizeAppConfig('kill_timeout = "90s"').config?.kill_timeout, '1m30s');
    assert.equal('kill_timeout' in (normalizeAppConfig('kill_timeout = ""').config ?? {}), false);
    assert.equal(normalizeAppConfig('kill_timeout = 7\n[experimental]\nkill_timeout = 30').config?.kill_timeout, '7s');
    assert.equal(normalizeAppConfig('[experimental]\nkill_timeout = "45s"').config?.kill_timeout, '45s');
  });

  it('check durations: integers are ms in [[services]] and [checks], ns in [http_service]', () => {
    const res = normalizeAppConfig(
      '[http_service]\ninternal_port = 1\n[[http_service.checks]]\ninterval = 1000\n[[services]]\n[[services.http_checks]]\ninterval = 1000\n[checks.c]\ntype = "tcp"\ngrace_period = 2500\n',
    );
    assert.equal(res.config?.http_service?.checks[0]?.interval, '1µs');
    assert.equal(res.config?.services[0]?.http_checks[0]?.interval, '1s');
    assert.equal(res.config?.checks.c?.grace_period, '2.5s');
  });

  it('never leaves undefined-valued keys', () => {
    const res = normalizeAppConfig('[http_service]\ninternal_port = "x"\nauto_stop_machines = "x"\n[checks.a]\ntype = "script"\n');
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          assert.notEqual(x, undefined, `key ${k} is undefined`);
          walk(x);
        }
      }
    };
    walk(res.config);
  });
});
