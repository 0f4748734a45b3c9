import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecretBox, loadSecretKey, secretDigest } from '../../src/control/secrets/crypto.js';

const dir = mkdtempSync(join(tmpdir(), 'hangar-test-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('secret box', () => {
  it('creates a 0600 key once and reuses it', () => {
    const p = join(dir, 'k1');
    const a = loadSecretKey(p);
    assert.equal(statSync(p).mode & 0o777, 0o600);
    assert.deepEqual(loadSecretKey(p), a);
  });

  it('round-trips and never stores plaintext', () => {
    const box = createSecretBox(loadSecretKey(join(dir, 'k2')));
    const c = box.encrypt('app:DB_URL', 'postgres://user:pw@db/x');
    assert.ok(!c.includes('postgres'));
    assert.equal(box.decrypt('app:DB_URL', c), 'postgres://user:pw@db/x');
    assert.notEqual(box.encrypt('app:DB_URL', 'same'), box.encrypt('app:DB_URL', 'same'), 'fresh IV each time');
  });

  it('refuses a ciphertext moved to another secret name or tampered with', () => {
    const box = createSecretBox(loadSecretKey(join(dir, 'k3')));
    const c = box.encrypt('app:A', 'v');
    assert.throws(() => box.decrypt('app:B', c));
    const [iv, tag, data] = c.split('.');
    const flipped = Buffer.from(data!, 'base64');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    assert.throws(() => box.decrypt('app:A', `${iv}.${tag}.${flipped.toString('base64')}`));
    assert.throws(() => box.decrypt('app:A', 'garbage'), /malformed/);
  });

  it('refuses a key file of the wrong size and tightens loose permissions', () => {
    const bad = join(dir, 'short');
    writeFileSync(bad, Buffer.alloc(7));
    assert.throws(() => loadSecretKey(bad), /holds 7 bytes, expected 32/);
    const loose = join(dir, 'loose');
    writeFileSync(loose, Buffer.alloc(32, 1));
    chmodSync(loose, 0o644);
    loadSecretKey(loose);
    assert.equal(statSync(loose).mode & 0o777, 0o600);
  });

  it('digests values with sha256', () => {
    assert.equal(secretDigest('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
