/**
 * A real CNCF Distribution registry (`/usr/bin/docker-registry`) for tests, owned by this helper:
 * started with a config file we write (storage in a temp dir, 127.0.0.1 and a free port), and
 * always killed by `stop()`. Plus a tiny JWT token server for the `auth.token` flow, and a push
 * client (monolithic blob uploads, manifest PUT).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type BuiltImage, sha256 } from '../helpers/images.js';

const execFileP = promisify(execFile);

export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface TokenAuth {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
}

export interface RunningRegistry {
  /** `127.0.0.1:<port>`, the registry part of image references. */
  host: string;
  storageDir: string;
  /** Everything the registry printed (its access log), for counting requests. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts docker-registry; `storageDir` may be shared with another instance (same content, other auth). */
export async function startRegistry(opts: { auth?: TokenAuth; storageDir?: string } = {}): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'hangar-test-registry-'));
  const storageDir = opts.storageDir ?? join(dir, 'storage');
  const port = await freePort();
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'info', formatter: 'text' },
    storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}` },
  };
  if (opts.auth) {
    config.auth = { token: { realm: opts.auth.realm, service: opts.auth.service, issuer: opts.auth.issuer, rootcertbundle: opts.auth.certPath } };
  }
  const configPath = join(dir, 'config.yml');
  // JSON is YAML, and leaves no doubt about quoting.
  await writeFile(configPath, JSON.stringify(config, null, 2));
  let output = '';
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i += 1) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${output}`);
      try {
        await fetch(`http://127.0.0.1:${port}/v2/`);
        break;
      } catch {
        if (i > 200) throw new Error(`docker-registry did not listen: ${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: `127.0.0.1:${port}`, storageDir, log: () => output, stop };
}

async function pushBlob(host: string, repo: string, blob: Buffer): Promise<void> {
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
  const location = new URL(start.headers.get('location') ?? '', `http://${host}`);
  location.searchParams.set('digest', sha256(blob));
  const put = await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`upload: ${put.status} ${await put.text()}`);
}

export async function pushManifest(host: string, repo: string, reference: string, body: Buffer, mediaType: string): Promise<void> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  if (res.status !== 201) throw new Error(`manifest put: ${res.status} ${await res.text()}`);
}

/** Pushes an image's blobs and manifest; tags it when `tag` is given. */
export async function pushImage(host: string, repo: string, image: BuiltImage, tag?: string): Promise<void> {
  for (const l of image.layers) await pushBlob(host, repo, l.blob);
  await pushBlob(host, repo, image.config);
  await pushManifest(host, repo, tag ?? image.digest, image.manifest, 'application/vnd.oci.image.manifest.v1+json');
}

/** Path of a blob's data in a registry's filesystem storage (to corrupt it behind its back). */
export function registryBlobPath(storageDir: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

export interface TokenServer {
  auth: TokenAuth;
  /** Token requests seen (for asserting the flow ran). */
  requests: number;
  stop(): Promise<void>;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** libtrust's key id, which Distribution looks a token's `kid` up by: base32(sha256(spki)[:30]) in groups of 4. */
function libtrustKeyId(spkiDer: Buffer): string {
  const bytes = createHash('sha256').update(spkiDer).digest().subarray(0, 30);
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += BASE32[parseInt(bits.slice(i, i + 5), 2)];
  return (out.match(/.{4}/g) ?? []).join(':');
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/**
 * A token server for Distribution's `auth.token`: answers `GET /token?service&scope` with an
 * RS256 JWT granting the asked scope, but only to `username:password` (else 401).
 */
export async function startTokenServer(creds: { username: string; password: string }): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'hangar-test-token-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  await execFileP('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', '/CN=hangar-test-token', '-days', '2']);
  const key = createPrivateKey(await readFile(keyPath));
  const kid = libtrustKeyId(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const issuer = 'hangar-test-issuer';
  const service = 'hangar-test-registry';
  const state = { requests: 0 };
  const expected = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    state.requests += 1;
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad credentials' }));
      return;
    }
    const access = (url.searchParams.getAll('scope') ?? []).map((s) => {
      const [type, name, actions] = [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1, s.lastIndexOf(':')), s.slice(s.lastIndexOf(':') + 1)];
      return { type, name, actions: actions.split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: creds.username, aud: url.searchParams.get('service'), exp: now + 600, nbf: now - 60, iat: now, jti: String(now) + state.requests, access }));
    const sig = b64url(sign('sha256', Buffer.from(`${head}.${claims}`), key));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${head}.${claims}.${sig}`, expires_in: 600 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    auth: { realm: `http://127.0.0.1:${port}/token`, service, issuer, certPath },
    get requests() {
      return state.requests;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
