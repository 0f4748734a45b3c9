/**
 * `fly-replay` (reference §1c, docs `networking/dynamic-request-routing`): an app answers a
 * request with a `fly-replay` response header (or a `application/vnd.fly.replay+json` body) and
 * the proxy sends the same request somewhere else instead of forwarding that response. This file
 * is the pure part: both forms parsed into one `ReplayDirective`, the target turned into a pick
 * request for the balancer, the replayed request's head rewritten (transform, `fly-replay-src`,
 * `fly-replay-failed`). The I/O side is src/proxy/replay.ts.
 *
 * An invalid directive is an error, not a response to forward: Fly's docs do not say what its
 * proxy does with one, and forwarding it would hand the client a response the app meant for the
 * proxy (often an empty 200 or 409), so the request would look answered when it was not. Hangar
 * answers 502 naming the problem, as for any other response the proxy cannot make sense of.
 */
import { parseGoDuration, NS_PER_MS } from '../duration.js';
import { HangarError } from '../errors.js';
import type { PickRequest } from './balance.js';
import { regionRouting } from './region.js';

/** The replay's request body limit (Fly: "Requests larger than 1MB cannot be replayed"). */
export const REPLAY_MAX_BYTES = 1024 * 1024;
/** A replayed-to machine may ask for another replay; past this many the request gets a 502. */
export const REPLAY_MAX_HOPS = 5;
/** The JSON form's body is read whole before it is parsed; more than this is refused. */
export const REPLAY_JSON_MAX_BYTES = 64 * 1024;
export const REPLAY_JSON_TYPE = 'application/vnd.fly.replay+json';

export type ReplayFallback = 'force_self' | 'prefer_self';
export type ReplayFailure = 'timeout' | 'retries_exhausted' | 'no_candidate';

/** JSON form only: changes made to the request before it is replayed. */
export interface ReplayTransform {
  /** New request path (with `?`: the whole target; without: the original query is kept). */
  readonly path?: string;
  readonly deleteHeaders: readonly string[];
  readonly setHeaders: readonly { readonly name: string; readonly value: string }[];
}

/** `cache{prefix, ttl, invalidate}` of the JSON form: validated, not acted on (see README). */
export interface ReplayCache {
  readonly prefix?: string;
  readonly ttlSecs?: number;
  readonly invalidate: boolean;
}

export interface ReplayDirective {
  /** `region`: codes and aliases as listed (lower case). */
  readonly regions?: readonly string[];
  readonly instance?: string;
  readonly preferInstance?: string;
  readonly app?: string;
  readonly state?: string;
  readonly elsewhere: boolean;
  readonly timeoutMs?: number;
  readonly fallback?: ReplayFallback;
  readonly transform?: ReplayTransform;
  readonly cache?: ReplayCache;
}

