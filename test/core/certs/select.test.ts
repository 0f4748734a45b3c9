import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { certFileStem, isCertName, normalizeServerName, selectCertName } from '../../../src/core/certs/select.js';
import { needsRenewal, validityFrom } from '../../../src/core/certs/lifetime.js';
import { chooseAlpn, resolveTlsOptions, versionAllowed } from '../../../src/core/certs/tls-options.js';

const catalog = { baseDomain: 'localhost', apps: new Set(['web', 'api']), hostnames: new Set(['www.example.com', '*.example.org']) };

describe('certificate selection', () => {
  it('picks exact names, app hostnames and one-level wildcards', () => {
    assert.equal(selectCertName('WEB.localhost.', catalog), 'web.localhost');
    assert.equal(selectCertName('api.localhost', catalog), 'api.localhost');
    assert.equal(selectCertName('www.example.com', catalog), 'www.example.com');
    assert.equal(selectCertName('a.example.org', catalog), '*.example.org');
  });

  it('answers null for names nobody serves', () => {
    assert.equal(selectCertName('nope.localhost', catalog), null);
    assert.equal(selectCertName('a.web.localhost', catalog), null);
    assert.equal(selectCertName('a.b.example.org', catalog), null, 'a wildcard never spans a dot');
    assert.equal(selectCertName('example.org', catalog), null);
    assert.equal(selectCertName(undefined, catalog), null);
    assert.equal(selectCertName('127.0.0.1', catalog), null);
  });

  it('validates names', () => {
    assert.equal(normalizeServerName('-bad.example'), null);
    assert.equal(normalizeServerName('a_b.example'), null);
    assert.ok(isCertName('*.example.org'));
    assert.ok(!isCertName('*.org'));
    assert.ok(!isCertName('a,b'));
    assert.equal(certFileStem('*.example.org'), '_wildcard.example.org');
    assert.throws(() => certFileStem('../etc'));
  });
});

describe('certificate lifetimes', () => {
  it('renews with a third of the lifetime left, when expired or not yet valid', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const v = validityFrom(now, 90);
    assert.equal(needsRenewal(v, now), false);
    assert.equal(needsRenewal(v, new Date(now.getTime() + 59 * 86400e3)), false);
    assert.equal(needsRenewal(v, new Date(now.getTime() + 61 * 86400e3)), true);
    assert.equal(needsRenewal(v, new Date(now.getTime() + 91 * 86400e3)), true);
    assert.equal(needsRenewal(v, new Date(now.getTime() - 2 * 3600e3)), true);
  });
});

describe('tls_options', () => {
  it("defaults to Fly's: h2 + http/1.1, TLS 1.2–1.3, no self-signed fallback", () => {
    const { options, problems } = resolveTlsOptions(undefined, true);
    assert.deepEqual(options, { alpn: ['h2', 'http/1.1'], minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', defaultSelfSigned: false });
    assert.deepEqual(problems, []);
  });

  it('maps versions to a range and reports what it cannot serve', () => {
    const r = resolveTlsOptions({ versions: ['TLSv1.3'], alpn: ['http/1.1', 'spdy/3'], default_self_signed: true }, true);
    assert.equal(r.options.minVersion, 'TLSv1.3');
    assert.deepEqual(r.options.alpn, ['http/1.1']);
    assert.equal(r.options.defaultSelfSigned, true);
    assert.equal(r.problems.length, 1);
    const bad = resolveTlsOptions({ versions: ['TLSv1.1', 'SSLv3'] }, false);
    assert.equal(bad.options.minVersion, 'TLSv1.2');
    assert.equal(bad.problems.length, 3);
    assert.ok(versionAllowed(r.options, 'TLSv1.3'));
    assert.ok(!versionAllowed(r.options, 'TLSv1.2'));
    const tcp = resolveTlsOptions({ alpn: ['postgresql'] }, false);
    assert.deepEqual(tcp.options.alpn, ['postgresql']);
  });

  it("chooses ALPN by the server's order", () => {
    assert.equal(chooseAlpn(['h2', 'http/1.1'], ['http/1.1', 'h2']), 'h2');
    assert.equal(chooseAlpn(['http/1.1'], ['h2', 'http/1.1']), 'http/1.1');
    assert.equal(chooseAlpn(['h2'], ['http/1.1']), undefined);
  });
});
