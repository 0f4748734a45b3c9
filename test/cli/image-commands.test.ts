/**
 * `hangar image import|list|pull`, run in-process through each verb's `run()` (they are not in
 * src/cli/registry.ts yet), against a real temp data dir and a real docker-registry.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isImageError } from '../../src/core/images/errors.js';
import { createOutput, type Io } from '../../src/cli/output.js';
import type { CommandContext } from '../../src/cli/registry.js';
import * as importCmd from '../../src/cli/commands/image/import.js';
import * as listCmd from '../../src/cli/commands/image/list.js';
import * as pullCmd from '../../src/cli/commands/image/pull.js';
import { busyboxImage, ociLayoutTar } from '../helpers/images.js';
import { type RunningRegistry, pushImage, startRegistry } from '../images/registry-helper.js';

interface Captured {
  out: string;
  err: string;
}

async function runVerb<O>(mod: { run(ctx: CommandContext<O>): Promise<void> }, args: unknown[], options: O, json = false): Promise<Captured> {
  const res: Captured = { out: '', err: '' };
  const io: Io = { isTTY: false, stdout: (t) => void (res.out += t), stderr: (t) => void (res.err += t) };
  const globals = { json };
  await mod.run({ args, options, globals, out: createOutput(globals, io) });
  return res;
}

describe('hangar image', { timeout: 120_000 }, () => {
  let dir: string;
  let registry: RunningRegistry;
  const image = busyboxImage();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-test-cli-image-'));
    registry = await startRegistry();
    await pushImage(registry.host, 'cli/app', image, 'v1');
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists an empty store with a hint', async () => {
    const r = await runVerb(listCmd, [], { dataDir: join(dir, 'empty') });
    assert.match(r.out, /^No images yet/);
  });

  it('imports an archive and lists it', async () => {
    const dataDir = join(dir, 'data');
    await writeFile(join(dir, 'bb.tar'), ociLayoutTar(image, { name: 'docker.io/library/busybox:test' }));
    const r = await runVerb(importCmd, [join(dir, 'bb.tar')], { dataDir });
    assert.match(r.out, new RegExp(`^Imported busybox:test ${image.digest} \\(linux/amd64, `, 'm'));
    const list = await runVerb(listCmd, [], { dataDir });
    assert.match(list.out, /^IMAGE\s+DIGEST\s+PLATFORM\s+SIZE\s+UNPACKED\s+STORED$/m);
    assert.match(list.out, new RegExp(`^busybox:test\\s+${image.digest.slice(0, 19)}\\s+linux/amd64\\s+\\S+ \\S+\\s+yes\\s`, 'm'));
    const json = JSON.parse((await runVerb(listCmd, [], { dataDir }, true)).out) as { ref: string; unpacked: boolean }[];
    assert.deepEqual(json.map((i) => [i.ref, i.unpacked]), [['docker.io/library/busybox:test', true]]);
  });

  it('pulls from a registry, printing progress on stderr', async () => {
    const dataDir = join(dir, 'pulled');
    const r = await runVerb(pullCmd, [`${registry.host}/cli/app:v1`], { dataDir });
    assert.match(r.out, new RegExp(`^Pulled ${registry.host.replace(/\./g, '\\.')}/cli/app:v1 ${image.digest}`, 'm'));
    assert.match(r.err, /^downloading sha256:/m);
    assert.match(r.err, /^unpacking /m);
    const json = JSON.parse((await runVerb(pullCmd, [`${registry.host}/cli/app:v1`], { dataDir, unpack: false }, true)).out) as { digest: string };
    assert.equal(json.digest, image.digest);
    const list = await runVerb(listCmd, [], { dataDir });
    assert.match(list.out, new RegExp(`^${registry.host.replace(/\./g, '\\.')}/cli/app:v1\\s`, 'm'));
  });

  it('fails with coded errors naming the ref or archive', async () => {
    const dataDir = join(dir, 'data');
    await assert.rejects(runVerb(pullCmd, [`${registry.host}/cli/app:missing`], { dataDir }), (e: unknown) => isImageError(e) && e.code === 'HANGAR_ERR_IMAGE_NOT_FOUND' && e.message.includes('cli/app:missing'));
    await assert.rejects(runVerb(importCmd, [join(dir, 'absent.tar')], { dataDir }), (e: unknown) => isImageError(e) && e.code === 'HANGAR_ERR_IMAGE_ARCHIVE' && e.message.includes('absent.tar'));
    await assert.rejects(runVerb(pullCmd, ['x'], { dataDir, platform: 'linux' }), (e: unknown) => isImageError(e) && e.code === 'HANGAR_ERR_IMAGE_REF');
  });
});