/** A `fly-replay` the proxy cannot act on; the client gets a 502 with this message. */
export class ReplayInvalidError extends HangarError {
  constructor(message: string) {
    super('HANGAR_ERR_PROXY_REPLAY_INVALID', message);
    this.name = 'ReplayInvalidError';
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Header values and paths go into the request head as they are: no CR, LF or other controls. */
const SAFE_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const PATH = /^\/[\x21-\x7e]*$/;
/** Headers a transform may not touch: the body's framing and hop-by-hop ones (smuggling guard). */
const PROTECTED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-connection', 'fly-replay-src', 'fly-replay-failed']);

function bad(message: string): never {
  throw new ReplayInvalidError(`invalid fly-replay: ${message}`);
}

interface Fields {
  region?: string | readonly string[];
  instance?: string;
  prefer_instance?: string;
  app?: string;
  state?: string;
  elsewhere?: string | boolean;
  timeout?: string;
  fallback?: string;
}

function regionList(v: string | readonly string[]): string[] {
  const list = (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim().toLowerCase());
  if (list.length === 0 || list.some((r) => !/^[a-z0-9-]+$/.test(r))) bad(`region '${String(v)}' is not a list of region codes`);
  return list;
}

function ident(name: string, v: string): string {
  if (!TOKEN.test(v)) bad(`${name} '${v}' is not a valid ${name === 'app' ? 'app name' : 'machine id'}`);
  return v;
}

function directiveFrom(f: Fields, extra: { transform?: ReplayTransform; cache?: ReplayCache } = {}): ReplayDirective {
  if (f.instance !== undefined && f.prefer_instance !== undefined) bad('instance and prefer_instance cannot both be set');
  let elsewhere = false;
  if (f.elsewhere !== undefined) {
    if (f.elsewhere === true || f.elsewhere === 'true') elsewhere = true;
    else if (f.elsewhere !== false && f.elsewhere !== 'false') bad(`elsewhere must be true or false, not '${String(f.elsewhere)}'`);
  }
  let timeoutMs: number | undefined;
  if (f.timeout !== undefined) {
    const ns = parseGoDuration(f.timeout);
    if (ns === undefined || ns <= 0) bad(`timeout '${f.timeout}' is not a positive duration such as 10s or 800ms`);
    timeoutMs = Math.max(1, Math.round(ns / NS_PER_MS));
  }
  if (f.fallback !== undefined && f.fallback !== 'force_self' && f.fallback !== 'prefer_self') bad(`fallback must be force_self or prefer_self, not '${f.fallback}'`);
  if (f.state !== undefined && !SAFE_VALUE.test(f.state)) bad('state contains control characters');
  const d: ReplayDirective = {
    ...(f.region !== undefined ? { regions: regionList(f.region) } : {}),
    ...(f.instance !== undefined ? { instance: ident('instance', f.instance) } : {}),
    ...(f.prefer_instance !== undefined ? { preferInstance: ident('prefer_instance', f.prefer_instance) } : {}),
    ...(f.app !== undefined ? { app: ident('app', f.app) } : {}),
    ...(f.state !== undefined ? { state: f.state } : {}),
    elsewhere,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(f.fallback !== undefined ? { fallback: f.fallback as ReplayFallback } : {}),
    ...extra,
  };
  if (d.cache && !d.cache.invalidate && (d.state !== undefined || d.timeoutMs !== undefined || d.fallback !== undefined || d.transform !== undefined)) {
    // reference §1c: "A replay meant to be cached may not carry state, timeout, fallback or transforms".
    bad('a replay meant to be cached may not carry state, timeout, fallback or transform');
  }
  return d;
}

const HEADER_FIELDS = new Set(['region', 'instance', 'prefer_instance', 'app', 'state', 'elsewhere', 'timeout', 'fallback']);

/**
 * Parses the header form: `;`-separated `name=value` pairs, a value optionally in double quotes
 * (a comma-separated region list must be: `region="iad,ord"`). Several `fly-replay` headers are
 * read as one list. Unknown fields, repeated fields and unquoted lists are errors: a typo must
 * not quietly send a request somewhere else.
 */
export function parseReplayHeader(values: readonly string[]): ReplayDirective {
  const text = values.join(';');
  const f: Record<string, string> = {};
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === ';')) i++;
    if (i >= n) break;
    const eq = text.indexOf('=', i);
    const semi = text.indexOf(';', i);
    if (eq < 0 || (semi >= 0 && semi < eq)) bad(`'${text.slice(i, semi < 0 ? n : semi).trim()}' is not a name=value pair`);
    const name = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    let value: string;
    if (text[i] === '"') {
      let out = '';
      i++;
      for (;;) {
        if (i >= n) bad(`unterminated quoted value of ${name}`);
        const c = text[i++]!;
        if (c === '"') break;
        if (c === '\\' && i < n) out += text[i++]!;
        else out += c;
      }
      value = out;
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
      if (i < n && text[i] !== ';') bad(`unexpected text after the quoted value of ${name}`);
    } else {
      const end = text.indexOf(';', i);
      value = text.slice(i, end < 0 ? n : end).trim();
      if (value.includes(',')) bad(`${name}=${value}: a list must be quoted (${name}="${value}")`);
      if (value.includes('"')) bad(`${name}=${value}: stray quote`);
    }
    i = text.indexOf(';', i);
    if (i < 0) i = n;
    if (!HEADER_FIELDS.has(name)) bad(`unknown field '${name}'`);
    if (name in f) bad(`field '${name}' is given more than once`);
    f[name] = value;
  }
  if (Object.keys(f).length === 0) bad('the header is empty');
  return directiveFrom(f);
}

function str(o: Record<string, unknown>, key: string, where = ''): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') bad(`${where}${key} must be a string`);
  return v;
}

