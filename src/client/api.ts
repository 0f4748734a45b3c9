/**
 * `ApiClient`: typed methods over the Fly-compatible Machines API (`/v1`, reference §1a) and
 * Hangar's own `/api/v1` routes. The CLI does everything through it (ARCHITECTURE.md: the CLI
 * talks to the API over HTTP only), so anything the CLI does, another client can do.
 */
import { HttpTransport, type RequestOptions, type TransportOptions } from './http.js';
import { ClientError } from './errors.js';
import type {
  ApiApp,
  ApiAppList,
  ApiLease,
  ApiMachine,
  ApiSecret,
  ApiVolume,
  CreateAppRequest,
  CreatedToken,
  CreateVolumeRequest,
  ExecResponse,
  ExtendVolumeResponse,
  LogsPage,
  MachineRequest,
  MachineVersion,
  SecretsResponse,
  StopRequest,
  WhoAmI,
} from './types.js';
import type { MachineEvent } from '../core/machine/types.js';

const enc = encodeURIComponent;

/** The header carrying a machine lease's nonce (reference §1a "Leases"). */
export const LEASE_NONCE_HEADER = 'fly-machine-lease-nonce';

/** States `/wait` accepts (reference §1a "/wait semantics"). */
export type WaitState = 'started' | 'stopped' | 'suspended' | 'destroyed' | 'settled';

export interface WaitOptions {
  /** Total time to wait, in ms; the server is asked in slices of at most 60 s. Default 60 s. */
  timeoutMs?: number;
  /** Wait for this version (`instance_id`). */
  instanceId?: string;
}

function nonceHeaders(nonce: string | undefined): Record<string, string> | undefined {
  return nonce ? { [LEASE_NONCE_HEADER]: nonce } : undefined;
}

export class ApiClient {
  readonly http: HttpTransport;

  constructor(opts: TransportOptions) {
    this.http = new HttpTransport(opts);
  }

  get apiUrl(): string {
    return this.http.apiUrl;
  }

  private req<T>(method: string, path: string, opts?: RequestOptions): Promise<T> {
    return this.http.request<T>(method, path, opts);
  }

  private machinePath(app: string, id?: string, suffix = ''): string {
    return `/v1/apps/${enc(app)}/machines${id === undefined ? '' : `/${enc(id)}`}${suffix}`;
  }

  // ---- apps ----

  /** Apps of `org` (the token's org when omitted). */
  async listApps(org?: string): Promise<ApiApp[]> {
    const res = await this.req<ApiAppList>('GET', '/v1/apps', { query: { org_slug: org } });
    return res?.apps ?? [];
  }

  getApp(app: string): Promise<ApiApp> {
    return this.req('GET', `/v1/apps/${enc(app)}`, { notFound: { app } });
  }

  createApp(body: CreateAppRequest): Promise<ApiApp> {
    return this.req('POST', '/v1/apps', { body });
  }

  async deleteApp(app: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.req('DELETE', `/v1/apps/${enc(app)}`, { query: { force: opts.force ? 'true' : undefined }, notFound: { app } });
  }

  // ---- machines ----

  listMachines(app: string, opts: { includeDeleted?: boolean; region?: string } = {}): Promise<ApiMachine[]> {
    return this.req('GET', this.machinePath(app), {
      query: { include_deleted: opts.includeDeleted ? 'true' : undefined, region: opts.region },
      notFound: { app },
    });
  }

  getMachine(app: string, id: string): Promise<ApiMachine> {
    return this.req('GET', this.machinePath(app, id), { notFound: { app, machine: id } });
  }

  createMachine(app: string, body: MachineRequest): Promise<ApiMachine> {
    return this.req('POST', this.machinePath(app), { body, notFound: { app } });
  }

  /** Full config replace (Fly has no partial update), honouring a held lease. */
  updateMachine(app: string, id: string, body: MachineRequest, opts: { nonce?: string } = {}): Promise<ApiMachine> {
    return this.req('POST', this.machinePath(app, id), { body, headers: nonceHeaders(opts.nonce), notFound: { app, machine: id } });
  }

  async destroyMachine(app: string, id: string, opts: { force?: boolean; nonce?: string } = {}): Promise<void> {
    await this.req('DELETE', this.machinePath(app, id), {
      query: { force: opts.force ? 'true' : undefined },
      headers: nonceHeaders(opts.nonce),
      notFound: { app, machine: id },
    });
  }

  startMachine(app: string, id: string, opts: { nonce?: string } = {}): Promise<{ previous_state?: string; [k: string]: unknown }> {
    return this.req('POST', this.machinePath(app, id, '/start'), { headers: nonceHeaders(opts.nonce), notFound: { app, machine: id } });
  }

  async stopMachine(app: string, id: string, body: StopRequest = {}, opts: { nonce?: string } = {}): Promise<void> {
    await this.req('POST', this.machinePath(app, id, '/stop'), { body, headers: nonceHeaders(opts.nonce), notFound: { app, machine: id } });
  }

  /** Restart, with fly-go's query form (`force_stop`, `timeout` as a Go duration, `signal`). */
  async restartMachine(app: string, id: string, opts: { signal?: string; timeout?: string; forceStop?: boolean; nonce?: string } = {}): Promise<void> {
    await this.req('POST', this.machinePath(app, id, '/restart'), {
      query: { force_stop: opts.forceStop ? 'true' : 'false', timeout: opts.timeout, signal: opts.signal },
      headers: nonceHeaders(opts.nonce),
      notFound: { app, machine: id },
    });
  }

