/**
 * The crun driver's warm containers (src/drivers/crun/warm.ts) against real crun: a start of a
 * kind seen before runs in a container set up ahead, with hangar-init handing over to the
 * machine's command. These machines have no volumes (a volume makes a start cold), so the
 * fixture programs are baked into the test image here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CrunDriver, parseCrunHandle } from '../../src/drivers/crun/index.js';
import { initBinary } from '../../src/drivers/crun/init.js';
import { sparesSupported } from '../../src/drivers/crun/spares.js';
import { warmPrefix } from '../../src/drivers/crun/warm.js';
import { DriverError, type TaskHandle, type TaskSpec } from '../../src/drivers/types.js';
import { ImageStore } from '../../src/images/store.js';
import { buildImage, ociLayoutTar, type TarEntry } from '../helpers/images.js';
import { hostNetworkLock } from '../helpers/host-lock.js';
import { waitFor } from '../helpers/wait.js';
import { PROGRAMS_DIR, driverConformance, isLine, programSpec, waitForLine } from './conformance.js';
import { adaptedDriver, crunList, hostLayout, leftovers, readText, testImageEntries } from './crun-helpers.js';

let releaseHostLock: (() => void) | undefined;
before(async () => {
  releaseHostLock = await hostNetworkLock();
});
after(() => releaseHostLock?.());

const dataDir = mkdtempSync(join(tmpdir(), 'hangar-crun-warm-test-'));
const probe = new CrunDriver({ dataDir });
const fp = await probe.fingerprint();
await probe.close();
const skipReason =
  process.getuid?.() !== 0
    ? 'not root'
    : !fp.available
      ? fp.reason
      : !sparesSupported(hostLayout())
        ? 'a cgroup v2 controller cannot be renamed: no warm containers on this host'
        : initBinary() === undefined
          ? 'hangar-init was not built (no C compiler at build time)'
          : undefined;
if (skipReason) console.log(`# crun warm-container tests skipped: ${skipReason}`);

const WARM_REF = 'hangar-test/crun-node-programs:1';

let images: ImageStore | undefined;
if (!skipReason) {
  images = await ImageStore.open({ dataDir });
  const programs: TarEntry[] = readdirSync(PROGRAMS_DIR).map((f) => ({ path: join(PROGRAMS_DIR, f).slice(1), body: readFileSync(join(PROGRAMS_DIR, f)), mode: 0o644 }));
  const built = buildImage({ layers: [{ entries: [...testImageEntries(), ...programs] }], config: { Env: ['PATH=/usr/bin:/bin'], WorkingDir: PROGRAMS_DIR } });
  const tar = join(dataDir, 'image.tar');
  writeFileSync(tar, ociLayoutTar(built));
  await images.import(tar, { ref: WARM_REF });
}

const opts = (over: { dataDir?: string } = {}) => ({ dataDir, pollMs: 50, ...(images ? { images } : {}), ...over });

/** The conformance suite's specs, on the image that holds the programs: no volume, so starts may be warm. */
function adapt(spec: TaskSpec): TaskSpec {
  return { ...spec, image: WARM_REF, config: { ...spec.config, image: WARM_REF } };
}

/** Names of the warm containers of a data dir's driver that are set up and not taken (their init waits). */
function warmReady(dir: string): string[] {
  const root = join(dir, 'crun');
  try {
    return readdirSync(root).filter((n) => n.startsWith(warmPrefix(root)) && existsSync(join(root, n, 'init.pid')) && !existsSync(join(root, n, 'machine')));
  } catch {
    return [];
  }
}

