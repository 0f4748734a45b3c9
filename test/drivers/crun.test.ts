import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CrunDriver, exitResult, parseCrunHandle, containerId, netnsName, type CrunHandle } from '../../src/drivers/crun/index.js';
import { cgroupLayout, limitWrites, parseCgroupMounts, parseOomKills, sharesToWeight, isOurs, type CgroupLayout } from '../../src/drivers/crun/cgroups.js';
import { buildOciSpec, GATE_TIMEOUT_S, nofileLimit, parseNofileHard } from '../../src/drivers/crun/oci-spec.js';
import { hostsFile, resolvConf } from '../../src/drivers/crun/etc.js';
import { execProcess } from '../../src/drivers/crun/exec.js';
import { monitorArgv, openGate, overlayPathProblem } from '../../src/drivers/crun/monitor.js';
import { runArgv } from '../../src/drivers/crun/runtime.js';
import { lookupIdFile } from '../../src/drivers/crun/rootfs.js';
import { spareInput, sparePrefix, sparesSupported } from '../../src/drivers/crun/spares.js';
import { DriverError, type TaskHandle, type TaskSpec } from '../../src/drivers/types.js';
import { ImageStore } from '../../src/images/store.js';
import { buildImage, ociLayoutTar } from '../helpers/images.js';
import { PROGRAMS_DIR, driverConformance, isLine, programSpec, waitForLine } from './conformance.js';
import { adaptedDriver, crunList, hostLayout, IMAGE_REF, leftovers, readText, testImageEntries } from './crun-helpers.js';
import { waitFor } from '../helpers/wait.js';
import { hostNetworkLock } from '../helpers/host-lock.js';

// Suites that change the host's network run one at a time (see test/helpers/host-lock.ts).
let releaseHostLock: (() => void) | undefined;
before(async () => {
  releaseHostLock = await hostNetworkLock();
});
after(() => releaseHostLock?.());

// ---------------------------------------------------------------- pure parts (run everywhere)

