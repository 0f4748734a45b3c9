/** Real servers the check tests flip between healthy and unhealthy, and machine records with routing. */
import { webcrypto } from 'node:crypto';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { PemConverter, X509CertificateGenerator } from '@peculiar/x509';
import type { MachineConfig } from '../../src/core/fly/machine-config.js';
import type { MachineEvent, MachineRecord } from '../../src/core/machine/types.js';

export const HOST = 'host-checks';

/** What a flip server answers: `ok` 200, `fail` 500, `hang` nothing (the probe times out). */
export type Mode = 'ok' | 'fail' | 'hang';

export interface FlipServer {
  readonly port: number;
  mode: Mode;
  /** Requests seen, newest last. */
  readonly seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

function attach(server: Server, state: { mode: Mode; seen: FlipServer['seen'] }): void {
  server.on('request', (req, res) => {
    state.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (state.mode === 'hang') return;
    res.statusCode = state.mode === 'ok' ? 200 : 500;
    res.end(state.mode);
  });
}

async function listen(server: Server, state: { mode: Mode; seen: FlipServer['seen'] }): Promise<FlipServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get mode() {
      return state.mode;
    },
    set mode(m: Mode) {
      state.mode = m;
    },
    seen: state.seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP server on 127.0.0.1 answering every path according to its `mode`. */
export function flipServer(mode: Mode = 'ok'): Promise<FlipServer> {
  const state = { mode, seen: [] as FlipServer['seen'] };
  const server = createHttpServer();
  attach(server, state);
  return listen(server, state);
}

/** The same over TLS with a fresh self-signed certificate for `localhost`. */
export async function flipHttpsServer(mode: Mode = 'ok'): Promise<FlipServer> {
  const { cert, key } = await selfSigned();
  const state = { mode, seen: [] as FlipServer['seen'] };
  const server = createHttpsServer({ cert, key });
  attach(server, state);
  return listen(server, state);
}

async function selfSigned(): Promise<{ cert: string; key: string }> {
  type Params = Parameters<typeof X509CertificateGenerator.createSelfSigned>;
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=localhost',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      keys: keys as unknown as Params[0]['keys'],
      signingAlgorithm: alg,
    },
    webcrypto as unknown as Params[1],
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem'), key: PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

let seq = 0;
/** A `start`/`started` event (the agent writes one per start; its id tells runs apart). */
export function startEvent(timestamp = Date.now()): MachineEvent {
  return { id: `ev${String(++seq).padStart(6, '0')}`, type: 'start', status: 'started', source: 'flyd', timestamp };
}

/** A started machine on HOST whose internal ports map to the given listening ports on 127.0.0.1. */
export function startedMachine(id: string, config: Partial<MachineConfig>, ports: Record<string, number>): MachineRecord {
  const now = new Date().toISOString();
  return {
    id,
    name: `machine-${id}`,
    app: 'web',
    org: 'personal',
    region: 'local',
    host: HOST,
    instance_id: '01HZZZZZZZZZZZZZZZZZZZ0001',
    state: 'started',
    desired: 'started',
    generation: 1,
    applied_generation: 1,
    config: { image: 'dir:/tmp', ...config },
    private_ip: '127.0.0.1',
    image_ref: { registry: '', repository: '', tag: '', digest: '', labels: {} },
    events: [startEvent()],
    checks: [],
    cordoned: false,
    lease: null,
    restart_count: 0,
    host_status: 'ok',
    routing: { address: '127.0.0.1', ports },
    created_at: now,
    updated_at: now,
  };
}

export { waitFor } from '../helpers/wait.js';
