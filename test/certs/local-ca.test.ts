import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { CertError, CertNameError, LocalCa } from '../../src/certs/local-ca.js';

describe('local CA', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-ca-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates an ECDSA root once, key 0600, and issues leaves it signed', async () => {
    const [a, b] = await Promise.all([LocalCa.open(dir), LocalCa.open(dir)]);
    assert.equal(a.rootPem, b.rootPem, 'racing opens agree on one root');
    assert.equal(statSync(join(dir, 'certs', 'ca', 'root-key.pem')).mode & 0o777, 0o600);
    const root = new X509Certificate(a.rootPem);
    assert.ok(root.ca);
    assert.equal(root.publicKey.asymmetricKeyType, 'ec');
    const leaf = await a.leaf('web.localhost');
    const x = new X509Certificate(leaf.certPem);
    assert.ok(x.verify(root.publicKey));
    assert.equal(x.subjectAltName, 'DNS:web.localhost');
    assert.equal(x.checkHost('web.localhost'), 'web.localhost');
    const again = await (await LocalCa.open(dir)).leaf('web.localhost');
    assert.equal(again.certPem, leaf.certPem, 'a reopened CA serves the cached leaf');
    assert.equal(await LocalCa.readRootPem(dir), a.rootPem);
  });

  it('refuses names no certificate can carry', async () => {
    const ca = await LocalCa.open(dir);
    await assert.rejects(ca.leaf('../x'), CertNameError);
  });

  it('reports damaged CA files', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'hangar-ca-bad-'));
    mkdirSync(join(bad, 'certs', 'ca'), { recursive: true });
    writeFileSync(join(bad, 'certs', 'ca', 'root.pem'), 'nope');
    writeFileSync(join(bad, 'certs', 'ca', 'root-key.pem'), 'nope');
    await assert.rejects(LocalCa.open(bad), CertError);
    assert.equal(await LocalCa.readRootPem(join(bad, 'missing')), null);
    rmSync(bad, { recursive: true, force: true });
  });
});
