/**
 * First start of a control plane: the `personal` org and an admin token. The token is stored
 * only hashed; its plain text goes once to `<data-dir>/admin-token` (0600) and to the caller,
 * which prints it and writes the CLI config. Later starts change nothing.
 */
import { randomInt } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KINDS, type OrgRecord } from '../core/model.js';
import { isStoreConflict, type StateStore } from '../store/types.js';
import { tokenOp } from './tokens.js';

export const DEFAULT_ORG = 'personal';

/** The default org record for `slug` (Fly's personal org has the same slug). */
export function newOrg(slug: string, nowMs: number): OrgRecord {
  return { slug, name: slug, internal_numeric_id: randomInt(1, 2 ** 31), network: 'default', created_at: new Date(nowMs).toISOString() };
}

/**
 * Creates org `personal` and an admin token on first start and writes the token to
 * `<dataDir>/admin-token` (mode 0600). Idempotent: when the org exists, returns it without a token.
 */
export async function bootstrap(store: StateStore, dataDir: string): Promise<{ org: OrgRecord; adminToken?: string }> {
  const existing = await store.get<OrgRecord>(KINDS.org, DEFAULT_ORG);
  if (existing !== undefined) return { org: existing.value };
  const now = Date.now();
  const org = newOrg(DEFAULT_ORG, now);
  const { token, op } = tokenOp(DEFAULT_ORG, 'admin', 'admin', now);
  try {
    await store.apply([{ op: 'put', kind: KINDS.org, id: DEFAULT_ORG, value: org, expectedVersion: 0 }, op]);
  } catch (err) {
    // another control plane process bootstrapped first: use its org, show no token
    if (!isStoreConflict(err)) throw err;
    const again = await store.get<OrgRecord>(KINDS.org, DEFAULT_ORG);
    if (again === undefined) throw err;
    return { org: again.value };
  }
  await writeFile(join(dataDir, 'admin-token'), `${token}\n`, { mode: 0o600 });
  return { org, adminToken: token };
}
