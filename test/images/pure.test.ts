import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isImageError } from '../../src/core/images/errors.js';
import { familiarReference, formatReference, parseReference, usesPlainHttp } from '../../src/core/images/reference.js';
import { DEFAULT_PATH, mergeImageConfig } from '../../src/images/config.js';
import { planGc } from '../../src/images/gc.js';
import type { ImageRecord } from '../../src/images/index-file.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

describe('image references', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['library/busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['user/app', 'docker.io/user/app:latest'],
    ['index.docker.io/library/node:20', 'docker.io/library/node:20'],
    [`127.0.0.1:5000/app@${D('a')}`, `127.0.0.1:5000/app@${D('a')}`],
    [`ghcr.io/org/team/app:v1@${D('b')}`, `ghcr.io/org/team/app:v1@${D('b')}`],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000', 'docker.io/library/localhost:5000'],
    ['registry.fly.io/my-app:deployment-01H', 'registry.fly.io/my-app:deployment-01H'],
    ['[::1]:5000/app:x', '[::1]:5000/app:x'],
  ];
  for (const [input, canonical] of cases) {
    it(`${input} → ${canonical}`, () => assert.equal(formatReference(parseReference(input)), canonical));
  }
  it('shortens Docker Hub names for display', () => {
    assert.equal(familiarReference(parseReference('busybox:1.36')), 'busybox:1.36');
    assert.equal(familiarReference(parseReference('user/app')), 'user/app:latest');
    assert.equal(familiarReference(parseReference('127.0.0.1:5000/app')), '127.0.0.1:5000/app:latest');
  });
  for (const bad of ['', 'Busybox', 'app:bad tag', 'app@sha256:123', 'app@md5:' + 'a'.repeat(32), 'a//b', '-app', 'reg.io/', 'x:' + 'a'.repeat(129)]) {
    it(`refuses ${JSON.stringify(bad)} with HANGAR_ERR_IMAGE_REF`, () => {
      assert.throws(() => parseReference(bad), (e: unknown) => isImageError(e) && e.code === 'HANGAR_ERR_IMAGE_REF' && e.message.includes(`"${bad}"`));
    });
  }
  it('speaks plain HTTP to loopback and listed registries only', () => {
    assert.equal(usesPlainHttp('127.0.0.1:5000'), true);
    assert.equal(usesPlainHttp('localhost:5000'), true);
    assert.equal(usesPlainHttp('[::1]:5000'), true);
    assert.equal(usesPlainHttp('registry.example.com'), false);
    assert.equal(usesPlainHttp('registry.example.com', ['registry.example.com']), true);
  });
});

describe('image config merge', () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['serve', '--port', '80'], Env: ['PATH=/bin', 'A=image', 'B=image'], WorkingDir: '/app', User: 'app', ExposedPorts: { '80/tcp': {}, '53/udp': {}, bogus: {} }, StopSignal: 'SIGQUIT' };
  it('uses the image config when the machine says nothing', () => {
    assert.deepEqual(mergeImageConfig(image, {}), {
      argv: ['/entry', 'serve', '--port', '80'],
      env: { PATH: '/bin', A: 'image', B: 'image' },
      workingDir: '/app',
      user: 'app',
      exposedPorts: [{ port: 53, protocol: 'udp' }, { port: 80, protocol: 'tcp' }],
      stopSignal: 'SIGQUIT',
    });
  });
  it('init.exec overrides entrypoint and cmd', () => {
    assert.deepEqual(mergeImageConfig(image, { init: { exec: ['/bin/sleep', 'inf'], entrypoint: ['/x'], cmd: ['y'] } }).argv, ['/bin/sleep', 'inf']);
  });
  it('entrypoint and cmd override the image each on its own', () => {
    assert.deepEqual(mergeImageConfig(image, { init: { entrypoint: ['/other'] } }).argv, ['/other', 'serve', '--port', '80']);
    assert.deepEqual(mergeImageConfig(image, { init: { cmd: ['migrate'] } }).argv, ['/entry', 'migrate']);
    assert.deepEqual(mergeImageConfig(image, { init: { entrypoint: ['/a'], cmd: [] } }).argv, ['/a']);
  });
  it('machine env goes over the image env; user and working dir override', () => {
    const spec = mergeImageConfig(image, { env: { B: 'machine', C: 'machine' }, user: 'root', workingDir: '/srv' });
    assert.deepEqual(spec.env, { PATH: '/bin', A: 'image', B: 'machine', C: 'machine' });
    assert.equal(spec.user, 'root');
    assert.equal(spec.workingDir, '/srv');
  });
  it('defaults: Docker PATH, /, root, nothing to run', () => {
    assert.deepEqual(mergeImageConfig(null, {}), { argv: [], env: { PATH: DEFAULT_PATH }, workingDir: '/', user: 'root', exposedPorts: [] });
  });
});

describe('gc plan', () => {
  const rec = (ref: string, digest: string, extra: Partial<ImageRecord> = {}): ImageRecord => ({
    ref, digest, configDigest: D('c'), layers: [], size: 1, platform: 'linux/amd64', source: 'pull', storedAt: '2024-01-01T00:00:00Z', ...extra,
  });
  const manifestBlobs = new Map([
    [D('1'), [D('c'), D('a')]],
    [D('2'), [D('c'), D('b')]],
  ]);
  const blobs = [D('1'), D('2'), D('a'), D('b'), D('c'), D('9'), D('e')];
  it('keeps listed images and removes only unreferenced content by default', () => {
    const plan = planGc({ records: [rec('x', D('1')), rec('y', D('2'), { repoDigest: D('e') })], pinned: new Set(), pruneUnpinned: false, manifestBlobs, blobs, rootfs: [D('1'), D('7')] });
    assert.equal(plan.drop.length, 0);
    assert.deepEqual(plan.deleteBlobs, [D('9')]);
    assert.deepEqual(plan.deleteRootfs, [D('7')]);
  });
  it('prunes unpinned images, keeping pinned ones by digest or list digest', () => {
    const plan = planGc({ records: [rec('x', D('1')), rec('y', D('2'), { repoDigest: D('e') })], pinned: new Set([D('e')]), pruneUnpinned: true, manifestBlobs, blobs, rootfs: [D('1'), D('2')] });
    assert.deepEqual(plan.drop.map((r) => r.ref), ['x']);
    assert.deepEqual(plan.deleteBlobs.sort(), [D('1'), D('9'), D('a')].sort());
    assert.deepEqual(plan.deleteRootfs, [D('1')]);
  });
  it('keeps content pinned by a machine even after its record is gone', () => {
    const plan = planGc({ records: [], pinned: new Set([D('1')]), pruneUnpinned: true, manifestBlobs, blobs, rootfs: [D('1'), D('2')] });
    assert.deepEqual(plan.deleteBlobs.sort(), [D('2'), D('9'), D('b'), D('e')].sort());
    assert.deepEqual(plan.deleteRootfs, [D('2')]);
  });
});
