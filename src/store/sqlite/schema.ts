/**
 * Opening a SQLite state store file: pragmas, schema, and translating SQLite's failures into
 * `StoreError`s that name the file. Everything SQL-specific the rest of the store needs is here
 * so the statements can be checked (EXPLAIN QUERY PLAN) by tests.
 */
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../types.js';

/** `PRAGMA application_id` of Hangar store files ("HNGR"), so we never adopt someone else's DB. */
export const APPLICATION_ID = 0x484e4752;
/** Bumped when the schema changes; `openDatabase` refuses files from a newer Hangar. */
export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entities (
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  scope TEXT,
  version INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (kind, id)
);
-- list(kind, {scope}) walks this index in id order: no sort, no scan of other scopes.
CREATE INDEX IF NOT EXISTS entities_by_scope ON entities (kind, scope, id);
-- The change feed: one row per committed change, the full entity, compacted from the bottom.
CREATE TABLE IF NOT EXISTS changes (
  revision INTEGER PRIMARY KEY,
  type TEXT NOT NULL CHECK (type IN ('put', 'delete')),
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  scope TEXT,
  version INTEGER NOT NULL,
  entity_revision INTEGER NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
-- revision: last assigned revision; compacted: every change at or below it has been removed.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0);
`;

/** Column order of entity rows; `RawEntityRow` depends on it. */
const ENTITY_COLUMNS = 'kind, id, scope, version, revision, value, created_at, updated_at';

/** Every statement the store runs, by name. Exported for query-plan tests. */
export const SQL = {
  get: `SELECT ${ENTITY_COLUMNS} FROM entities WHERE kind = ? AND id = ?`,
  listAll: `SELECT ${ENTITY_COLUMNS} FROM entities WHERE kind = ? AND id > ? ORDER BY id LIMIT ?`,
  listScope: `SELECT ${ENTITY_COLUMNS} FROM entities WHERE kind = ? AND scope = ? AND id > ? ORDER BY id LIMIT ?`,
  versionsAll: 'SELECT id, version FROM entities WHERE kind = ? ORDER BY id',
  versionsScope: 'SELECT id, version FROM entities WHERE kind = ? AND scope = ? ORDER BY id',
  countAll: 'SELECT count(*) AS n FROM entities WHERE kind = ?',
  countScope: 'SELECT count(*) AS n FROM entities WHERE kind = ? AND scope = ?',
  insert: `INSERT INTO entities (${ENTITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  update: 'UPDATE entities SET version = ?, revision = ?, value = ?, updated_at = ? WHERE kind = ? AND id = ?',
  remove: 'DELETE FROM entities WHERE kind = ? AND id = ?',
  logChange: `INSERT INTO changes (revision, type, kind, id, scope, version, entity_revision, value, created_at, updated_at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  readMeta: "SELECT value FROM meta WHERE key = ?",
  writeMeta: "UPDATE meta SET value = ? WHERE key = ?",
  compact: 'DELETE FROM changes WHERE revision <= ?',
  changesAfter: `SELECT revision AS change_revision, type, kind, id, scope, version, entity_revision AS revision,
                   value, created_at, updated_at FROM changes
                 WHERE changes.revision > ? ORDER BY changes.revision LIMIT ?`, // qualified: a bare `revision` would mean the alias
} as const;

/** An `entities` row (and, with `type`/`change_revision`, a `changes` row). */
export interface EntityRow {
  kind: string;
  id: string;
  scope: string | null;
  version: number;
  revision: number;
  value: string;
  created_at: string;
  updated_at: string;
}

/** An `entities` row as an array, columns in `ENTITY_COLUMNS` order (better-sqlite3 raw mode). */
export type RawEntityRow = [kind: string, id: string, scope: string | null, version: number, revision: number, value: string, created_at: string, updated_at: string];

export interface ChangeRow extends EntityRow {
  change_revision: number;
  type: 'put' | 'delete';
}

/** SQLite result codes that mean "this file is not a usable database". */
const CORRUPT_CODES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);

/**
 * Turns a SQLite error into a `StoreError` naming the file. Errors that are already StoreErrors,
 * and programming errors without a SQLite code, pass through unchanged.
 */
export function translateError(err: unknown, path: string, doing: string): unknown {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (CORRUPT_CODES.has(code) || code.startsWith('SQLITE_CORRUPT')) {
    return new StoreError('HANGAR_ERR_STORE_CORRUPT', `state store ${path} is damaged or not a SQLite database (${code}: ${detail}) while ${doing}`, { cause: err, path });
  }
  if (code === 'SQLITE_FULL') {
    return new StoreError('HANGAR_ERR_STORE_IO', `state store ${path} is full (disk full or size limit reached) while ${doing}; nothing was written`, { cause: err, path });
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return new StoreError('HANGAR_ERR_STORE_IO', `state store ${path} cannot be opened for writing (${code}: ${detail}) while ${doing}; check that the file and its directory exist and are writable`, { cause: err, path });
  }
  return new StoreError('HANGAR_ERR_STORE_IO', `state store ${path} failed while ${doing} (${code}: ${detail})`, { cause: err, path });
}

export interface OpenOptions {
  /** `full` (default) fsyncs every commit; `normal` may lose the last commits on power loss, never corrupts. */
  readonly synchronous?: 'full' | 'normal';
  /** How long a writer waits for another connection's write lock before failing (default 5000 ms). */
  readonly busyTimeoutMs?: number;
  /** Caps the file size (SQLite `max_page_count`, 4 KiB pages); writes beyond fail like a full disk. */
  readonly maxSizeBytes?: number;
}

/**
 * Opens (creating if needed) a state store file: WAL mode, schema, checks that the file is ours.
 * `:memory:` gives a private in-memory store (useful in tests; not shareable between instances).
 */
export function openDatabase(path: string, opts: OpenOptions = {}): Database.Database {
  if (path !== ':memory:') {
    const dir = dirname(path);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new StoreError('HANGAR_ERR_STORE_IO', `state store ${path}: directory ${dir} does not exist`, { path });
    }
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    // Reading the schema first makes SQLite parse the header: a non-database fails here, before
    // we try to change anything in it.
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
    const appId = db.pragma('application_id', { simple: true }) as number;
    const userVersion = db.pragma('user_version', { simple: true }) as number;
    if (appId !== APPLICATION_ID && (appId !== 0 || tables.length > 0)) {
      throw new StoreError('HANGAR_ERR_STORE_CORRUPT', `state store ${path} is a SQLite database but not a Hangar state store (application_id ${appId}, tables: ${tables.join(', ') || 'none'})`, { path });
    }
    if (userVersion > SCHEMA_VERSION) {
      throw new StoreError('HANGAR_ERR_STORE_CORRUPT', `state store ${path} has schema version ${userVersion}, newer than this Hangar understands (${SCHEMA_VERSION}); upgrade Hangar`, { path });
    }
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    if (opts.maxSizeBytes !== undefined) {
      db.pragma(`max_page_count = ${Math.max(1, Math.ceil(opts.maxSizeBytes / (db.pragma('page_size', { simple: true }) as number)))}`);
    }
    db.transaction(() => {
      db!.exec(SCHEMA);
      db!.pragma(`application_id = ${APPLICATION_ID}`);
      db!.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
    return db;
  } catch (err) {
    db?.close();
    throw translateError(err, path, 'opening');
  }
}
