/**
 * The embedded-default StateStore: one SQLite file (WAL) per control plane, `better-sqlite3`.
 *
 * Writes run in `BEGIN IMMEDIATE` transactions, so two connections (two processes on one file)
 * serialize on SQLite's write lock instead of failing half-way; a global revision counter and a
 * change log live in the same transactions, so the change feed is exactly the committed history.
 * better-sqlite3 is synchronous: a writer waiting for another process's lock blocks this thread
 * for up to `busyTimeoutMs`, which is acceptable because writes are short.
 */
import type Database from 'better-sqlite3';
import {
  StoreConflictError,
  StoreError,
  type BatchOp,
  type BatchResult,
  type DeleteOptions,
  type Entity,
  type ListOptions,
  type PutOptions,
  type StateStore,
  type StoreWatcher,
  type WatchOptions,
} from '../types.js';
import { checkExpected, checkName, compareIds, encodeValue, rawToEntity, rowToEntity } from './codec.js';
import { ChangeFeed } from './feed.js';
import { openDatabase, SQL, translateError, type ChangeRow, type EntityRow, type OpenOptions, type RawEntityRow } from './schema.js';
import { QueueWatcher, type Snapshot } from './watcher.js';

export interface SqliteStoreOptions extends OpenOptions {
  /** Database file (created if missing; its directory must exist), or `:memory:`. */
  readonly path: string;
  /** How many of the latest changes the change log keeps for catching-up watchers (default 10,000). */
  readonly changeRetention?: number;
  /** How often watchers poll for writes made by other connections (default 250 ms). */
  readonly pollIntervalMs?: number;
  /** Events a watcher buffers for a slow consumer before it re-snapshots instead (default 10,000). */
  readonly maxWatchBuffer?: number;
  /** Clock for createdAt/updatedAt (tests). */
  readonly now?: () => Date;
}

/** A write op after validation and encoding, ready for the transaction. */
type PreparedOp =
  | { op: 'put'; kind: string; id: string; text: string; expectedVersion: number | undefined; scope: string | undefined }
  | { op: 'delete'; kind: string; id: string; expectedVersion: number | undefined }
  | { op: 'check'; kind: string; id: string; expectedVersion: number };

export class SqliteStore implements StateStore {
  readonly path: string;
  private db: Database.Database | undefined;
  private readonly stmts: { [K in keyof typeof SQL]: Database.Statement };
  private readonly rawList: { all: Database.Statement; scope: Database.Statement };
  private readonly rawVersions: { all: Database.Statement; scope: Database.Statement };
  private readonly feed: ChangeFeed;
  private readonly retention: number;
  private readonly maxWatchBuffer: number;
  private readonly now: () => Date;
  private readonly writeTx: (ops: PreparedOp[], batch: boolean) => BatchResult;
  private readonly snapshotTx: (kinds: string[], scope: string | undefined) => Snapshot<unknown>;
  private readonly changesTx: (after: number, limit: number) => { compacted: number; rows: ChangeRow[] };

