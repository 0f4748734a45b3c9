import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateAppConfig } from '../../../src/core/config/validate.js';
import type { Service, ServicePort } from '../../../src/core/config/types.js';
import { appConfig } from './app-config.js';

const config = appConfig;

function service(ports: ServicePort[], overrides: Partial<Service> = {}): Service {
  return { protocol: 'tcp', internal_port: 8080, processes: [], ports, tcp_checks: [], http_checks: [], machine_checks: [], ...overrides };
}

const httpService = { internal_port: 8080, processes: [], checks: [], machine_checks: [] };

describe('validateAppConfig: [env] names the platform owns', () => {
  it('warns for a FLY_ name the platform sets, with the env path', () => {
    assert.deepEqual(validateAppConfig(config({ env: { FLY_APP_NAME: 'x', PORT: '8080' } })), [
      {
        severity: 'warning',
        code: 'env-platform-name',
        path: 'env.FLY_APP_NAME',
        message: "WARN [env] sets FLY_APP_NAME, which the platform sets on every machine; the platform's value wins",
      },
    ]);
  });

  it('warns for other FLY_ names as reserved', () => {
    assert.deepEqual(
      validateAppConfig(config({ env: { FLY_CUSTOM: '1' } })).map((d) => d.message),
      ['WARN [env] sets FLY_CUSTOM: names beginning with FLY_ are reserved for the platform, and a value the platform sets wins'],
    );
  });

  it('does not warn for names that merely contain FLY_ or use another case', () => {
    assert.deepEqual(validateAppConfig(config({ env: { MY_FLY_APP: '1', fly_region: 'x' } })), []);
  });

  it('warns for PRIMARY_REGION only when primary_region is set to another value', () => {
    assert.deepEqual(validateAppConfig(config({ env: { PRIMARY_REGION: 'ams' } })), []);
    assert.deepEqual(validateAppConfig(config({ primary_region: 'ams', env: { PRIMARY_REGION: 'ams' } })), []);
    assert.deepEqual(validateAppConfig(config({ primary_region: 'cdg', env: { PRIMARY_REGION: 'ams' } })), [
      {
        severity: 'warning',
        code: 'env-platform-name',
        path: 'env.PRIMARY_REGION',
        message: "WARN [env] sets PRIMARY_REGION to 'ams', but machines get primary_region ('cdg'); the platform's value wins",
      },
    ]);
  });
});

describe('validateAppConfig: duplicate public ports', () => {
  it('warns when [[services]] repeats a port of [http_service], naming the port once', () => {
    const ds = validateAppConfig(
      config({
        http_service: httpService,
        services: [service([{ port: 443, handlers: ['tls', 'http'] }, { port: 80, handlers: ['http'] }])],
      }),
    );
    assert.deepEqual(ds, [
      {
        severity: 'warning',
        code: 'service-port-duplicate',
        path: 'services[0].ports[0]',
        message: 'WARN port 443 is declared by more than one service; the proxy routes it to the first declared service',
      },
      {
        severity: 'warning',
        code: 'service-port-duplicate',
        path: 'services[0].ports[1]',
        message: 'WARN port 80 is declared by more than one service; the proxy routes it to the first declared service',
      },
    ]);
  });

  it('warns once for a port declared by three services', () => {
    const s = () => service([{ port: 5432, handlers: [] }]);
    assert.equal(validateAppConfig(config({ services: [s(), s(), s()] })).length, 1);
  });

  it('reports overlapping port ranges by their overlap', () => {
    const ds = validateAppConfig(
      config({ services: [service([{ start_port: 8000, end_port: 8010, handlers: [] }]), service([{ start_port: 8005, end_port: 8020, handlers: [] }])] }),
    );
    assert.deepEqual(
      ds.map((d) => d.message),
      ['WARN ports 8005-8010 are declared by more than one service; the proxy routes them to the first declared service'],
    );
  });

  it('does not warn for distinct ports, different protocols, or repeats inside one service', () => {
    assert.deepEqual(validateAppConfig(config({ http_service: httpService, services: [service([{ port: 8443, handlers: ['tls'] }])] })), []);
    assert.deepEqual(
      validateAppConfig(config({ services: [service([{ port: 53, handlers: [] }]), service([{ port: 53, handlers: [] }], { protocol: 'udp' })] })),
      [],
    );
    assert.deepEqual(validateAppConfig(config({ services: [service([{ port: 80, handlers: ['http'] }, { port: 80, handlers: ['http'] }])] })), []);
  });

  it('names the protocol for udp', () => {
    const udp = () => service([{ port: 53, handlers: [] }], { protocol: 'udp' });
    assert.deepEqual(
      validateAppConfig(config({ services: [udp(), udp()] })).map((d) => d.message),
      ['WARN port 53 (udp) is declared by more than one service; the proxy routes it to the first declared service'],
    );
  });
});

describe('validateAppConfig: deploy settings that a strategy ignores', () => {
  it('accepts max_unavailable with rolling (also by default) and canary', () => {
    for (const strategy of [undefined, 'rolling', 'canary']) {
      const deploy = strategy === undefined ? { max_unavailable: 0.5 } : { strategy, max_unavailable: 0.5 };
      assert.deepEqual(validateAppConfig(config({ deploy })), []);
    }
  });

  it('warns that max_unavailable is ignored with immediate and bluegreen', () => {
    for (const strategy of ['immediate', 'bluegreen']) {
      assert.deepEqual(validateAppConfig(config({ deploy: { strategy, max_unavailable: 2 } })), [
        {
          severity: 'warning',
          code: 'deploy-setting-ignored',
          path: 'deploy.max_unavailable',
          message: `WARN max_unavailable only applies to the rolling and canary strategies; it is ignored with strategy '${strategy}'`,
        },
      ]);
    }
  });

  it('says nothing extra for an unknown strategy (that is its own error)', () => {
    assert.deepEqual(
      validateAppConfig(config({ deploy: { strategy: 'fast', max_unavailable: 2 } })).map((d) => d.code),
      ['deploy-strategy-unsupported'],
    );
  });
});

describe('validateAppConfig: force_https needs the http handler', () => {
  it('accepts force_https on an http port', () => {
    assert.deepEqual(validateAppConfig(config({ services: [service([{ port: 80, handlers: ['http'], force_https: true }])] })), []);
  });

  it('accepts force_https = false anywhere', () => {
    assert.deepEqual(validateAppConfig(config({ services: [service([{ port: 443, handlers: ['tls'], force_https: false }])] })), []);
  });

  it('rejects force_https on a port without the http handler', () => {
    const ds = validateAppConfig(
      config({ services: [service([{ port: 80, handlers: ['http'] }, { port: 443, handlers: ['tls'], force_https: true }, { start_port: 9000, end_port: 9001, handlers: [], force_https: true }])] }),
    );
    assert.deepEqual(ds, [
      {
        severity: 'error',
        code: 'force-https-without-http',
        path: 'services[0].ports[1].force_https',
        message:
          'force_https is set on port 443, whose handlers (["tls"]) do not include "http": only the http handler can redirect to HTTPS, and the deploy would fail; add "http" to handlers or remove force_https',
      },
      {
        severity: 'error',
        code: 'force-https-without-http',
        path: 'services[0].ports[2].force_https',
        message:
          'force_https is set on ports 9000-9001, whose handlers (none) do not include "http": only the http handler can redirect to HTTPS, and the deploy would fail; add "http" to handlers or remove force_https',
      },
    ]);
  });
});
