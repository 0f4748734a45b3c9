/**
 * Request bodies and query strings of the API, parsed leniently (reference §4) and turned into
 * 400s with a message naming the field when they are wrong. A body is always optional at the
 * HTTP level (an empty body with `Content-Type: application/json` is accepted); a route that
 * needs fields says which ones are missing.
 */
import { z } from 'zod';
import { durationInput, formatIssues, isJsonObject, signalInput, stripNulls } from '../core/fly/api-input.js';
import { badRequest } from '../control/errors.js';

/** The body as an object: `{}` when absent, 400 when it is JSON but not an object. */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (!isJsonObject(body)) throw badRequest('request body must be a JSON object');
  return body;
}

/** Parses a body with `schema`; null members count as absent unless `keepNulls`. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, keepNulls = false): z.output<S> {
  const obj = bodyObject(body);
  const parsed = schema.safeParse(keepNulls ? obj : stripNulls(obj));
  if (!parsed.success) throw badRequest(formatIssues(parsed.error, ''));
  return parsed.data;
}

type Query = Record<string, string | string[] | undefined>;

/** One query value (the last one when repeated), or undefined. */
export function queryOne(query: unknown, name: string): string | undefined {
  if (!isJsonObject(query)) return undefined;
  const v = (query as Query)[name];
  if (Array.isArray(v)) return v[v.length - 1];
  return typeof v === 'string' ? v : undefined;
}

/** All values of a query parameter (repeated and comma-joined forms). */
export function queryAll(query: unknown, name: string): string[] {
  if (!isJsonObject(query)) return [];
  const v = (query as Query)[name];
  const list = Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  return list.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** A boolean query value: true/false/1/0 (empty = false); 400 otherwise. */
export function queryBool(query: unknown, name: string): boolean | undefined {
  const v = queryOne(query, name);
  if (v === undefined) return undefined;
  const s = v.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0' || s === '') return false;
  throw badRequest(`query parameter ${name} must be true or false, not ${JSON.stringify(v.slice(0, 32))}`);
}

/** An integer query value within [min, max]; 400 otherwise. */
export function queryInt(query: unknown, name: string, min: number, max: number): number | undefined {
  const v = queryOne(query, name);
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v) || Number(v) < min || Number(v) > max) {
    throw badRequest(`query parameter ${name} must be an integer between ${min} and ${max}`);
  }
  return Number(v);
}

const shortStr = z.string().max(256);
const lenientBool = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => v === true || v === 'true');

export const launchBody = z.looseObject({
  config: z.unknown().optional(),
  region: z.string().max(64).optional(),
  name: shortStr.optional(),
  skip_launch: lenientBool.optional(),
  skip_service_registration: lenientBool.optional(),
  skip_secrets: lenientBool.optional(),
  min_secrets_version: z.number().int().min(0).optional(),
  lease_ttl: z.number().int().min(1).max(86_400).optional(),
  lsvd: z.boolean().optional(),
  current_version: z.string().max(64).optional(),
});

export const stopBody = z.looseObject({ signal: signalInput.optional(), timeout: durationInput.optional() });

export const restartBody = z.looseObject({
  signal: signalInput.optional(),
  timeout: durationInput.optional(),
  force_stop: lenientBool.optional(),
});

export const signalBody = z.looseObject({ signal: signalInput });

export const leaseBody = z.looseObject({
  ttl: z.number().int().min(1).max(86_400).optional(),
  description: z.string().max(1024).optional(),
});

export const metadataBody = z.looseObject({
  value: z.union([z.string().max(4096), z.number(), z.boolean()]).transform((v) => String(v)),
});

export const execBody = z.looseObject({
  cmd: z.string().max(64 * 1024).optional(),
  command: z.array(z.string().max(64 * 1024)).min(1).max(1024).optional(),
  stdin: z.string().max(1024 * 1024).optional(),
  timeout: z.number().int().min(1).max(3600).optional(),
  container: z.string().max(256).optional(),
  machine: z.boolean().optional(),
});

export const appCreateBody = z.looseObject({
  app_name: shortStr.optional(),
  name: shortStr.optional(),
  org_slug: shortStr.optional(),
  network: shortStr.optional(),
  enable_subdomains: z.boolean().optional(),
  app_role_id: shortStr.optional(),
});

export const volumeCreateBody = z.looseObject({
  name: z.string({ error: 'name is required' }).max(256),
  region: z.string().max(64).optional(),
  size_gb: z.number().int().min(1).max(16_384).default(3),
  encrypted: z.boolean().default(true),
  require_unique_zone: z.boolean().optional(),
  unique_zone_app_wide: z.boolean().optional(),
  snapshot_retention: z.number().int().min(1).max(60).default(5),
  auto_backup_enabled: z.boolean().default(true),
  fstype: z.enum(['ext4', 'raw']).default('ext4'),
  snapshot_id: shortStr.optional(),
  source_volume_id: shortStr.optional(),
  compute: z.unknown().optional(),
  compute_image: z.unknown().optional(),
});

export const volumeUpdateBody = z.looseObject({
  snapshot_retention: z.number().int().min(1).max(60).optional(),
  auto_backup_enabled: z.boolean().optional(),
});

export const volumeExtendBody = z.looseObject({ size_gb: z.number({ error: 'size_gb is required (an integer number of GB)' }).int().min(1).max(16_384) });

const secretValue = z.string().max(64 * 1024);

export const secretsBulkBody = z.looseObject({
  values: z.record(z.string().max(256), secretValue.nullable(), { error: 'values is required: an object of NAME: "value" (or null to delete)' }),
});

export const secretOneBody = z.looseObject({ value: secretValue });

export const tokenBody = z.looseObject({
  role: z.enum(['deploy', 'readonly'], { error: 'role must be "deploy" or "readonly"' }),
  name: z.string().regex(/^[A-Za-z0-9 _.-]{1,64}$/, 'name: letters, digits, spaces, dots, dashes and underscores, at most 64').optional(),
});