function parseTransform(v: unknown): ReplayTransform {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('transform must be an object');
  const t = v as Record<string, unknown>;
  for (const k of Object.keys(t)) if (k !== 'path' && k !== 'delete_headers' && k !== 'set_headers') bad(`unknown field 'transform.${k}'`);
  const path = str(t, 'path', 'transform.');
  if (path !== undefined && !PATH.test(path)) bad(`transform.path '${path}' must start with / and contain no spaces or control characters`);
  const del: string[] = [];
  if (t['delete_headers'] !== undefined) {
    if (!Array.isArray(t['delete_headers'])) bad('transform.delete_headers must be a list of header names');
    for (const h of t['delete_headers'] as unknown[]) {
      if (typeof h !== 'string' || !TOKEN.test(h)) bad(`transform.delete_headers: '${String(h)}' is not a header name`);
      if (PROTECTED.has(h.toLowerCase()) || h.toLowerCase() === 'host') bad(`transform may not ${h.toLowerCase() === 'host' ? 'delete' : 'change'} the ${h} header`);
      del.push(h.toLowerCase());
    }
  }
  const set: { name: string; value: string }[] = [];
  if (t['set_headers'] !== undefined) {
    if (!Array.isArray(t['set_headers'])) bad('transform.set_headers must be a list of {name, value}');
    for (const h of t['set_headers'] as unknown[]) {
      const o = (typeof h === 'object' && h !== null ? h : {}) as Record<string, unknown>;
      const name = o['name'];
      const value = o['value'];
      if (typeof name !== 'string' || !TOKEN.test(name)) bad(`transform.set_headers: '${String(name)}' is not a header name`);
      if (typeof value !== 'string' || !SAFE_VALUE.test(value)) bad(`transform.set_headers: the value of ${name} must be a string without control characters`);
      if (PROTECTED.has(name.toLowerCase())) bad(`transform may not change the ${name} header`);
      set.push({ name, value: value.trim() });
    }
  }
  return { ...(path !== undefined ? { path } : {}), deleteHeaders: del, setHeaders: set };
}

function parseCache(v: unknown): ReplayCache {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('cache must be an object');
  const c = v as Record<string, unknown>;
  const prefix = str(c, 'prefix', 'cache.');
  const ttl = c['ttl'];
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 10)) bad('cache.ttl must be a whole number of seconds, at least 10');
  const invalidate = c['invalidate'] === true;
  if (!invalidate && prefix === undefined) bad('cache needs a prefix (or invalidate: true)');
  if (prefix !== undefined && !prefix.endsWith('/*')) bad(`cache.prefix '${prefix}' must end with the wildcard /*`);
  return { ...(prefix !== undefined ? { prefix } : {}), ...(typeof ttl === 'number' ? { ttlSecs: ttl } : {}), invalidate };
}

const JSON_FIELDS = new Set([...HEADER_FIELDS, 'transform', 'cache']);