  /** Opens the store; throws `StoreError` (CORRUPT or IO, naming the file) if it cannot. */
  constructor(opts: SqliteStoreOptions) {
    this.path = opts.path;
    this.retention = positiveInt('changeRetention', opts.changeRetention ?? 10_000);
    this.maxWatchBuffer = positiveInt('maxWatchBuffer', opts.maxWatchBuffer ?? 10_000);
    const pollIntervalMs = positiveInt('pollIntervalMs', opts.pollIntervalMs ?? 250);
    this.now = opts.now ?? (() => new Date());
    const db = openDatabase(opts.path, opts);
    this.db = db;
    this.stmts = Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, db.prepare(sql)])) as SqliteStore['stmts'];
    this.rawList = { all: db.prepare(SQL.listAll).raw(), scope: db.prepare(SQL.listScope).raw() };
    // raw rows: listVersions is on the hot path of large listings, and arrays are cheaper than objects
    this.rawVersions = { all: db.prepare(SQL.versionsAll).raw(), scope: db.prepare(SQL.versionsScope).raw() };
    this.writeTx = db.transaction((ops: PreparedOp[], batch: boolean) => this.runOps(ops, batch)).immediate;
    this.snapshotTx = db.transaction((kinds: string[], scope: string | undefined) => this.readSnapshot(kinds, scope));
    this.changesTx = db.transaction((after: number, limit: number) => ({
      compacted: this.meta('compacted'),
      rows: this.stmts.changesAfter.all(after, limit) as ChangeRow[],
    }));
    this.feed = new ChangeFeed({ readChanges: (after, limit) => this.changesTx(after, limit) }, pollIntervalMs);
  }

  async get<T = unknown>(kind: string, id: string): Promise<Entity<T> | undefined> {
    checkName('kind', kind);
    checkName('id', id);
    const row = this.guard('reading', () => this.stmts.get.get(kind, id) as EntityRow | undefined);
    return row === undefined ? undefined : rowToEntity<T>(row);
  }

  async list<T = unknown>(kind: string, opts: ListOptions = {}): Promise<Array<Entity<T>>> {
    checkName('kind', kind);
    if (opts.scope !== undefined) checkName('scope', opts.scope);
    if (opts.after !== undefined && typeof opts.after !== 'string') checkName('after', opts.after);
    const limit = opts.limit === undefined ? -1 : positiveInt('limit', opts.limit);
    const after = opts.after ?? '';
    const rows = this.guard('listing', () =>
      (opts.scope === undefined
        ? this.rawList.all.all(kind, after, limit)
        : this.rawList.scope.all(kind, opts.scope, after, limit)) as RawEntityRow[],
    );
    return rows.map((r) => rawToEntity<T>(r));
  }

  async count(kind: string, opts: { readonly scope?: string } = {}): Promise<number> {
    checkName('kind', kind);
    if (opts.scope !== undefined) checkName('scope', opts.scope);
    const row = this.guard('counting', () =>
      (opts.scope === undefined ? this.stmts.countAll.get(kind) : this.stmts.countScope.get(kind, opts.scope)) as { n: number },
    );
    return row.n;
  }

  async listVersions(kind: string, opts: { readonly scope?: string } = {}): Promise<Array<{ id: string; version: number }>> {
    checkName('kind', kind);
    if (opts.scope !== undefined) checkName('scope', opts.scope);
    const rows = this.guard('listing', () =>
      (opts.scope === undefined ? this.rawVersions.all.all(kind) : this.rawVersions.scope.all(kind, opts.scope)) as Array<[string, number]>,
    );
    return rows.map(([id, version]) => ({ id, version }));
  }

  async put<T = unknown>(kind: string, id: string, value: T, opts: PutOptions = {}): Promise<Entity<T>> {
    const op = prepare({ op: 'put', kind, id, value, expectedVersion: opts.expectedVersion, scope: opts.scope });
    return this.write([op], false).results[0] as Entity<T>;
  }

  async delete<T = unknown>(kind: string, id: string, opts: DeleteOptions = {}): Promise<Entity<T> | undefined> {
    const op = prepare({ op: 'delete', kind, id, expectedVersion: opts.expectedVersion });
    return this.write([op], false).results[0] as Entity<T> | undefined;
  }

  async apply(ops: ReadonlyArray<BatchOp>): Promise<BatchResult> {
    if (!Array.isArray(ops)) throw new StoreError('HANGAR_ERR_STORE_INVALID', 'apply() takes an array of ops');
    return this.write(ops.map(prepare), true);
  }

  async revision(): Promise<number> {
    return this.guard('reading the revision', () => this.meta('revision'));
  }

  async watch<T = unknown>(kinds: string | ReadonlyArray<string>, opts: WatchOptions = {}): Promise<StoreWatcher<T>> {
    const list = typeof kinds === 'string' ? [kinds] : [...kinds];
    if (list.length === 0) throw new StoreError('HANGAR_ERR_STORE_INVALID', 'watch() needs at least one kind');
    for (const k of list) checkName('kind', k);
    if (opts.scope !== undefined) checkName('scope', opts.scope);
    const sorted = [...new Set(list)].sort(compareIds);
    const take = (): Snapshot<unknown> => this.guard('taking a snapshot', () => this.snapshotTx(sorted, opts.scope));
    const initial = take();
    const watcher: QueueWatcher<unknown> = new QueueWatcher(new Set(sorted), opts.scope, initial, this.maxWatchBuffer, {
      snapshot: take,
      onClose: () => this.feed.remove(watcher),
    });
    this.feed.add(watcher, initial.revision);
    return watcher as unknown as StoreWatcher<T>;
  }

  async close(): Promise<void> {
    if (this.db === undefined) return;
    this.feed.closeAll();
    this.db.close();
    this.db = undefined;
  }

  /** Runs a write transaction, then tells local watchers. */
  private write(ops: PreparedOp[], batch: boolean): BatchResult {
    const result = this.guard('writing', () => this.writeTx(ops, batch));
    const wrote = ops.some((op, i) => op.op === 'put' || (op.op === 'delete' && result.results[i] !== undefined));
    if (wrote) this.feed.pump();
    return result;
  }

  /** The body of every write transaction; throwing rolls the whole transaction back. */
  private runOps(ops: PreparedOp[], batch: boolean): BatchResult {
    const start = this.meta('revision');
    let revision = start;
    const now = this.now().toISOString();
    const results: Array<Entity | undefined> = [];
    ops.forEach((op, index) => {
      const row = this.stmts.get.get(op.kind, op.id) as EntityRow | undefined;
      const actual = row?.version ?? 0;
      if (op.expectedVersion !== undefined && op.expectedVersion !== actual) {
        throw new StoreConflictError(op.kind, op.id, op.expectedVersion, actual, batch ? index : undefined);
      }
      if (op.op === 'check') {
        results.push(row === undefined ? undefined : rowToEntity(row));
        return;
      }
      if (op.op === 'delete') {
        if (row === undefined) {
          results.push(undefined);
          return;
        }
        revision += 1;
        this.stmts.remove.run(op.kind, op.id);
        this.stmts.logChange.run(revision, 'delete', row.kind, row.id, row.scope, row.version, row.revision, row.value, row.created_at, row.updated_at);
        results.push(rowToEntity(row));
        return;
      }
      if (row !== undefined && op.scope !== undefined && op.scope !== row.scope) {
        throw new StoreError('HANGAR_ERR_STORE_INVALID', `${op.kind} ${op.id}: scope is ${JSON.stringify(row.scope)} and cannot change to ${JSON.stringify(op.scope)}`);
      }
      revision += 1;
      const next: EntityRow = {
        kind: op.kind,
        id: op.id,
        scope: row === undefined ? (op.scope ?? null) : row.scope,
        version: actual + 1,
        revision,
        value: op.text,
        created_at: row?.created_at ?? now,
        updated_at: now,
      };
      if (row === undefined) {
        this.stmts.insert.run(next.kind, next.id, next.scope, next.version, next.revision, next.value, next.created_at, next.updated_at);
      } else {
        this.stmts.update.run(next.version, next.revision, next.value, next.updated_at, next.kind, next.id);
      }
      this.stmts.logChange.run(revision, 'put', next.kind, next.id, next.scope, next.version, next.revision, next.value, next.created_at, next.updated_at);
      results.push(rowToEntity(next));
    });
    if (revision !== start) {
      this.stmts.writeMeta.run(revision, 'revision');
      const cutoff = revision - this.retention;
      if (cutoff > this.meta('compacted')) {
        this.stmts.compact.run(cutoff);
        this.stmts.writeMeta.run(cutoff, 'compacted');
      }
    }
    return { revision, results };
  }

  private readSnapshot(kinds: string[], scope: string | undefined): Snapshot<unknown> {
    const revision = this.meta('revision');
    const entities: Entity[] = [];
    for (const kind of kinds) {
      const rows = (scope === undefined ? this.rawList.all.all(kind, '', -1) : this.rawList.scope.all(kind, scope, '', -1)) as RawEntityRow[];
      for (const r of rows) entities.push(rawToEntity(r));
    }
    return { revision, entities };
  }

  private meta(key: 'revision' | 'compacted'): number {
    return (this.stmts.readMeta.get(key) as { value: number }).value;
  }

  /** Runs `fn` on an open database, turning SQLite failures into StoreErrors naming the file. */
  private guard<R>(doing: string, fn: () => R): R {
    if (this.db === undefined) throw new StoreError('HANGAR_ERR_STORE_CLOSED', `state store ${this.path} is closed`, { path: this.path });
    try {
      return fn();
    } catch (err) {
      throw translateError(err, this.path, doing);
    }
  }
}

