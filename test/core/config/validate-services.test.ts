import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateAppConfig } from '../../../src/core/config/validate.js';
import { NO_PORTS_WARNING } from '../../../src/core/config/validate-services.js';
import type { HttpService, Service, ServiceHttpCheck } from '../../../src/core/config/types.js';
import { appConfig } from './app-config.js';

const config = appConfig;

function service(overrides: Partial<Service> = {}): Service {
  return {
    protocol: 'tcp',
    internal_port: 8080,
    processes: [],
    ports: [{ port: 8443, handlers: ['tls', 'http'] }],
    tcp_checks: [],
    http_checks: [],
    machine_checks: [],
    ...overrides,
  };
}

function httpService(overrides: Partial<HttpService> = {}): HttpService {
  return { internal_port: 8080, processes: [], checks: [], machine_checks: [], ...overrides };
}

function httpCheck(overrides: Partial<ServiceHttpCheck> = {}): ServiceHttpCheck {
  return { headers: {}, ...overrides };
}

describe('validateAppConfig: service processes', () => {
  it('accepts services without processes when there is no [processes] section', () => {
    assert.deepEqual(validateAppConfig(config({ services: [service()], http_service: httpService() })), []);
  });

  it("accepts processes = ['app'] without a [processes] section (the implicit group)", () => {
    assert.deepEqual(validateAppConfig(config({ services: [service({ processes: ['app'] })] })), []);
  });

  it('rejects a service (and the http_service) without processes when [processes] exists, counting the groups', () => {
    const ds = validateAppConfig(config({ processes: { web: 'a', worker: 'b' }, http_service: httpService(), services: [service()] }));
    const msg = 'Service has no processes set but app has 2 processes defined; update fly.toml to set processes for each service';
    assert.deepEqual(ds, [
      { severity: 'error', code: 'service-processes-missing', path: 'http_service.processes', message: msg },
      { severity: 'error', code: 'service-processes-missing', path: 'services[0].processes', message: msg },
    ]);
  });

  it('rejects unknown process names, once per name', () => {
    const ds = validateAppConfig(config({ processes: { web: 'a' }, services: [service({ processes: ['web', 'api', 'admin'] })] }));
    assert.deepEqual(
      ds.map((d) => d.message),
      ['api', 'admin'].map(
        (p) =>
          `Service specifies '${p}' as one of its processes, but no processes are defined with that name; update fly.toml [processes] to add '${p}' process or remove it from service's processes list`,
      ),
    );
    assert.ok(ds.every((d) => d.path === 'services[0].processes' && d.severity === 'error'));
  });

  it("rejects a name other than 'app' when there is no [processes] section", () => {
    const ds = validateAppConfig(config({ http_service: httpService({ processes: ['web'] }) }));
    assert.equal(ds.length, 1);
    assert.equal(ds[0]?.code, 'service-process-unknown');
    assert.equal(ds[0]?.path, 'http_service.processes');
  });
});

describe('validateAppConfig: services without ports', () => {
  it('warns (does not fail) for a [[services]] entry with no ports, with flyctl text', () => {
    const ds = validateAppConfig(config({ services: [service({ ports: [] })] }));
    assert.deepEqual(ds, [{ severity: 'warning', code: 'service-no-ports', path: 'services[0].ports', message: NO_PORTS_WARNING }]);
    assert.equal(
      NO_PORTS_WARNING,
      'WARNING: Service must expose at least one port. Add a [[services.ports]] section to fly.toml; Check docs at https://fly.io/docs/reference/configuration/#services-ports \n Validation for _services without ports_ will hard fail after February 15, 2024.',
    );
  });

  it('never warns for the http_service (it always has ports 80 and 443)', () => {
    assert.deepEqual(validateAppConfig(config({ http_service: httpService() })), []);
  });
});

describe('validateAppConfig: service check durations', () => {
  it('accepts 1s and 1m0s exactly, and a zero grace period', () => {
    const c = { interval: '1s', timeout: '1m0s', grace_period: '0s' };
    assert.deepEqual(validateAppConfig(config({ services: [service({ tcp_checks: [c], http_checks: [httpCheck(c)] })] })), []);
  });

  it('warns about values below 1 second, naming the check kind', () => {
    const ds = validateAppConfig(config({ services: [service({ tcp_checks: [{ interval: '999ms', timeout: '0s', grace_period: '500ms' }] })] }));
    assert.deepEqual(ds, [
      {
        severity: 'warning',
        code: 'service-check-too-short',
        path: 'services[0].tcp_checks[0].interval',
        message: 'WARN Service TCP check has an interval less than 1 second (999ms); this will be raised to 1 second',
      },
      {
        severity: 'warning',
        code: 'service-check-too-short',
        path: 'services[0].tcp_checks[0].timeout',
        message: 'WARN Service TCP check has a timeout less than 1 second (0s); this will be raised to 1 second',
      },
      {
        severity: 'warning',
        code: 'service-check-too-short',
        path: 'services[0].tcp_checks[0].grace_period',
        message: 'WARN Service TCP check has a grace period that is non-zero and less than 1 second (500ms); this will be raised to 1 second',
      },
    ]);
  });

  it('warns about values above 1 minute (1m0.001s), for http_checks and [[http_service.checks]]', () => {
    const c = httpCheck({ interval: '1m0.001s', timeout: '2m0s', grace_period: '1h0m0s' });
    const ds = validateAppConfig(config({ http_service: httpService({ checks: [c] }), services: [service({ http_checks: [c] })] }));
    assert.deepEqual(
      ds.map((d) => [d.path, d.message]),
      [
        ['http_service.checks[0].interval', 'WARN Service HTTP check has an interval greater than 1 minute (1m0.001s); this will be lowered to 1 minute'],
        ['http_service.checks[0].timeout', 'WARN Service HTTP check has a timeout greater than 1 minute (2m0s); this will be lowered to 1 minute'],
        ['http_service.checks[0].grace_period', 'WARN Service HTTP check has a grace period greater than 1 minute (1h0m0s); this will be lowered to 1 minute'],
        ['services[0].http_checks[0].interval', 'WARN Service HTTP check has an interval greater than 1 minute (1m0.001s); this will be lowered to 1 minute'],
        ['services[0].http_checks[0].timeout', 'WARN Service HTTP check has a timeout greater than 1 minute (2m0s); this will be lowered to 1 minute'],
        ['services[0].http_checks[0].grace_period', 'WARN Service HTTP check has a grace period greater than 1 minute (1h0m0s); this will be lowered to 1 minute'],
      ],
    );
    assert.ok(ds.every((d) => d.severity === 'warning'));
  });

  it('checks tcp_checks before http_checks within a service', () => {
    const ds = validateAppConfig(config({ services: [service({ http_checks: [httpCheck({ interval: '100ms' })], tcp_checks: [{ interval: '100ms' }] })] }));
    assert.deepEqual(
      ds.map((d) => d.path),
      ['services[0].tcp_checks[0].interval', 'services[0].http_checks[0].interval'],
    );
  });

  it('ignores unset durations', () => {
    assert.deepEqual(validateAppConfig(config({ services: [service({ tcp_checks: [{}], http_checks: [httpCheck()] })] })), []);
  });
});
