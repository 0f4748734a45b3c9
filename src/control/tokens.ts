/**
 * API tokens: org-scoped, with a role (admin, deploy, readonly), stored only as their sha256
 * (kind `token`, id = hash, scope = org; ARCHITECTURE.md "Auth"). Clients send them as
 * `Authorization: Bearer <tok>` or `FlyV1 <tok>`, possibly a comma-separated list (reference §1a
 * "Base URLs and auth": fly-go strips a leading scheme from each configured token).
 */
import { createHash, randomBytes } from 'node:crypto';
import { KINDS, type TokenRecord, type TokenRole } from '../core/model.js';
import type { AuthContext, ControlContext } from './context.js';
import { iso } from './context.js';

/** Prefix of every token Hangar issues (recognizable in leaked-secret scanners and logs). */
export const TOKEN_PREFIX = 'hangar_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

const SCHEMES = /^(?:bearer|flyv1)(?:\s+|$)/i;

/** The candidate tokens of an Authorization header value (scheme stripped, list split). */
export function tokenCandidates(header: string | undefined): string[] {
  if (header === undefined) return [];
  const rest = header.trim().replace(SCHEMES, '');
  return rest
    .split(',')
    .map((t) => t.trim().replace(SCHEMES, '').trim())
    .filter((t) => t.length > 0 && t.length <= 4096);
}

/** The caller of a request, or undefined when no candidate token is known or all are expired. */
export async function authenticate(ctx: ControlContext, header: string | undefined): Promise<AuthContext | undefined> {
  for (const candidate of tokenCandidates(header).slice(0, 8)) {
    const ent = await ctx.store.get<TokenRecord>(KINDS.token, hashToken(candidate));
    if (ent === undefined) continue;
    const rec = ent.value;
    if (rec.expires_at !== null && Date.parse(rec.expires_at) <= ctx.now()) continue;
    return { org: rec.org, role: rec.role, token_name: rec.name };
  }
  return undefined;
}

/** The store op that creates a token record, and the token itself (shown once, never stored). */
export function tokenOp(org: string, role: TokenRole, name: string, nowMs: number): { token: string; op: { op: 'put'; kind: string; id: string; value: TokenRecord; expectedVersion: 0; scope: string } } {
  const token = generateToken();
  const hash = hashToken(token);
  const value: TokenRecord = { hash, org, role, name, created_at: iso(nowMs), expires_at: null };
  return { token, op: { op: 'put', kind: KINDS.token, id: hash, value, expectedVersion: 0, scope: org } };
}

/** Creates a token of `role` in `org`; returns the token (the caller shows it once). */
export async function createToken(ctx: ControlContext, org: string, role: TokenRole, name: string): Promise<string> {
  const { token, op } = tokenOp(org, role, name, ctx.now());
  await ctx.store.apply([op]);
  return token;
}