/** Everything on the host named for a data dir's warm containers: bundles, cgroups, netns, runtime state, processes. */
function warmTraces(dir: string): string[] {
  const root = join(dir, 'crun');
  const prefix = warmPrefix(root);
  const out: string[] = [];
  try {
    out.push(...readdirSync(root).filter((n) => n.startsWith(prefix)).map((n) => `bundle ${n}`));
  } catch {
    // no crun dir
  }
  for (const m of new Set(Object.values(hostLayout().controllers).map((c) => join(c.path, 'hangar')))) {
    try {
      out.push(...readdirSync(m).filter((n) => n.startsWith(prefix)).map((n) => `cgroup ${m}/${n}`));
    } catch {
      // no hangar cgroups
    }
  }
  try {
    out.push(...readdirSync('/run/netns').filter((n) => n.startsWith(prefix)).map((n) => `netns ${n}`));
  } catch {
    // no netns dir
  }
  out.push(...crunList().split('\n').filter((n) => n.startsWith(prefix)).map((n) => `crun container ${n}`));
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const cmd = readText(`/proc/${pid}/cmdline`);
    const st = readText(`/proc/${pid}/stat`);
    if (cmd.includes(prefix) && !st.slice(st.lastIndexOf(')') + 2).startsWith('Z')) out.push(`process ${pid} ${cmd.replace(/\0/g, ' ').slice(0, 80)}`);
  }
  return out;
}

