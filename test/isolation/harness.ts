/**
 * A real `hangar server --driver crun` on a temp data dir, for the isolation acceptance tests:
 * started as a child process, its API driven over HTTP with the admin token, killed (SIGKILL
 * and restarted, or SIGTERM) by the test. A busybox image is imported into the data dir first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CrunDriver } from '../../src/drivers/crun/index.js';
import { ImageStore } from '../../src/images/store.js';
import { tableFor } from '../../src/server/networking.js';
import { NetRunner } from '../../src/net/apply.js';
import { cleanup } from '../../src/net/cleanup.js';
import { busyboxImage, nodeImage, ociLayoutTar, type BuiltImage } from '../helpers/images.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const IMAGE = 'hangar-test/busybox:1';

/** Why the crun tests cannot run here, or undefined when they can. */
export async function skipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'crun needs Linux';
  if (process.getuid?.() !== 0) return 'the crun driver needs root';
  const fp = await new CrunDriver({ dataDir: '/nonexistent-hangar' }).fingerprint();
  return fp.available ? undefined : `crun unusable: ${fp.reason ?? 'unknown'}`;
}

/** Imports `image` (an OCI layout archive is written, imported and removed) under `ref` into `dataDir`'s image store. */
async function importBuilt(dataDir: string, image: BuiltImage, ref: string): Promise<void> {
  const images = await ImageStore.open({ dataDir });
  const tar = join(dataDir, 'image-import.tar');
  writeFileSync(tar, ociLayoutTar(image));
  await images.import(tar, { ref });
  rmSync(tar);
}

/** Imports the busybox test image under {@link IMAGE} into `dataDir`'s image store. */
export function importImage(dataDir: string): Promise<void> {
  return importBuilt(dataDir, busyboxImage(), IMAGE);
}

/** Imports an image of the host's node binary and its libraries (`/usr/local/bin/node`) under `ref`. */
export function importNodeImage(dataDir: string, ref: string): Promise<void> {
  return importBuilt(dataDir, nodeImage(), ref);
}

/**
 * Removes what the servers of `dataDirs` leave behind once stopped (machines may outlive a
 * server, so its networks stay): the bridges of `networks` and each server's nftables table.
 * Nothing else on the host is touched.
 */
export async function removeServerNetworking(dataDirs: readonly string[], networks: ReadonlySet<number>): Promise<void> {
  const tables = new Set(dataDirs.map((d) => serverTable(d)).filter((t): t is string => t !== undefined));
  await cleanup(new NetRunner(), (t) => (t.kind === 'bridge' && networks.has(t.network)) || (t.kind === 'table' && tables.has(t.name))).catch(() => undefined);
}

/**
 * Destroys `machines` (their netns, veths and cgroups go with them), then stops the server; a
 * server that is gone already is only reaped. Errors are swallowed: this is teardown.
 */
export async function stopServer(srv: Server, machines: ReadonlyArray<{ app: string; id: string }>): Promise<void> {
  if (srv.child.exitCode !== null || srv.child.signalCode !== null) return;
  for (const m of machines) await api(srv, 'DELETE', `/v1/apps/${m.app}/machines/${m.id}?kill=true`).catch(() => undefined);
  for (const m of machines) await waitState(srv, m.app, m.id, 'destroyed', 15_000).catch(() => undefined);
  srv.child.kill('SIGTERM');
  await srv.exited;
}

export interface Server {
  child: ChildProcess;
  url: string;
  dns: string;
  out: string;
  token: string;
  exited: Promise<number | null>;
}

/** The nftables table the server of `dataDir` owns (server/networking.ts `tableFor`). */
export function serverTable(dataDir: string): string | undefined {
  try {
    return tableFor(readFileSync(join(dataDir, 'host-id'), 'utf8').trim());
  } catch {
    return undefined; // the server never started
  }
}

/** Starts `hangar server --driver crun` (plus `extra` flags); resolves once the API listens. */
export function startServer(dataDir: string, extra: readonly string[] = []): Promise<Server> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/hangar.js'), 'server', '--data-dir', dataDir, '--api-addr', '127.0.0.1:0', '--driver', 'crun', '--log-level', 'warn', ...extra], {
    env: { ...process.env, HANGAR_CONFIG: join(dataDir, 'cli.json'), HANGAR_DNS_ADDR: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const srv: Server = { child, url: '', dns: '', out: '', token: '', exited: new Promise((r) => child.once('exit', (code) => r(code))) };
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      srv.out += b.toString();
      const dns = /DNS listening on (\S+)/.exec(srv.out);
      if (dns) srv.dns = dns[1] as string;
      const m = /Machines API listening on (http:\/\/\S+)/.exec(srv.out);
      if (m && srv.url === '') {
        srv.url = m[1] as string;
        srv.token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
        resolve(srv);
      }
    });
    child.stderr?.on('data', (b: Buffer) => (srv.out += b.toString()));
    void srv.exited.then((code) => reject(new Error(`server exited (${code}) before listening\n${srv.out}`)));
  });
}

/** Calls the API; returns status and parsed JSON (or text). */
export async function api(srv: Server, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${srv.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}


/** A machine config running busybox httpd on :8080 serving `body` at `/`. */
export function httpdConfig(body: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image: IMAGE,
    init: { cmd: ['httpd', '-f', '-p', '8080', '-h', '/www'] },
    files: [{ guest_path: '/www/index.html', raw_value: Buffer.from(body).toString('base64') }],
    guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
    restart: { policy: 'no' },
    ...extra,
  };
}

export interface Exec {
  exit_code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv inside a machine (busybox applets are called as `/bin/busybox <applet>`). */
export async function exec(srv: Server, app: string, id: string, command: string[], timeout = 10): Promise<Exec> {
  const r = await api(srv, 'POST', `/v1/apps/${app}/machines/${id}/exec`, { command, timeout });
  if (r.status !== 200) throw new Error(`exec ${command.join(' ')}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as unknown as Exec;
}

/** Creates a machine and waits until it is `started`. */
export async function createStarted(srv: Server, app: string, config: Record<string, unknown>): Promise<{ id: string; private_ip: string }> {
  const r = await api(srv, 'POST', `/v1/apps/${app}/machines`, { config, region: 'local' });
  if (r.status !== 200) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
  const id = String(r.json['id']);
  await waitState(srv, app, id, 'started');
  return { id, private_ip: String(r.json['private_ip']) };
}

export async function waitState(srv: Server, app: string, id: string, state: string, ms = 30_000): Promise<Record<string, unknown>> {
  return waitFor(`machine ${id} ${state}`, async () => {
    const m = (await api(srv, 'GET', `/v1/apps/${app}/machines/${id}`)).json;
    if (m['state'] === 'failed') throw new Error(`machine ${id} failed: ${JSON.stringify(m['events'])}`);
    return m['state'] === state ? m : undefined;
  }, ms, 100);
}