  async signalMachine(app: string, id: string, signal: string): Promise<void> {
    await this.req('POST', this.machinePath(app, id, '/signal'), { body: { signal }, notFound: { app, machine: id } });
  }

  async cordonMachine(app: string, id: string, opts: { nonce?: string } = {}): Promise<void> {
    await this.req('POST', this.machinePath(app, id, '/cordon'), { headers: nonceHeaders(opts.nonce), notFound: { app, machine: id } });
  }

  async uncordonMachine(app: string, id: string, opts: { nonce?: string } = {}): Promise<void> {
    await this.req('POST', this.machinePath(app, id, '/uncordon'), { headers: nonceHeaders(opts.nonce), notFound: { app, machine: id } });
  }

  /**
   * Waits until the machine reaches `state`. The server holds each request for at most 60 s and
   * answers 408 when that runs out (reference §1a), so longer waits are asked in slices.
   */
  async waitMachine(app: string, id: string, state: WaitState, opts: WaitOptions = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      const left = Math.max(1, Math.min(60, Math.ceil((deadline - Date.now()) / 1000)));
      try {
        await this.req('GET', this.machinePath(app, id, '/wait'), {
          query: { state, timeout: left, instance_id: opts.instanceId },
          notFound: { app, machine: id },
        });
        return;
      } catch (err) {
        const timedOut = err instanceof ClientError && err.clientCode === 'HANGAR_ERR_API_TIMEOUT';
        if (!timedOut || Date.now() >= deadline) throw err;
      }
    }
  }

  getLease(app: string, id: string): Promise<ApiLease> {
    return this.req('GET', this.machinePath(app, id, '/lease'), { notFound: { app, machine: id } });
  }

  acquireLease(app: string, id: string, opts: { ttl?: number; description?: string } = {}): Promise<ApiLease> {
    return this.req('POST', this.machinePath(app, id, '/lease'), { body: { ttl: opts.ttl, description: opts.description }, notFound: { app, machine: id } });
  }

  async releaseLease(app: string, id: string, nonce: string): Promise<void> {
    await this.req('DELETE', this.machinePath(app, id, '/lease'), { headers: nonceHeaders(nonce), notFound: { app, machine: id } });
  }

  /** Runs `cmd` (one string, as the API takes it) in the machine. `timeout` in seconds. */
  exec(app: string, id: string, body: { cmd: string; timeout?: number; stdin?: string }): Promise<ExecResponse> {
    return this.req('POST', this.machinePath(app, id, '/exec'), { body, notFound: { app, machine: id } });
  }

  listMachineEvents(app: string, id: string): Promise<MachineEvent[]> {
    return this.req('GET', this.machinePath(app, id, '/events'), { notFound: { app, machine: id } });
  }

  listMachineVersions(app: string, id: string): Promise<MachineVersion[]> {
    return this.req('GET', this.machinePath(app, id, '/versions'), { notFound: { app, machine: id } });
  }

  // ---- volumes ----

  listVolumes(app: string): Promise<ApiVolume[]> {
    return this.req('GET', `/v1/apps/${enc(app)}/volumes`, { notFound: { app } });
  }

  getVolume(app: string, id: string): Promise<ApiVolume> {
    return this.req('GET', `/v1/apps/${enc(app)}/volumes/${enc(id)}`, { notFound: { app, volume: id } });
  }

  createVolume(app: string, body: CreateVolumeRequest): Promise<ApiVolume> {
    return this.req('POST', `/v1/apps/${enc(app)}/volumes`, { body, notFound: { app } });
  }

  extendVolume(app: string, id: string, sizeGb: number): Promise<ExtendVolumeResponse> {
    return this.req('PUT', `/v1/apps/${enc(app)}/volumes/${enc(id)}/extend`, { body: { size_gb: sizeGb }, notFound: { app, volume: id } });
  }

  destroyVolume(app: string, id: string): Promise<ApiVolume | undefined> {
    return this.req('DELETE', `/v1/apps/${enc(app)}/volumes/${enc(id)}`, { notFound: { app, volume: id } });
  }

  // ---- secrets ----

  async listSecrets(app: string): Promise<ApiSecret[]> {
    const res = await this.req<SecretsResponse>('GET', `/v1/apps/${enc(app)}/secrets`, { notFound: { app } });
    return res?.secrets ?? [];
  }

  /** Sets several secrets in one new version (`null` unsets a name). */
  setSecrets(app: string, values: Record<string, string | null>): Promise<SecretsResponse> {
    return this.req('POST', `/v1/apps/${enc(app)}/secrets`, { body: { values }, notFound: { app } });
  }

  unsetSecret(app: string, name: string): Promise<{ version?: number } | undefined> {
    return this.req('DELETE', `/v1/apps/${enc(app)}/secrets/${enc(name)}`, { notFound: { app, secret: name } });
  }

  // ---- Hangar-only (/api/v1) ----

  whoami(): Promise<WhoAmI> {
    return this.req('GET', '/api/v1/whoami');
  }

  createToken(role: 'deploy' | 'readonly', name?: string): Promise<CreatedToken> {
    return this.req('POST', '/api/v1/tokens', { body: name === undefined ? { role } : { role, name } });
  }

  /** One page of an app's logs (flyctl's polling shape); pass the previous `meta.next_token` to follow. */
  getLogs(app: string, opts: { nextToken?: string; instance?: string; region?: string } = {}, signal?: AbortSignal): Promise<LogsPage> {
    return this.req('GET', `/api/v1/apps/${enc(app)}/logs`, {
      query: { next_token: opts.nextToken || undefined, instance: opts.instance, region: opts.region },
      notFound: { app },
      ...(signal ? { signal } : {}),
    });
  }
}
