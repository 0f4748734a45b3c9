/**
 * App secrets (reference §1a "Secrets"; ARCHITECTURE.md "Secrets"): env-var names, values
 * encrypted with the secret box under `<data-dir>/secrets.key` with `<app>:<NAME>` as AAD,
 * listed only as digests (values only with `show_secrets=true` to an admin token). Every change
 * bumps the app's secrets version, kept in the app record and written in the same batch.
 */
import { join } from 'node:path';
import { KINDS, type SecretRecord } from '../core/model.js';
import { isStoreConflict, type BatchOp } from '../store/types.js';
import { createSecretBox, loadSecretKey, secretDigest, type SecretBox } from './secrets/crypto.js';
import { ApiError, badRequest, forbidden, notFound } from './errors.js';
import { iso, type AuthContext, type ControlContext } from './context.js';
import { loadApp, type StoredApp } from './apps.js';
import { SECRET_NAME, quote } from './names.js';

export interface SecretJson {
  name: string;
  digest: string;
  value?: string;
  created_at: string;
  updated_at: string;
}

const MAX_SECRETS_PER_CALL = 1000;
const MAX_NAME = 256;

/** Lazily opens the key file once per control plane. */
export class Secrets {
  private box: SecretBox | undefined;

  constructor(private readonly ctx: ControlContext) {}

  private secretBox(): SecretBox {
    this.box ??= createSecretBox(loadSecretKey(join(this.ctx.dataDir, 'secrets.key')));
    return this.box;
  }

  private json(rec: SecretRecord, show: boolean): SecretJson {
    const out: SecretJson = { name: rec.name, digest: rec.digest, created_at: rec.created_at, updated_at: rec.updated_at };
    if (show) out.value = this.secretBox().decrypt(`${rec.app}:${rec.name}`, rec.ciphertext);
    return out;
  }

  private static checkShow(auth: AuthContext, show: boolean): void {
    if (show && auth.role !== 'admin') throw forbidden('only an admin token may read secret values (show_secrets=true)');
  }

  async list(auth: AuthContext, app: string, show: boolean): Promise<{ secrets: SecretJson[] }> {
    Secrets.checkShow(auth, show);
    await loadApp(this.ctx, auth, app);
    const all = await this.ctx.store.list<SecretRecord>(KINDS.secret, { scope: app });
    return { secrets: all.map((e) => this.json(e.value, show)) };
  }

  async get(auth: AuthContext, app: string, name: string, show: boolean): Promise<SecretJson> {
    Secrets.checkShow(auth, show);
    await loadApp(this.ctx, auth, app);
    if (!SECRET_NAME.test(name) || name.length > MAX_NAME) throw notFound(`secret ${quote(name)} not found`);
    const ent = await this.ctx.store.get<SecretRecord>(KINDS.secret, `${app}:${name}`);
    if (ent === undefined) throw notFound(`secret ${quote(name)} not found`);
    return this.json(ent.value, show);
  }

  /**
   * Sets (string) or deletes (null) several secrets as one new version. Deleting a secret that
   * does not exist is not an error (fly-go's unset of several names must not fail half-way).
   */
  async setMany(auth: AuthContext, app: string, values: Record<string, string | null>): Promise<{ version: number; changed: SecretRecord[] }> {
    const entries = Object.entries(values);
    if (entries.length > MAX_SECRETS_PER_CALL) throw badRequest(`at most ${MAX_SECRETS_PER_CALL} secrets per request`);
    for (const [name] of entries) {
      if (!SECRET_NAME.test(name) || name.length > MAX_NAME) {
        throw badRequest(`invalid secret name ${quote(name)}: use letters, digits and underscores, not starting with a digit`);
      }
    }
    for (let attempt = 0; ; attempt++) {
      const { app: rec, version } = await loadApp(this.ctx, auth, app);
      const next = (rec.secrets_version ?? 0) + 1;
      const nowIso = iso(this.ctx.now());
      const ops: BatchOp[] = [{ op: 'put', kind: KINDS.app, id: app, value: { ...rec, secrets_version: next } satisfies StoredApp, expectedVersion: version }];
      const changed: SecretRecord[] = [];
      for (const [name, value] of entries) {
        const id = `${app}:${name}`;
        const existing = await this.ctx.store.get<SecretRecord>(KINDS.secret, id);
        if (value === null) {
          if (existing !== undefined) ops.push({ op: 'delete', kind: KINDS.secret, id, expectedVersion: existing.version });
          continue;
        }
        const secret: SecretRecord = {
          app, name, digest: secretDigest(value), ciphertext: this.secretBox().encrypt(id, value), version: next,
          created_at: existing?.value.created_at ?? nowIso, updated_at: nowIso,
        };
        changed.push(secret);
        ops.push({ op: 'put', kind: KINDS.secret, id, value: secret, expectedVersion: existing?.version ?? 0, scope: app });
      }
      try {
        await this.ctx.store.apply(ops);
        return { version: next, changed };
      } catch (err) {
        if (!isStoreConflict(err) || attempt >= 10) throw err;
      }
    }
  }

  async setBulk(auth: AuthContext, app: string, values: Record<string, string | null>): Promise<{ secrets: SecretJson[]; version: number }> {
    const { version } = await this.setMany(auth, app, values);
    const { secrets } = await this.list(auth, app, false);
    return { secrets, version };
  }

  async setOne(auth: AuthContext, app: string, name: string, value: string): Promise<SecretJson & { version: number }> {
    const { version, changed } = await this.setMany(auth, app, { [name]: value });
    const rec = changed[0];
    if (rec === undefined) throw new ApiError('HANGAR_ERR_API_PRECONDITION', 'secret was not written; try again');
    return { ...this.json(rec, false), version };
  }

  async deleteOne(auth: AuthContext, app: string, name: string): Promise<{ version: number }> {
    await this.get(auth, app, name, false);
    const { version } = await this.setMany(auth, app, { [name]: null });
    return { version };
  }
}
