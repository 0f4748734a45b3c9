/**
 * `[[statics]]` (fly.toml; machine config `statics[]`, reference §1b): files the proxy serves
 * itself from the machine's image, so they need no running machine. Fly's docs: "requests under
 * url_prefix that are present as files in guest_path will be delivered directly to clients,
 * bypassing your web server". A request under a prefix whose file is not there therefore still
 * goes to the app, which lets an app mix static files and dynamic routes under one prefix.
 *
 * Pure: which statics a route has (`routeStatics`), and how a request target maps to a guest
 * path (`matchStatic`). Opening the file inside the image's rootfs is src/proxy/statics.ts.
 *
 * Choices where Fly's behaviour is not documented:
 * - prefixes match whole path segments (`/static` matches `/static` and `/static/a.css`, never
 *   `/staticfoo`), and the longest matching prefix wins; a file missing under it goes to the
 *   app, not to a shorter prefix;
 * - a path segment that is `..` (raw or percent-encoded), or that decodes to something holding
 *   `/`, `\` or NUL, is refused with a 400 when it falls under a prefix: such a path never names
 *   a file of the image, and passing it on would only hand a traversal attempt to the app;
 * - `index_document` is served for a path ending in `/` (and for the prefix itself with a
 *   trailing slash); a directory named without the slash is redirected to the slash form when
 *   the index exists, so relative links in the index resolve as on a file server;
 * - statics with `tigris_bucket` are left out (Hangar has no object store behind the proxy), so
 *   their requests go to the app;
 * - when the machines of a service disagree, the statics of the newest machine version
 *   (`instance_id`, a ULID, so later versions sort last) apply, i.e. those of the latest deploy.
 */
import type { MachineStatic } from '../fly/machine-config.js';

/** One `[[statics]]` entry, normalized. */
export interface StaticMount {
  /** The prefix as configured (for messages). */
  readonly urlPrefix: string;
  /** Its path segments: `/static/` → `['static']`, `/` → `[]`. */
  readonly prefix: readonly string[];
  /** Absolute guest directory, normalized (`/app/public`; `/` for the root). */
  readonly guestPath: string;
  /** File name (or relative path) served for a directory path; undefined: none. */
  readonly indexDocument: string | undefined;
}

/** The statics of a route and the image they are read from. */
export interface RouteStatics {
  /** The machine's `config.image` (`dir:/abs/path` or an image reference). */
  readonly image: string;
  /** `image_ref.digest` once the agent recorded the image it ran (`sha256:…`), else undefined. */
  readonly imageDigest: string | undefined;
  /** Longest prefix first (declaration order among equal lengths). */
  readonly mounts: readonly StaticMount[];
  /** The machine whose config they come from. */
  readonly machineId: string;
}

/** The machine fields statics are taken from (a subset of the route table's machine view). */
export interface StaticsMachine {
  readonly id: string;
  readonly state: string;
  readonly instance_id?: string | undefined;
  readonly image_ref?: { readonly digest: string } | null | undefined;
  readonly config: { readonly image?: string | undefined; readonly statics?: readonly MachineStatic[] | undefined };
}

/** Machines that no longer describe what the app runs. */
const GONE = new Set(['destroying', 'destroyed', 'replaced', 'migrated']);

/** Whether `m` is a newer machine version than `than` (the one whose statics apply). */
export function newerForStatics(m: StaticsMachine, than: StaticsMachine | undefined): boolean {
  if (GONE.has(m.state)) return false;
  if (!than) return true;
  const a = m.instance_id ?? '';
  const b = than.instance_id ?? '';
  return a !== b ? a > b : m.id > than.id;
}

function segments(path: string): string[] | undefined {
  const out: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..' || s.includes('\\') || s.includes('\0')) return undefined;
    out.push(s);
  }
  return out;
}

/** A guest path normalized as a chroot sees it: `..` at the top stays at the top. */
function guestDir(path: string): string {
  const out: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return `/${out.join('/')}`;
}

/**
 * The statics of the machine chosen by `newerForStatics`: undefined when it has none (or only
 * Tigris ones, or no image). Entries with an unusable `url_prefix` (holding `..`) are skipped.
 */