if (skipReason) {
  test('crun warm containers against real crun', { skip: skipReason }, () => {});
} else {
  driverConformance('crun (warm containers)', () => adaptedDriver(new CrunDriver(opts()), adapt), { leftovers });

  describe('crun warm containers', () => {
    const stateRoot = mkdtempSync(join(tmpdir(), 'hangar-crun-warm-state-'));
    const drivers: CrunDriver[] = [];
    const started: [CrunDriver, TaskHandle][] = [];
    const driver = new CrunDriver(opts());
    drivers.push(driver);
    const sh = (script: string) => adapt(programSpec(stateRoot, [], { exec: ['/bin/sh', '-c', script] }));
    const start = async (s: TaskSpec, d = driver) => {
      const h = await d.start(s);
      started.push([d, h]);
      return h;
    };
    const isWarm = (h: TaskHandle) => parseCrunHandle(h).container_id.startsWith('hangar-warm-');
    const untilWarm = (dir = dataDir) => waitFor('a warm container to be ready', () => warmReady(dir).length > 0, 20_000);

    after(async () => {
      for (const [d, h] of started) await d.destroy(h).catch(() => {});
      for (const d of drivers) await d.close();
      rmSync(stateRoot, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('a start of a known kind runs in a warm container, exactly as the cold start of the same machine runs (files[] included)', { timeout: 60_000 }, async () => {
      const script = [
        'echo "$(id -u):$(id -g) $(hostname) $(cat /etc/hostname) $(pwd) $HANGAR_TEST_VAR"',
        "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status",
        "grep 'open files' /proc/self/limits",
        'ls -a /dev',
        'ls -a /',
        "stat -c '%a %u %g %s' /etc/app /etc/app/conf.txt /tmp/data.bin",
        'cat /etc/app/conf.txt',
        'echo ready',
        'exec sleep 600',
      ].join('; ');
      // files[]: one in a directory the image lacks, one in one it has
      const files = [
        { guest_path: '/etc/app/conf.txt', raw_value: Buffer.from('hello file\n').toString('base64'), mode: 0o600 },
        { guest_path: '/tmp/data.bin', raw_value: Buffer.from([0, 1, 2, 255, 10]).toString('base64') },
      ];
      const withFiles = (t: TaskSpec): TaskSpec => ({ ...t, config: { ...t.config, files } });
      const coldSpec = withFiles(sh(script));
      const cold = await start(coldSpec);
      assert.equal(isWarm(cold), false, 'the first start of a kind is cold');
      await untilWarm();
      const warmSpec = withFiles(sh(script));
      const guest = { cpu_kind: 'shared', cpus: 1, memory_mb: 384 } as const;
      const warm = await start({ ...warmSpec, config: { ...warmSpec.config, guest } });
      assert.equal(isWarm(warm), true, 'the second start took a warm container');
      const out = async (h: TaskHandle) => {
        await waitForLine(driver, h, isLine('ready'));
        return readFileSync(parseCrunHandle(h).stdout_path, 'utf8');
      };
      const [a, b] = [await out(cold), await out(warm)];
      assert.equal(b.replaceAll(warmSpec.machineId, 'M'), a.replaceAll(coldSpec.machineId, 'M'), 'same user, hostname, cwd, env, capabilities, limits, /dev and root');
      assert.match(b, new RegExp(`^0:0 ${warmSpec.machineId} ${warmSpec.machineId} ${PROGRAMS_DIR} from-machine$`, 'm'));
      assert.match(b, /^755 0 0 \d+\n600 0 0 11\n644 0 0 5\nhello file$/m, 'the files, their modes, owners and sizes');
      const h = parseCrunHandle(warm);
      assert.equal(readFileSync(join(h.cgroup.dirs.memory ?? '', 'memory.limit_in_bytes'), 'utf8').trim(), String(384 * 1024 * 1024), "the machine's memory limit");
      assert.ok(readFileSync(join(h.cgroup.dirs.memory ?? '', 'cgroup.procs'), 'utf8').split('\n').includes(String(h.pid)), "the machine runs in its own cgroup");
      const r = await driver.exec(warm, { argv: ['/bin/sh', '-c', 'echo "$HANGAR_TEST_VAR $(pwd)"; grep CapEff /proc/self/status'], timeoutMs: 20_000 });
      assert.equal(r.exit_code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^from-machine ${PROGRAMS_DIR}\n`), "exec runs with the machine's process, not the init's");
      assert.equal(r.stdout.split('\n')[1], a.split('\n').find((l) => l.startsWith('CapEff')), 'exec has the machine capabilities');
    });

    test('a machine whose command is missing fails its start as a cold one does, and leaves nothing of the warm container', { timeout: 60_000 }, async () => {
      await untilWarm();
      const s = adapt(programSpec(stateRoot, [], { exec: ['no-such-command'] }));
      const before = new Set(warmReady(dataDir));
      let message = '';
      await assert.rejects(driver.start(s), (e: unknown) => {
        message = (e as Error).message;
        return e instanceof DriverError && e.code === 'HANGAR_ERR_DRIVER_START';
      });
      assert.match(message, /executable file `no-such-command` not found in \$PATH/);
      const used = [...before].filter((n) => !warmReady(dataDir).includes(n));
      assert.equal(used.length, 1, 'it was a warm start');
      const name = used[0] as string;
      assert.equal(existsSync(join(dataDir, 'crun', name)), false, 'bundle removed');
      assert.equal(crunList().split('\n').includes(name), false, 'no container');
      assert.equal(existsSync(`/run/netns/${name}`), false, 'netns removed');
      assert.deepEqual(warmTraces(dataDir).filter((t) => t.includes(name)), []);
    });

    test('a machine allocating past memory_mb in a warm container is OOM-killed and says so', { timeout: 60_000 }, async () => {
      await untilWarm();
      const s = adapt(programSpec(stateRoot, [], { exec: [process.execPath, '-e', 'const a=[];for(;;){a.push(Buffer.alloc(16<<20,1))}'] }));
      const h = await start({ ...s, config: { ...s.config, guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 } } });
      assert.equal(isWarm(h), true);
      const r = await driver.wait(h);
      assert.equal(r.oom_killed, true, JSON.stringify(r));
      assert.equal(r.signal, 'SIGKILL');
    });

    test('stop, destroy and a new start: the root filesystem is fresh, and nothing of the first run is left', { timeout: 60_000 }, async () => {
      await untilWarm();
      const s = sh('if [ -e /written ]; then echo stale; else echo fresh; fi; echo x >/written; echo ready; exec sleep 600');
      const h1 = await start(s);
      assert.equal(isWarm(h1), true);
      await waitForLine(driver, h1, isLine('ready'));
      assert.ok(readFileSync(parseCrunHandle(h1).stdout_path, 'utf8').includes('fresh\n'));
      await driver.stop(h1, { signal: 'SIGKILL', timeoutMs: 5000 });
      await driver.destroy(h1);
      assert.deepEqual(leftovers(h1), []);
      await untilWarm();
      const h2 = await start(s);
      await waitForLine(driver, h2, isLine('ready'));
      assert.ok(readFileSync(parseCrunHandle(h2).stdout_path, 'utf8').includes('fresh\n'), 'the file written by the first run is gone');
    });

    test('a warm start whose handle was lost (its agent died before storing it): the next start of that machine ends it and removes its container', { timeout: 60_000 }, async () => {
      await untilWarm();
      const s = sh('echo ready; exec sleep 600');
      const lost = parseCrunHandle(await driver.start(s)); // never stored: only the machine's cgroup says it runs
      assert.equal(isWarm(lost), true);
      await waitForLine(driver, lost, isLine('ready'));
      // a new agent's driver, which knows nothing of it, starts the same machine version
      const d2 = new CrunDriver(opts());
      drivers.push(d2);
      const h = parseCrunHandle(await start(s, d2));
      await waitForLine(d2, h, isLine('ready'));
      // killed with its monitor, so no status was recorded: the first driver sees it end, status unknown
      assert.equal((await driver.wait(lost)).exit_code_unknown, true, 'the lost run was killed');
      assert.equal(existsSync(`/proc/${lost.pid}/stat`) && !readText(`/proc/${lost.pid}/stat`).includes(') Z '), false, 'its process is gone');
      const procs = readFileSync(join(h.cgroup.dirs.memory ?? '', 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      assert.ok(procs.includes(String(h.pid)) && !procs.includes(String(lost.pid)), `one run of the machine: ${procs.join(' ')}`);
      assert.equal(existsSync(lost.bundle), false, "the lost run's bundle is removed");
      assert.equal(crunList().split('\n').includes(lost.container_id), false, 'and its container');
      assert.equal(existsSync(`/run/netns/${lost.netns}`), false, 'and its netns');
    });

    test('close ends the warm containers not taken and removes all they had', { timeout: 60_000 }, async () => {
      const own = mkdtempSync(join(tmpdir(), 'hangar-crun-warm-close-'));
      const d = new CrunDriver(opts({ dataDir: own }));
      try {
        const h = await d.start(sh('echo ready; exec sleep 600'));
        await waitFor('three warm containers', () => warmReady(own).length === 3, 20_000);
        await d.destroy(h);
        await d.close();
        assert.deepEqual(warmTraces(own), []);
      } finally {
        await d.close();
        rmSync(own, { recursive: true, force: true });
      }
    });

    test('an agent killed with warm containers ready: they remove themselves, and the next driver their netns', { timeout: 60_000 }, async () => {
      const own = mkdtempSync(join(tmpdir(), 'hangar-crun-warm-crash-'));
      const mod = (f: string) => JSON.stringify(new URL(`../../src/${f}`, import.meta.url).href);
      const first = sh('echo ready; exec sleep 600');
      const script = [
        `const { CrunDriver } = await import(${mod('drivers/crun/index.js')});`,
        `const { ImageStore } = await import(${mod('images/store.js')});`,
        `const images = await ImageStore.open({ dataDir: ${JSON.stringify(dataDir)} });`,
        `const d = new CrunDriver({ dataDir: ${JSON.stringify(own)}, images, pollMs: 50 });`,
        `console.log(JSON.stringify(await d.start(${JSON.stringify(first)})));`,
        'setInterval(() => {}, 1000);',
      ].join('\n');
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      const d2 = new CrunDriver(opts({ dataDir: own }));
      try {
        await waitFor('the agent to have warm containers', () => warmReady(own).length === 3, 20_000);
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
        await waitFor('their bundles and cgroups to go', () => warmTraces(own).every((t) => t.startsWith('netns ')), 20_000);
        assert.equal(warmTraces(own).length, 3, 'each left its netns (not its to remove)');
        // The next driver of the data dir: its first warm-eligible start sweeps.
        const h = await d2.start(sh('echo ready; exec sleep 600'));
        await waitFor('the netns of the dead agent’s containers to go', () => !warmTraces(own).some((t) => t.startsWith('netns ') && !t.includes(`-${process.pid}-`)), 10_000);
        const firstHandle = JSON.parse(out.trim()) as TaskHandle;
        assert.equal((await d2.recover(firstHandle)).valueOf(), 'running', "the dead agent's machine runs on");
        for (const x of [h, firstHandle]) {
          await d2.destroy(x);
          assert.deepEqual(leftovers(x), []);
        }
        await d2.close();
        assert.deepEqual(warmTraces(own), []);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await d2.close();
        rmSync(own, { recursive: true, force: true });
      }
    });
  });

  // The host must be as it was: no warm container of these drivers is left.
  after(() => {
    assert.deepEqual(warmTraces(dataDir), []);
  });
}