const HYBRID_MOUNTINFO = [
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '30 23 0:25 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:26 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '32 30 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '33 30 0:28 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '34 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '35 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

describe('crun driver: pure parts', () => {
  test('cgroup layouts: hybrid, v1 (co-mounted cpu,cpuacct), v2', () => {
    const hybrid = cgroupLayout(parseCgroupMounts(HYBRID_MOUNTINFO));
    assert.equal(hybrid.mode, 'hybrid');
    assert.equal(hybrid.hybridUnified, '/sys/fs/cgroup/unified');
    assert.equal(hybrid.controllers.memory?.path, '/sys/fs/cgroup/memory');
    assert.equal(hybrid.controllers.cpu?.version, 1);
    const v1 = cgroupLayout(parseCgroupMounts('31 30 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n32 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory'));
    assert.equal(v1.mode, 'v1');
    assert.equal(v1.controllers.cpu?.path, '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(v1.controllers.pids, undefined);
    const v2 = cgroupLayout([{ path: '/sys/fs/cgroup', version: 2, controllers: ['cpu', 'memory', 'pids', 'io'] }]);
    assert.equal(v2.mode, 'v2');
    assert.equal(v2.controllers.memory?.version, 2);
    assert.equal(v2.hybridUnified, undefined);
  });

  test('limits from guest for v1 and v2', () => {
    const guest = { cpu_kind: 'performance', cpus: 2, memory_mb: 256 };
    const v1 = limitWrites(guest, 100, { memory: 1, pids: 1, cpu: 1 });
    const get = (ws: typeof v1, f: string) => ws.find((w) => w.file === f)?.value;
    assert.equal(get(v1, 'memory.limit_in_bytes'), String(256 * 1024 * 1024));
    assert.equal(get(v1, 'pids.max'), '100');
    assert.equal(get(v1, 'cpu.cfs_quota_us'), '200000');
    assert.equal(get(v1, 'cpu.shares'), '2048');
    const v2 = limitWrites({ cpu_kind: 'shared', cpus: 1, memory_mb: 512 }, 50, { memory: 2, pids: 2, cpu: 2 });
    assert.equal(get(v2, 'memory.max'), String(512 * 1024 * 1024));
    assert.equal(get(v2, 'cpu.max'), '100000 100000');
    assert.equal(get(v2, 'cpu.weight'), String(sharesToWeight(64)));
    assert.equal(get(limitWrites(undefined, 10, { memory: 1 }), 'memory.limit_in_bytes'), String(256 * 1024 * 1024), 'default guest');
  });

  test('OOM counters, nofile limits, ownership of cgroup paths', () => {
    assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n'), 2);
    assert.equal(parseOomKills('low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n'), 1);
    assert.equal(parseOomKills(''), 0);
    assert.equal(parseNofileHard('Max open files            1024                 20000                files\n'), 20000);
    assert.equal(nofileLimit(20000), 20000);
    assert.equal(nofileLimit(undefined), 1024);
    assert.equal(isOurs('/sys/fs/cgroup/memory/hangar/hangar-abc-01'), true);
    assert.equal(isOurs('/sys/fs/cgroup/memory/process_api/x'), false);
  });

  test('spare monitors: only on all-v1 layouts; labels per data dir; stdin hand-over', () => {
    assert.equal(sparesSupported(cgroupLayout(parseCgroupMounts(HYBRID_MOUNTINFO))), true, 'hybrid with every controller on v1');
    assert.equal(sparesSupported(cgroupLayout([{ path: '/sys/fs/cgroup', version: 2, controllers: ['cpu', 'memory', 'pids'] }])), false, 'v2 cannot rename');
    assert.match(sparePrefix('/a/crun'), /^hangar-spare-[0-9a-f]{8}-$/);
    assert.ok(isOurs(`/sys/fs/cgroup/memory/hangar/${sparePrefix('/a/crun')}1-1`), 'removable like a machine cgroup');
    assert.notEqual(sparePrefix('/a/crun'), sparePrefix('/b/crun'));
    const params = { bundle: '/b', lower: '/lo', runtimeArgv: ['/usr/bin/crun', 'run', 'x'] };
    assert.equal(spareInput(params, '/s/out', '/s/err'), '/b\n/lo\n/s/out\n/s/err\n/usr/bin/crun\nrun\nx\n\n');
    assert.throws(() => spareInput({ ...params, runtimeArgv: ['crun', ''] }, '/o', '/e'));
    assert.throws(() => spareInput({ ...params, bundle: '/b/a\nb' }, '/o', '/e'));
  });

  test('exit statuses: codes, signals, OOM, unknown', () => {
    assert.deepEqual({ ...exitResult(3, false), exited_at: '' }, { exit_code: 3, oom_killed: false, exited_at: '' });
    const killed = exitResult(137, true);
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(killed.oom_killed, true);
    assert.equal(exitResult(143, true).oom_killed, false, 'only a SIGKILL is an OOM kill');
    assert.equal(exitResult(undefined, false).exit_code_unknown, true);
  });

  test('names, handles and argv', () => {
    assert.equal(containerId('3d8d9e1b2c4f87', '01HZZZZZZZZZZZZZZZZZZZ0001'), 'hangar-3d8d9e1b2c4f87-zzzzzz0001');
    assert.equal(netnsName('3d8d9e1b2c4f87'), 'hangar-3d8d9e1b2c4f87');
    assert.throws(() => containerId('../x', 'y'), (e: unknown) => e instanceof DriverError && e.code === 'HANGAR_ERR_DRIVER_START');
    assert.throws(() => parseCrunHandle({ driver: 'process', version: 1, machine_id: 'x', instance_id: 'y' }), (e: unknown) => e instanceof DriverError && e.code === 'HANGAR_ERR_DRIVER_HANDLE');
    assert.throws(() => parseCrunHandle({ driver: 'crun', version: 1, machine_id: 'x', instance_id: 'y' }), (e: unknown) => e instanceof DriverError && e.code === 'HANGAR_ERR_DRIVER_HANDLE');
    assert.equal(overlayPathProblem('/data/a,b'), '/data/a,b contains a character overlayfs mount options cannot carry (, : \\ or newline)');
    assert.equal(overlayPathProblem('/data/ok'), undefined);
    const argv = monitorArgv({ script: '/s', unmount: '', bundle: '/b', lower: '/lo', runtimeArgv: ['crun', 'run', 'x'] });
    assert.deepEqual(argv, ['-m', '--propagation', 'slave', '--', '/bin/sh', '/s', 'run', '', '/b', '/lo', 'crun', 'run', 'x']);
    const rt = { kind: 'crun' as const, path: '/usr/bin/crun', root: '/run/crun' };
    assert.deepEqual(runArgv(rt, 'hangar-m-1'), ['/usr/bin/crun', '--root', '/run/crun', '--log=file:runtime.log', '--cgroup-manager=disabled', 'run', '--bundle', '.', '--pid-file', 'init.pid', 'hangar-m-1'], 'relative to the bundle dir, where the monitor runs it');
  });

  test('config.json, /etc files, exec process, passwd lookup', () => {
    const spec = buildOciSpec({ args: ['/app'], env: { B: '2', A: '1' }, cwd: '/w', uid: 1, gid: 2, hostname: 'm1', rootfs: '/b/rootfs', netnsPath: '/run/netns/hangar-m1', binds: [{ destination: '/data', source: '/vol' }], nofile: 20000 }) as {
      process: { env: string[]; rlimits: { hard: number }[]; user: { uid: number } };
      linux: { namespaces: { type: string; path?: string }[]; cgroupsPath?: string };
      mounts: { destination: string; options?: string[] }[];
      hostname: string;
    };
    assert.deepEqual(spec.process.env, ['A=1', 'B=2']);
    assert.equal(spec.process.rlimits[0]?.hard, 20000);
    assert.deepEqual(spec.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
    assert.equal(spec.linux.namespaces.find((n) => n.type === 'network')?.path, '/run/netns/hangar-m1');
    assert.equal(spec.linux.cgroupsPath, undefined);
    assert.deepEqual(spec.mounts.find((m) => m.destination === '/data')?.options, ['rbind', 'rw']);
    assert.equal(spec.hostname, 'm1');
    assert.match(hostsFile({ hostname: 'm1', privateIp: 'fdaa:0:1::2' }), /fdaa:0:1::2\tfly-local-6pn/);
    assert.equal(resolvConf({ hostname: 'm1', nameservers: ['fdaa:0:1::3'] }), 'nameserver fdaa:0:1::3\n');
    assert.equal(resolvConf({ hostname: 'm1', dns: { nameservers: ['1.1.1.1'], searches: ['x'], options: [{ name: 'ndots', value: '2' }] } }), 'nameserver 1.1.1.1\nsearch x\noptions ndots:2\n');
    assert.equal(resolvConf({ hostname: 'm1' }), 'nameserver fdaa::3\n');
    assert.deepEqual(execProcess({ env: ['A=1', 'B=2'], cwd: '/w' }, ['ls'], { B: '3' }), { env: ['A=1', 'B=3'], cwd: '/w', terminal: false, args: ['ls'] });
    assert.deepEqual(lookupIdFile('root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n', 'app'), { id: 1000, gid: 1001 });
    assert.equal((spec as { hooks?: unknown }).hooks, undefined, 'no gate: no hooks');
  });

  test('a start gate is a createContainer hook that reads its state, then opens the FIFO', () => {
    const base = { args: ['/app'], env: {}, cwd: '/', uid: 0, gid: 0, hostname: 'm1', rootfs: '/b/rootfs', netnsPath: '/run/netns/x', binds: [], nofile: 1024 };
    const spec = buildOciSpec({ ...base, gate: '/b/gate' }) as { hooks: Record<string, { path: string; args: string[]; timeout: number }[]> };
    assert.deepEqual(Object.keys(spec.hooks), ['createContainer']);
    const [hook] = spec.hooks['createContainer'] ?? [];
    assert.equal(hook?.path, '/bin/sh');
    assert.equal(hook?.args.at(-1), '/b/gate', 'the FIFO is an argument, not part of the script');
    assert.equal(hook?.timeout, GATE_TIMEOUT_S);
  });
});

describe('crun driver: the start gate (a real FIFO)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-gate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const fifo = () => {
    const p = join(dir, `gate${++n}`);
    execFileSync('mkfifo', [p]);
    return p;
  };
  /** The hook's part: blocks opening the FIFO for reading, as the runtime's hook does. */
  const reader = (p: string) => {
    const child = spawn('/bin/sh', ['-c', ': <"$1"', 'gate', p], { stdio: 'ignore' });
    const done = new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { pid: child.pid ?? 0, done };
  };
  /** Whether `pid` is blocked opening a FIFO that has no writer yet (the kernel's wait_for_partner). */
  const waitingForWriter = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/wchan`, 'utf8') === 'wait_for_partner';
    } catch {
      return false;
    }
  };
  const never = new Promise<number>(() => {});

  test('a reader already waiting: opened at once', async () => {
    const p = fifo();
    const r = reader(p);
    await waitFor('the reader to block in its open', () => waitingForWriter(r.pid));
    assert.equal(await openGate(p, never), true);
    assert.equal(await r.done, 0, 'the hook returned');
  });

  test('no reader yet: waits for it', async () => {
    const p = fifo();
    const opened = openGate(p, never);
    await new Promise((r) => setTimeout(r, 50));
    const r = reader(p);
    assert.equal(await opened, true);
    assert.equal(await r.done, 0);
  });

  test('a monitor that exits before its runtime reached the gate: false, and no open left blocked', async () => {
    const p = fifo();
    let exit!: (code: number) => void;
    const exited = new Promise<number>((r) => (exit = r));
    const opened = openGate(p, exited);
    await new Promise((r) => setTimeout(r, 50));
    exit(1);
    assert.equal(await opened, false, 'it returns only once its own pending open was released and closed');
    // Nothing of the gate's stays open: a later reader is not let through.
    const late = reader(p);
    await waitFor('a later reader to block', () => waitingForWriter(late.pid));
    process.kill(late.pid, 'SIGKILL');
    await late.done;
  });

  test('a missing FIFO is an error', async () => {
    await assert.rejects(openGate(join(dir, 'missing'), never), /ENOENT/);
  });
});

// ---------------------------------------------------------------- real crun

const dataDir = mkdtempSync(join(tmpdir(), 'hangar-crun-test-'));
const probe = new CrunDriver({ dataDir });
const fp = await probe.fingerprint();
await probe.close();
const skipReason = process.getuid?.() !== 0 ? 'not root' : fp.available ? undefined : fp.reason;
if (skipReason) console.log(`# crun driver tests skipped: ${skipReason}`);
else console.log(`# crun driver: ${fp.reason ?? ''}`);


let images: ImageStore | undefined;
if (!skipReason) {
  images = await ImageStore.open({ dataDir });
  const tar = join(dataDir, 'image.tar');
  const built = buildImage({ layers: [{ entries: testImageEntries() }], config: { Env: ['PATH=/usr/bin:/bin'], WorkingDir: PROGRAMS_DIR } });
  writeFileSync(tar, ociLayoutTar(built));
  await images.import(tar, { ref: IMAGE_REF });
}

const opts = () => ({ dataDir, pollMs: 50, ...(images ? { images } : {}) });

/**
 * The conformance suite's specs name `dir:<programs>`; for crun the programs come as a volume
 * over the test image (which has node at the host's path), and the image is the test image.
 */
function adapt(spec: TaskSpec): TaskSpec {
  return { ...spec, image: IMAGE_REF, config: { ...spec.config, image: IMAGE_REF }, mounts: [...spec.mounts, { path: PROGRAMS_DIR, hostPath: PROGRAMS_DIR }] };
}

/** Pids of start-gate hooks (oci-spec.ts `gateHook`) blocked on the gate of `bundle`. */
function gateWaiters(bundle: string): string[] {
  return readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && readText(`/proc/${pid}/cmdline`).includes(`hangar-gate\0${bundle}/gate`));
}

/**
 * Whether a spare of the driver of `dataDir` has its gate and is in its own cgroup: the next start
 * can take it. (The driver marks it ready when the cgroup write returns: a turn of the event loop
 * after it shows in `cgroup.procs`.)
 */
function spareWithGate(dataDir: string, layout: CgroupLayout): boolean {
  const memParent = join(layout.controllers.memory?.path ?? '', 'hangar');
  let gates: string[] = [];
  try {
    gates = readdirSync(join(dataDir, 'crun', 'gates'));
  } catch {
    return false;
  }
  return gates.some((n) => readText(join(memParent, n, 'cgroup.procs')).trim() !== '');
}

/** Closes `d` before its data dir goes (a spare refill due later would make its gate dir again), then removes `netns` and the dir. */
async function dropDriver(d: CrunDriver, netns: readonly string[], dataDir: string): Promise<void> {
  await d.close();
  for (const n of netns) if (existsSync(`/run/netns/${n}`)) execFileSync('ip', ['netns', 'delete', n]);
  rmSync(dataDir, { recursive: true, force: true });
}

if (skipReason) {
  test('crun driver against real crun', { skip: skipReason }, () => {});
} else {
  driverConformance('crun', () => adaptedDriver(new CrunDriver(opts()), adapt), { leftovers });

  describe('crun driver', () => {
    const stateRoot = mkdtempSync(join(tmpdir(), 'hangar-crun-state-'));
    const drivers: CrunDriver[] = [];
    const started: [CrunDriver, TaskHandle][] = [];
    const make = () => {
      const d = new CrunDriver(opts());
      drivers.push(d);
      return d;
    };
    const driver = make();
    const spec = (args: string[], over: Parameters<typeof programSpec>[2] = {}) => adapt(programSpec(stateRoot, args, over));
    const start = async (s: TaskSpec, d = driver) => {
      const h = await d.start(s);
      started.push([d, h]);
      return h;
    };
    const sh = (script: string, over: Parameters<typeof programSpec>[2] = {}) => spec([], { exec: ['/bin/sh', '-c', script], ...over });
    const run = async (h: TaskHandle, argv: string[]) => driver.exec(h, { argv, timeoutMs: 20_000 });

    after(async () => {
      for (const [d, h] of started) await d.destroy(h).catch(() => {});
      for (const d of drivers) await d.close();
      rmSync(stateRoot, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('fingerprint says which cgroup mode and workaround apply', async () => {
      const f = await driver.fingerprint();
      assert.equal(f.available, true);
      assert.ok(f.notes.some((n) => /cgroups (v1|v2|hybrid)/.test(n)), JSON.stringify(f.notes));
      assert.equal(f.capabilities.oomDetection, true);
    });

    test('a machine allocating past memory_mb is OOM-killed and says so', { timeout: 60_000 }, async () => {
      const s = spec([], { exec: [process.execPath, '-e', 'const a=[];for(;;){a.push(Buffer.alloc(16<<20,1))}'] });
      const h = await start({ ...s, config: { ...s.config, guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 } } });
      const r = await driver.wait(h);
      assert.equal(r.oom_killed, true, JSON.stringify(r));
      assert.equal(r.signal, 'SIGKILL');
    });

    test('a pids bomb is contained by pids.max', { timeout: 60_000 }, async () => {
      const d = new CrunDriver({ ...opts(), pidsLimit: 32 });
      drivers.push(d);
      const h = await start(sh('echo ready; exec /bin/busybox sleep 600'), d);
      const ch = parseCrunHandle(h);
      await waitForLine(d, h, isLine('ready'));
      const bomb = await d.exec(h, { argv: ['/bin/sh', '-c', 'i=0; while [ $i -lt 200 ]; do /bin/busybox sleep 60 >/dev/null 2>&1 & i=$((i+1)); done'], timeoutMs: 20_000 });
      assert.notEqual(bomb.exit_code, 0, 'the shell could not fork 200 children');
      assert.match(bomb.stderr, /fork|Resource temporarily unavailable/i);
      const current = Number(readFileSync(join(ch.cgroup.dirs.pids ?? '', 'pids.current'), 'utf8'));
      assert.ok(current <= 32, `pids.current ${current}`);
      assert.equal((await d.inspect(h)).running, true, 'the machine itself survives');
    });

    test('root filesystem: reset on stop+start, volume survives, persist honoured, files written', { timeout: 60_000 }, async () => {
      const vol = mkdtempSync(join(tmpdir(), 'hangar-crun-vol-'));
      after(() => rmSync(vol, { recursive: true, force: true }));
      const files = [{ guest_path: '/etc/app/conf.txt', raw_value: Buffer.from('hello file\n').toString('base64'), mode: 0o600 }];
      const base = sh('echo ready; sleep 600', { mounts: [{ path: '/data', hostPath: vol }] });
      const s = { ...base, config: { ...base.config, files } };
      let h = await start(s);
      await waitForLine(driver, h, isLine('ready'));
      assert.equal((await run(h, ['/bin/sh', '-c', 'echo root > /root-file; echo vol > /data/vol-file; cat /etc/app/conf.txt; stat -c %a /etc/app/conf.txt'])).stdout, 'hello file\n600\n');
      await driver.stop(h, { signal: 'SIGKILL', timeoutMs: 1000 });
      h = await start(s);
      await waitForLine(driver, h, isLine('ready'));
      const after1 = await run(h, ['/bin/sh', '-c', 'ls /root-file; cat /data/vol-file']);
      assert.match(after1.stderr, /No such file/);
      assert.equal(after1.stdout, 'vol\n');
      await driver.stop(h, { signal: 'SIGKILL', timeoutMs: 1000 });
      const kept = { ...s, config: { ...s.config, rootfs: { persist: 'restart' as const } } };
      h = await start(kept);
      await waitForLine(driver, h, isLine('ready'));
      await run(h, ['/bin/sh', '-c', 'echo kept > /root-file']);
      await driver.stop(h, { signal: 'SIGKILL', timeoutMs: 1000 });
      h = await start(kept);
      await waitForLine(driver, h, isLine('ready'));
      assert.equal((await run(h, ['/bin/busybox', 'cat', '/root-file'])).stdout, 'kept\n');
    });

    test('hostname, /etc/hosts and /etc/resolv.conf; isolated namespaces', { timeout: 30_000 }, async () => {
      const s = sh('echo ready; exec /bin/busybox sleep 600');
      const h = await start({ ...s, network: { nameservers: ['fdaa:0:1::3'], privateIp: 'fdaa:0:1:a7b:1::2' } } as TaskSpec);
      await waitForLine(driver, h, isLine('ready'));
      assert.equal((await run(h, ['/bin/busybox', 'hostname'])).stdout, `${s.machineId}\n`);
      assert.equal((await run(h, ['/bin/busybox', 'cat', '/etc/resolv.conf'])).stdout, 'nameserver fdaa:0:1::3\n');
      assert.match((await run(h, ['/bin/busybox', 'cat', '/etc/hosts'])).stdout, /fdaa:0:1:a7b:1::2\tfly-local-6pn/);
      assert.equal((await run(h, ['/bin/sh', '-c', 'echo $$'])).stdout.trim() !== '', true);
      assert.equal((await run(h, ['/bin/busybox', 'cat', '/proc/1/cmdline'])).stdout.split('\0')[0], '/bin/busybox', 'the machine is pid 1 of its own pid namespace');
      const links = (await run(h, ['/bin/busybox', 'ip', '-o', 'link'])).stdout;
      assert.match(links, /lo:.*UP/);
      assert.equal(links.trim().split('\n').length, 1, links);
      const ps = await driver.ps(h);
      assert.ok(ps.every((p) => !/unshare|monitor\.sh|crun/.test(p.command)), JSON.stringify(ps));
    });

    test('a start takes a ready spare monitor: its cgroup becomes the machine\'s; close removes the rest', { timeout: 30_000 }, async (t) => {
      const layout = hostLayout();
      if (!sparesSupported(layout)) return t.skip('cgroup v2 controllers cannot be renamed: no spares on this host');
      // A data dir of its own, so only this driver's spares carry the label looked for.
      const own = mkdtempSync(join(tmpdir(), 'hangar-crun-spares-'));
      const d = new CrunDriver({ ...opts(), dataDir: own });
      drivers.push(d);
      const memParent = join(layout.controllers.memory?.path ?? '', 'hangar');
      const prefix = `${sparePrefix(join(own, 'crun'))}${process.pid}-`;
      const spares = () => readdirSync(memParent).filter((n) => n.startsWith(prefix));
      const sparePids = () => spares().flatMap((n) => readFileSync(join(memParent, n, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
      const h1 = await start(spec(['serve']), d); // the first start has none yet and makes them
      const before = Date.now();
      while (sparePids().length === 0 && Date.now() - before < 10_000) await new Promise((r) => setTimeout(r, 20));
      // The driver marks a spare ready when its cgroup write returns, a turn of the event loop
      // after the pid shows in cgroup.procs; on a busy host (CI) a start right away found none.
      await new Promise((r) => setTimeout(r, 100));
      const ready = sparePids();
      assert.ok(ready.length >= 1, 'spare monitors wait in cgroups of their own');
      const waiting = spares();
      const h2 = parseCrunHandle(await start(spec(['serve']), d));
      assert.ok(ready.includes(h2.monitor_pid), 'a spare became the machine\'s monitor');
      // Its own netns (no prepared one): the runtime cannot run ahead, so no gate, and the spare's FIFO is gone.
      assert.equal((JSON.parse(readFileSync(join(h2.bundle, 'config.json'), 'utf8')) as { hooks?: unknown }).hooks, undefined);
      const taken = waiting.find((n) => !existsSync(join(memParent, n))) ?? '';
      assert.equal(existsSync(join(own, 'crun', 'gates', taken)), false, `the gate of ${taken} is removed`);
      assert.equal(waiting.filter((n) => !existsSync(join(memParent, n))).length, 1, 'its cgroup was renamed');
      const sparePid = h2.monitor_pid;
      const procs = readFileSync(join(h2.cgroup.dirs.memory ?? '', 'cgroup.procs'), 'utf8');
      assert.ok(procs.split('\n').includes(String(sparePid)), 'the monitor is in the machine\'s cgroup');
      assert.ok(procs.split('\n').includes(String(h2.pid)), 'and so is the machine');
      assert.equal(readFileSync(join(h2.cgroup.dirs.memory ?? '', 'memory.limit_in_bytes'), 'utf8').trim(), String(256 * 1024 * 1024), 'limits written after the rename');
      await waitForLine(d, h2, isLine('ready')); // stdout reaches the machine's log
      // crun, the machine's parent, runs from the spare's read-only bind of its binary, so it
      // skipped copying itself (monitor.ts): the bind is read-only in its mount namespace, and
      // it was told so.
      const crunPid = Number(readFileSync(`/proc/${h2.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
      assert.equal(readlinkSync(`/proc/${crunPid}/exe`), join(own, 'crun', 'crun.ro'));
      const bind = readFileSync(`/proc/${crunPid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === join(own, 'crun', 'crun.ro'));
      assert.match(bind?.split(' ')[5] ?? '', /^ro\b/, `a read-only mount: ${bind}`);
      assert.match(readFileSync(`/proc/${crunPid}/environ`, 'utf8'), /(^|\0)_LIBCONTAINER_CLONED_BINARY=1\0/);
      assert.throws(() => openSync(`/proc/${crunPid}/exe`, 'r+'), /EROFS|ETXTBSY/, 'the runtime cannot be written through it');
      for (const h of [h1, h2]) {
        await d.destroy(h);
        assert.deepEqual(leftovers(h), []);
      }
      await d.close();
      assert.deepEqual(spares(), [], 'close removes the spares not taken');
      rmSync(own, { recursive: true, force: true });
    });

    test('with a spare and a prepared netns the runtime runs ahead to its gate while the network is set up; a network failure then leaves nothing', { timeout: 60_000 }, async (t) => {
      const layout = hostLayout();
      if (!sparesSupported(layout)) return t.skip('cgroup v2 controllers cannot be renamed: no spares (and no gates) on this host');
      const own = mkdtempSync(join(tmpdir(), 'hangar-crun-gate-'));
      // Prepared netns as src/net/pool.ts hands them out, and a network hook that waits until
      // the machine's runtime is blocked at its gate (proving it ran ahead), then succeeds or fails.
      const made: string[] = [];
      let watched: { id: string; fail: boolean } | undefined;
      const d = new CrunDriver({
        ...opts(),
        dataDir: own,
        networkCreatesNetns: true,
        networkNetns: () => {
          const name = `hangar-gt${process.pid}-${made.length}`;
          execFileSync('ip', ['netns', 'add', name]);
          made.push(name);
          return name;
        },
        networkSetup: async (_path, s) => {
          const id = containerId(s.machineId, s.instanceId);
          if (watched?.id !== s.machineId) return;
          const bundle = join(own, 'crun', id);
          await waitFor('the runtime to wait at its gate', () => gateWaiters(bundle).length === 1, 10_000);
          if (watched.fail) throw new Error('6PN setup failed (test)');
        },
      });
      drivers.push(d);
      try {
        const first = await start(sh('echo ready; sleep 60'), d); // makes the spares
        await waitFor('a spare with its gate', () => spareWithGate(own, layout), 10_000);
        await new Promise((r) => setTimeout(r, 20));
        const ok = sh('echo ready; sleep 60');
        watched = { id: ok.machineId, fail: false };
        const h = parseCrunHandle(await start(ok, d));
        await waitForLine(d, h, isLine('ready'));
        assert.equal(existsSync(join(h.bundle, 'gate')), false, 'the gate is removed once passed');
        const cfg = JSON.parse(readFileSync(join(h.bundle, 'config.json'), 'utf8')) as { hooks?: { createContainer?: unknown[] } };
        assert.equal(cfg.hooks?.createContainer?.length, 1);
        assert.deepEqual(gateWaiters(h.bundle), []);

        await waitFor('a spare with its gate', () => spareWithGate(own, layout), 10_000);
        await new Promise((r) => setTimeout(r, 20));
        const bad = sh('echo ready; sleep 60');
        watched = { id: bad.machineId, fail: true };
        await assert.rejects(d.start(bad), (e: unknown) => e instanceof DriverError && e.code === 'HANGAR_ERR_DRIVER_START' && /6PN setup failed/.test(e.message));
        const id = containerId(bad.machineId, bad.instanceId);
        assert.equal(crunList().split('\n').includes(id), false, 'no container');
        assert.deepEqual(gateWaiters(join(own, 'crun', id)), [], 'no runtime or hook left');
        for (const m of new Set(Object.values(layout.controllers).map((c) => c.path))) assert.equal(existsSync(join(m, 'hangar', id)), false, `cgroup ${m}/hangar/${id}`);
        assert.equal(existsSync(join(own, 'crun', id)), false, 'bundle removed');
        assert.equal(existsSync(`/run/netns/${made.at(-1) ?? ''}`), false, 'its netns removed');
        for (const x of [first, h]) {
          await d.destroy(x);
          assert.deepEqual(leftovers(x), []);
        }
        await d.close();
        assert.deepEqual(readdirSync(join(own, 'crun', 'gates')), [], 'close removes the spares\' gates');
      } finally {
        await dropDriver(d, made, own);
      }
    });

    test('an agent killed while a container waits at its gate: the next start of that machine clears what is left and starts it', { timeout: 60_000 }, async (t) => {
      const layout = hostLayout();
      if (!sparesSupported(layout)) return t.skip('cgroup v2 controllers cannot be renamed: no spares (and no gates) on this host');
      const own = mkdtempSync(join(tmpdir(), 'hangar-crun-gate-crash-'));
      const prepared = [`hangar-gc${process.pid}-0`, `hangar-gc${process.pid}-1`];
      for (const n of prepared) execFileSync('ip', ['netns', 'add', n]);
      const first = sh('echo ready; sleep 60');
      const second = sh('echo ready; sleep 60');
      const secondBundle = join(own, 'crun', containerId(second.machineId, second.instanceId));
      // The agent: a driver in a child process whose network set-up for the second machine never
      // ends, so that machine's container waits at its gate when the child is SIGKILLed.
      const mod = (f: string) => JSON.stringify(new URL(`../../src/${f}`, import.meta.url).href);
      const script = [
        `const { CrunDriver } = await import(${mod('drivers/crun/index.js')});`,
        `const { ImageStore } = await import(${mod('images/store.js')});`,
        `const images = await ImageStore.open({ dataDir: ${JSON.stringify(dataDir)} });`,
        `const prepared = ${JSON.stringify(prepared)};`,
        `const hang = ${JSON.stringify(second.machineId)};`,
        `const d = new CrunDriver({ dataDir: ${JSON.stringify(own)}, images, pollMs: 50, networkCreatesNetns: true, networkNetns: () => prepared.shift(), networkSetup: async (_p, s) => { if (s.machineId === hang) await new Promise(() => {}); } });`,
        `const h = await d.start(${JSON.stringify(first)});`,
        `console.log(JSON.stringify(h));`,
        // the same wait as spareWithGate, in the agent's process
        `const { readdirSync, readFileSync } = await import('node:fs');`,
        `const ready = () => { try { return readdirSync(${JSON.stringify(join(own, 'crun', 'gates'))}).some((n) => readFileSync(${JSON.stringify(join(layout.controllers.memory?.path ?? '', 'hangar'))} + '/' + n + '/cgroup.procs', 'utf8').trim() !== ''); } catch { return false; } };`,
        'while (!ready()) await new Promise((r) => setTimeout(r, 20));',
        'await new Promise((r) => setTimeout(r, 20));',
        `await d.start(${JSON.stringify(second)});`,
      ].join('\n');
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const d2 = new CrunDriver({ ...opts(), dataDir: own });
      drivers.push(d2);
      try {
        await waitFor('the second machine to wait at its gate', () => gateWaiters(secondBundle).length === 1, 20_000);
        const gone = new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
        child.kill('SIGKILL');
        await gone;
        const firstHandle = JSON.parse(out.trim().split('\n')[0] ?? '{}') as TaskHandle;
        assert.equal(gateWaiters(secondBundle).length, 1, 'the container still waits at its gate (its monitor outlives the agent)');
        const h = parseCrunHandle(await start(second, d2));
        await waitForLine(d2, h, isLine('ready'));
        assert.deepEqual(gateWaiters(secondBundle), [], 'the parked start is gone');
        assert.ok(readFileSync(join(h.cgroup.dirs.memory ?? '', 'cgroup.procs'), 'utf8').split('\n').includes(String(h.pid)));
        for (const x of [h, parseCrunHandle(firstHandle)]) {
          await d2.destroy(x);
          assert.deepEqual(leftovers(x), []);
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await dropDriver(d2, prepared, own);
      }
    });

    test('a spare whose agent went away removes its own cgroup', { timeout: 30_000 }, async (t) => {
      const layout = hostLayout();
      if (!sparesSupported(layout)) return t.skip('cgroup v2 controllers cannot be renamed: no spares on this host');
      const own = mkdtempSync(join(tmpdir(), 'hangar-crun-spares-'));
      try {
        // An owner of spares in a child process, SIGKILLed once its spare waits: the spare reads EOF.
        const mod = (f: string) => JSON.stringify(new URL(`../../src/drivers/crun/${f}`, import.meta.url).href);
        const script = [
          `const { SpareMonitors } = await import(${mod('spares.js')});`,
          `const { detectCgroups } = await import(${mod('cgroups.js')});`,
          `const { installMonitor } = await import(${mod('monitor.js')});`,
          `const script = ${JSON.stringify(join(own, 'monitor.sh'))};`,
          'installMonitor(script);',
          `new SpareMonitors({ script, layout: detectCgroups(), owner: ${JSON.stringify(own)}, size: 1, refillDelayMs: 0 }).schedule(0);`,
          'setInterval(() => {}, 1000);',
        ].join('\n');
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
        const memParent = join(layout.controllers.memory?.path ?? '', 'hangar');
        const prefix = `${sparePrefix(own)}${child.pid}-`;
        const spareDirs = () => readdirSync(memParent).filter((n) => n.startsWith(prefix)).map((n) => join(memParent, n));
        const waitFor = async (pred: () => boolean) => {
          const t0 = Date.now();
          while (!pred() && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
        };
        await waitFor(() => spareDirs().some((d) => readFileSync(join(d, 'cgroup.procs'), 'utf8').trim() !== ''));
        const dirs = spareDirs();
        assert.equal(dirs.length, 1, 'the child made a spare');
        child.kill('SIGKILL');
        await waitFor(() => dirs.every((d) => !existsSync(d)));
        for (const d of dirs) assert.equal(existsSync(d), false, `${d} removed by its spare`);
      } finally {
        rmSync(own, { recursive: true, force: true });
      }
    });

    test('start errors: a missing volume directory, a missing image', { timeout: 30_000 }, async () => {
      const s = sh('true', { mounts: [{ path: '/data', hostPath: '/nonexistent-hangar-dir' }] });
      await assert.rejects(driver.start(s), (e: unknown) => e instanceof DriverError && e.code === 'HANGAR_ERR_DRIVER_START');
      assert.equal(existsSync(`/run/netns/${netnsName(s.machineId)}`), false, 'a failed start removes its netns');
      await assert.rejects(driver.start({ ...s, mounts: [], image: 'dir:/nonexistent-hangar-dir' }), (e: unknown) => e instanceof DriverError && e.code === 'HANGAR_ERR_DRIVER_START');
    });

    test('a machine without a command is refused after its monitor took it, and leaves nothing', { timeout: 30_000 }, async () => {
      // Refused while the bundle is written, after the monitor (a spare or a fresh one) was
      // handed the machine and mounted its root: the monitor, its cgroup, the netns and the
      // bundle must all go again.
      const image = `dir:${PROGRAMS_DIR}`;
      const s = { ...sh('true'), image, config: { image, init: {} } };
      await assert.rejects(driver.start(s), (e: unknown) => e instanceof DriverError && e.code === 'HANGAR_ERR_DRIVER_START' && /has no command/.test(e.message));
      const id = containerId(s.machineId, s.instanceId);
      const layout = hostLayout();
      for (const m of new Set(Object.values(layout.controllers).map((c) => c.path))) assert.equal(existsSync(join(m, 'hangar', id)), false, `cgroup ${m}/hangar/${id}`);
      assert.equal(existsSync(join(dataDir, 'crun', id)), false, 'bundle removed');
      assert.equal(existsSync(`/run/netns/${netnsName(s.machineId)}`), false, 'netns removed');
      assert.equal(crunList().split('\n').includes(id), false, 'no container');
      // the driver still starts machines afterwards
      const h = await start(sh('echo ready; sleep 30'));
      await waitForLine(driver, h, isLine('ready'));
    });

    test('10 machines are recovered by a new driver instance with the same pids, none duplicated', { timeout: 90_000 }, async () => {
      const hs = await Promise.all(Array.from({ length: 10 }, () => start(spec(['serve']))));
      await Promise.all(hs.map((h) => waitForLine(driver, h, isLine('ready'))));
      const d2 = make();
      for (const h of hs) {
        const copy = JSON.parse(JSON.stringify(h)) as CrunHandle;
        assert.equal(await d2.recover(copy), 'running');
        assert.equal((await d2.inspect(copy)).pid, copy.pid);
      }
      const ids = crunList().split('\n').filter((l) => hs.some((h) => l === parseCrunHandle(h).container_id));
      assert.equal(ids.length, 10);
      const rs = await Promise.all(hs.map((h) => d2.stop(h, { signal: 'SIGTERM', timeoutMs: 20_000 })));
      for (const r of rs) assert.equal(r.exit_code, 7);
      for (const h of hs) {
        await d2.destroy(h);
        assert.deepEqual(leftovers(h), []);
      }
    });
  });
}