/** Parses the JSON form (the body of an `application/vnd.fly.replay+json` response). */
export function parseReplayJson(body: string): ReplayDirective {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (err) {
    bad(`the ${REPLAY_JSON_TYPE} body is not JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`the ${REPLAY_JSON_TYPE} body must be a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!JSON_FIELDS.has(k)) bad(`unknown field '${k}'`);
  const region = o['region'];
  if (region !== undefined && typeof region !== 'string' && !(Array.isArray(region) && region.every((r) => typeof r === 'string'))) bad('region must be a string or a list of strings');
  const elsewhere = o['elsewhere'];
  if (elsewhere !== undefined && typeof elsewhere !== 'boolean') bad('elsewhere must be true or false');
  const f: Fields = {
    ...(region !== undefined ? { region: region as string | string[] } : {}),
    ...(str(o, 'instance') !== undefined ? { instance: str(o, 'instance')! } : {}),
    ...(str(o, 'prefer_instance') !== undefined ? { prefer_instance: str(o, 'prefer_instance')! } : {}),
    ...(str(o, 'app') !== undefined ? { app: str(o, 'app')! } : {}),
    ...(str(o, 'state') !== undefined ? { state: str(o, 'state')! } : {}),
    ...(elsewhere !== undefined ? { elsewhere: elsewhere as boolean } : {}),
    ...(str(o, 'timeout') !== undefined ? { timeout: str(o, 'timeout')! } : {}),
    ...(str(o, 'fallback') !== undefined ? { fallback: str(o, 'fallback')! } : {}),
  };
  return directiveFrom(f, {
    ...(o['transform'] !== undefined && o['transform'] !== null ? { transform: parseTransform(o['transform']) } : {}),
    ...(o['cache'] !== undefined && o['cache'] !== null ? { cache: parseCache(o['cache']) } : {}),
  });
}

/** The machine that answered `fly-replay`. */
export interface ReplaySource {
  readonly app: string;
  readonly machineId: string;
  readonly region: string;
}

/** Where a replay goes: an app (the source's unless `app=`) and the balancer's constraints. */
export interface ReplayPlan {
  readonly app: string;
  readonly pick: PickRequest;
}

/**
 * The target of a directive: `instance` forces a machine (no fallback to others),
 * `prefer_instance` prefers one, `region` forces the listed regions in order unless `any` is
 * listed (region.ts `regionRouting`), `elsewhere` leaves the source machine out.
 */
export function replayPlan(d: ReplayDirective, source: ReplaySource): ReplayPlan {
  const app = d.app ?? source.app;
  const pick: PickRequest = {
    ...(d.instance !== undefined ? { forceInstance: d.instance } : {}),
    ...(d.preferInstance !== undefined ? { preferInstance: d.preferInstance } : {}),
    ...(d.regions !== undefined ? regionRouting(d.regions, true) : {}),
    ...(d.elsewhere && app === source.app ? { excludeMachine: source.machineId } : {}),
  };
  return { app, pick };
}

/** The fallback's target (docs "Replay Timeout and Fallback"): the source machine, or its app. */
export function fallbackPlan(fallback: ReplayFallback, source: ReplaySource): ReplayPlan {
  return { app: source.app, pick: fallback === 'force_self' ? { forceInstance: source.machineId } : { preferInstance: source.machineId } };
}

/** `fly-replay-src` (added to the replayed request): who asked, from where, when, and `state`. */
export function formatReplaySrc(source: ReplaySource, tMicros: number, state: string | undefined): string {
  return `fly-replay-src: instance=${source.machineId};region=${source.region};t=${tMicros}${state !== undefined ? `;state=${state}` : ''}\r\n`;
}

/** `fly-replay-failed` (added to the fallback request): what was asked and why it did not happen. */
export function formatReplayFailed(d: ReplayDirective, source: ReplaySource, reason: ReplayFailure, elapsedMs: number): string {
  let v = '';
  if (d.instance ?? d.preferInstance) v += `instance=${d.instance ?? d.preferInstance};`;
  v += `app=${d.app ?? source.app};`;
  if (d.regions) v += `region=${d.regions.join(',')};`;
  return `fly-replay-failed: ${v}replay_source=${source.machineId};reason=${reason};elapsed_ms=${Math.round(elapsedMs)}\r\n`;
}

function headerName(line: string): string {
  const c = line.indexOf(':');
  return (c < 0 ? line : line.slice(0, c)).trim().toLowerCase();
}

/**
 * The head of a replayed request: `head` (request line and header lines as forwarded, each ending
 * in CRLF, no final empty line) with the transform applied and the proxy's `fly-replay-*` lines of
 * an earlier hop removed. The caller appends its own lines and the final CRLF.
 */
export function rewriteReplayHead(head: string, transform: ReplayTransform | undefined): string {
  const lines = head.split('\r\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const drop = new Set(['fly-replay-src', 'fly-replay-failed', ...(transform?.deleteHeaders ?? []), ...(transform?.setHeaders ?? []).map((h) => h.name.toLowerCase())]);
  let first = lines[0] ?? '';
  if (transform?.path !== undefined) {
    const sp1 = first.indexOf(' ');
    const sp2 = first.lastIndexOf(' ');
    const target = first.slice(sp1 + 1, sp2);
    const q = target.indexOf('?');
    const path = transform.path.includes('?') || q < 0 ? transform.path : transform.path + target.slice(q);
    first = `${first.slice(0, sp1)} ${path}${first.slice(sp2)}`;
  }
  let out = `${first}\r\n`;
  for (let i = 1; i < lines.length; i++) if (!drop.has(headerName(lines[i]!))) out += `${lines[i]}\r\n`;
  for (const h of transform?.setHeaders ?? []) out += `${h.name}: ${h.value}\r\n`;
  return out;
}