/** Validates and encodes one op outside the transaction, so a bad op costs no lock. */
function prepare(op: BatchOp): PreparedOp {
  if (op === null || typeof op !== 'object') throw new StoreError('HANGAR_ERR_STORE_INVALID', `batch op must be an object, got ${JSON.stringify(op)}`);
  checkName('kind', op.kind);
  checkName('id', op.id);
  checkExpected(op.expectedVersion);
  switch (op.op) {
    case 'put':
      if (op.scope !== undefined) checkName('scope', op.scope);
      return { op: 'put', kind: op.kind, id: op.id, text: encodeValue(op.kind, op.id, op.value), expectedVersion: op.expectedVersion, scope: op.scope };
    case 'delete':
      return { op: 'delete', kind: op.kind, id: op.id, expectedVersion: op.expectedVersion };
    case 'check':
      if (op.expectedVersion === undefined) throw new StoreError('HANGAR_ERR_STORE_INVALID', `check of ${op.kind} ${op.id} needs an expectedVersion`);
      return { op: 'check', kind: op.kind, id: op.id, expectedVersion: op.expectedVersion };
    default:
      throw new StoreError('HANGAR_ERR_STORE_INVALID', `unknown batch op ${JSON.stringify((op as { op?: unknown }).op)}`);
  }
}

function positiveInt(what: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new StoreError('HANGAR_ERR_STORE_INVALID', `${what} must be a positive integer, got ${JSON.stringify(n)}`);
  return n;
}
