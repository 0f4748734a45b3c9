import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/main.js';
import { captureIo as capture } from '../helpers/io.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));


/** Runs the CLI in a temp folder holding `toml` as fly.toml (plus extra files). */
async function runIn(toml: string, argv: string[], extra: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-machines-'));
  try {
    writeFileSync(join(dir, 'fly.toml'), toml);
    for (const [name, content] of Object.entries(extra)) writeFileSync(join(dir, name), content);
    const io = capture();
    const code = await run([...argv, '-c', dir], io);
    return { code, out: io.out, err: io.err };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('golden: config machines --json for examples/web-worker equals machines.expected.json', async () => {
  const io = capture();
  const code = await run(['config', 'machines', '--json', '-c', join(repoRoot, 'examples/web-worker/fly.toml')], io);
  assert.equal(io.err, '');
  assert.equal(code, 0);
  const expected: unknown = JSON.parse(readFileSync(join(repoRoot, 'examples/web-worker/machines.expected.json'), 'utf8'));
  assert.deepEqual(JSON.parse(io.out), expected);
});

test('--json: groups in sorted order and release_command null when there is none', async () => {
  const res = await runIn('[processes]\nzeta = "z"\nalpha = "a"\n', ['config', 'machines', '--json']);
  assert.equal(res.code, 0);
  const parsed = JSON.parse(res.out) as { groups: Record<string, { image: string }>; release_command: unknown };
  assert.deepEqual(Object.keys(parsed.groups), ['alpha', 'zeta']);
  assert.equal(parsed.release_command, null);
  assert.equal(parsed.groups.alpha?.image, 'image-to-build', 'placeholder when no --image and no [build] image');
});

test('image: --image wins over [build] image', async () => {
  const toml = '[build]\nimage = "from/build:1"\n';
  const fromBuild = JSON.parse((await runIn(toml, ['config', 'machines', '--json'])).out) as { groups: { app: { image: string } } };
  assert.equal(fromBuild.groups.app.image, 'from/build:1');
  const flag = JSON.parse((await runIn(toml, ['config', 'machines', '--json', '-i', 'flag/img:2'])).out) as { groups: { app: { image: string } } };
  assert.equal(flag.groups.app.image, 'flag/img:2');
});

test('local_path files are read relative to the fly.toml folder', async () => {
  const toml = '[[files]]\nguest_path = "/etc/conf"\nlocal_path = "conf.txt"\n';
  const res = await runIn(toml, ['config', 'machines', '--json'], { 'conf.txt': 'hello' });
  assert.equal(res.code, 0);
  const parsed = JSON.parse(res.out) as { groups: { app: { files: unknown } } };
  assert.deepEqual(parsed.groups.app.files, [{ guest_path: '/etc/conf', raw_value: 'aGVsbG8=' }]);
});

test('plan errors exit 1 and list every error', async () => {
  // Problems only the planner finds (the normalizer reports the rest first, see the next test).
  const toml = ['[processes]', 'web = "serve"', '[checks.alive]', 'type = "tcp"', 'processes = ["web"]', '[[files]]', 'guest_path = "/x"', 'local_path = "missing.txt"', 'processes = ["web"]'].join('\n');
  const res = await runIn(toml, ['config', 'machines']);
  assert.equal(res.code, 1);
  assert.equal(res.out, '');
  assert.match(res.err, /cannot plan machines for/);
  assert.match(res.err, /checks\.alive: Converting to machine in process group 'web' will fail because of: Check 'alive' for process group 'web' has no port set/);
  assert.match(res.err, /files\[0\]\.local_path: Converting to machine in process group 'web' will fail because of: could not read file missing\.txt/);
});

test('config errors exit 1 before planning', async () => {
  const dup = await runIn('app = "x"\napp = "y"\n', ['config', 'machines', '--json']);
  assert.equal(dup.code, 1);
  assert.equal(dup.out, '');
  assert.match(dup.err, /not a valid app configuration/);
  const split = await runIn('[processes]\nweb = "echo \\"x"\n', ['config', 'machines', '--json']);
  assert.equal(split.code, 1);
  assert.equal(split.out, '');
  assert.match(split.err, /processes\.web: .*EOF found when expecting closing quote/);
});

test('a missing fly.toml exits 1', async () => {
  const io = capture();
  const code = await run(['config', 'machines', '-c', join(tmpdir(), 'no-such-dir-hangar', 'fly.toml')], io);
  assert.equal(code, 1);
  assert.match(io.err, /no app config found/);
});

test('without --json: a readable summary per group and the release command', async () => {
  const io = capture();
  const code = await run(['config', 'machines', '-c', join(repoRoot, 'examples/web-worker')], io);
  assert.equal(code, 0);
  const text = io.out;
  assert.match(text, /^Process group 'web'$/m);
  assert.match(text, /^Process group 'worker'$/m);
  assert.match(text, /^Release command \(fly_app_release_command\)$/m);
  assert.match(text, /guest: +shared, 2 CPUs, 1024 MB/);
  assert.match(text, /guest: +performance, 1 CPU, 4096 MB/);
  assert.match(text, /command: +\["bundle","exec","puma","-C","config\/puma.rb"\]/);
  assert.match(text, /services: +tcp 8080 <- 80 \[http\] \(force https\), 443 \[http,tls\], 1 check/);
  assert.match(text, /mounts: +worker_data -> \/data/);
  assert.match(text, /checks: +web_alive: http :8080 GET \/healthz every 30s/);
  assert.ok(text.indexOf("'web'") < text.indexOf("'worker'"));
});