export function routeStatics(m: StaticsMachine | undefined): RouteStatics | undefined {
  const image = m?.config.image;
  if (!m || !image) return undefined;
  const mounts: StaticMount[] = [];
  for (const s of m.config.statics ?? []) {
    if (s.tigris_bucket) continue;
    const prefix = segments(s.url_prefix);
    if (!prefix || !s.guest_path) continue;
    const index = s.index_document ? segments(s.index_document) : undefined;
    mounts.push({ urlPrefix: s.url_prefix, prefix, guestPath: guestDir(s.guest_path), indexDocument: index && index.length > 0 ? index.join('/') : undefined });
  }
  if (mounts.length === 0) return undefined;
  // Array.prototype.sort is stable: equal lengths keep their declared order.
  mounts.sort((a, b) => b.prefix.length - a.prefix.length);
  const digest = m.image_ref?.digest;
  return { image, imageDigest: digest && digest.startsWith('sha256:') ? digest : undefined, mounts, machineId: m.id };
}

/** What a request target means for the statics of its route. */
export type StaticMatch =
  /** Not under any prefix, or not a path a file could have: the app answers. */
  | { readonly kind: 'none' }
  /** Under a prefix but unsafe (`..`, NUL, backslash, an encoded `/`): answered 400. */
  | { readonly kind: 'refused'; readonly reason: string }
  | {
      readonly kind: 'file';
      readonly mount: StaticMount;
      /** Guest path of the file to serve (the index document for a path ending in `/`). */
      readonly guestFile: string;
      /**
       * When `guestFile` turns out to be a directory: the guest path of its index document
       * (the client is redirected to `redirect`); undefined when the mount has no index.
       */
      readonly dirIndex: string | undefined;
      /** `Location` for that redirect: the request path with `/` appended, query kept. */
      readonly redirect: string;
    };

const NONE: StaticMatch = { kind: 'none' };

/** The path and query of a request target (origin form, or absolute form from a proxy client). */
function splitTarget(target: string): { path: string; query: string } | undefined {
  let t = target;
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  if (!t.startsWith('/')) {
    const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*/.exec(t);
    if (!scheme) return undefined;
    t = t.slice(scheme[0].length);
    if (!t.startsWith('/')) t = `/${t}`;
  }
  const q = t.indexOf('?');
  return q < 0 ? { path: t, query: '' } : { path: t.slice(0, q), query: t.slice(q) };
}

function join(dir: string, rel: readonly string[]): string {
  if (rel.length === 0) return dir;
  return dir === '/' ? `/${rel.join('/')}` : `${dir}/${rel.join('/')}`;
}

/**
 * Maps a request target (`/static/app.css?v=2`) to the guest file a mount would serve. Path
 * segments are percent-decoded one by one, so an encoded `/` cannot make a new separator.
 */
export function matchStatic(statics: RouteStatics, target: string): StaticMatch {
  const parts = splitTarget(target);
  if (!parts) return NONE;
  const raw = parts.path.split('/');
  const decoded: string[] = [];
  let unsafe: string | undefined;
  for (const s of raw) {
    if (s === '') continue;
    let d: string;
    try {
      d = s.includes('%') ? decodeURIComponent(s) : s;
    } catch {
      return NONE; // not a valid percent-encoding: no file can have this name; the app decides
    }
    if (d === '.') continue;
    if (d === '..') unsafe ??= 'the path contains a ".." segment';
    else if (d.includes('/')) unsafe ??= 'the path contains an encoded "/"';
    else if (d.includes('\\')) unsafe ??= 'the path contains a backslash';
    else if (d.includes('\0')) unsafe ??= 'the path contains a NUL byte';
    decoded.push(d);
  }
  const mount = statics.mounts.find((m) => m.prefix.length <= decoded.length && m.prefix.every((p, i) => decoded[i] === p));
  if (!mount) return NONE;
  if (unsafe) return { kind: 'refused', reason: `${unsafe}; it is not served from the statics under ${mount.urlPrefix}` };
  const rel = decoded.slice(mount.prefix.length);
  const dir = join(mount.guestPath, rel);
  const slash = parts.path.endsWith('/');
  if (slash) {
    if (!mount.indexDocument) return NONE;
    return { kind: 'file', mount, guestFile: join(dir, [mount.indexDocument]), dirIndex: undefined, redirect: '' };
  }
  return {
    kind: 'file',
    mount,
    guestFile: dir,
    dirIndex: mount.indexDocument ? join(dir, [mount.indexDocument]) : undefined,
    // Leading slashes collapsed: `//host/dir` must not become a protocol-relative Location.
    redirect: `${parts.path.replace(/^\/+/, '/')}/${parts.query}`,
  };
}
