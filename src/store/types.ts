/**
 * The StateStore contract (ARCHITECTURE.md "Interfaces (the seams)").
 *
 * Desired and reported state (apps, releases, machines, volumes, ...) lives here as versioned
 * JSON entities. Agents, the proxy and DNS `watch()` the store and rebuild pure tables from a
 * snapshot followed by ordered changes. Implementations: SQLite (embedded default) and, later,
 * PostgreSQL (cluster mode, LISTEN/NOTIFY). Every implementation must pass the conformance suite
 * in `test/store/conformance.ts`; the JSDoc below is the contract that suite checks.
 *
 * Everything is async even where SQLite could answer synchronously, so a networked store fits
 * the same interface. Nothing in here names a database: no SQL, no rowids, no file handles.
 */

/**
 * One stored entity. Identity is `(kind, id)`.
 *
 * Entities handed out by the store are snapshots: the store never mutates them afterwards and
 * callers must not mutate them either (watch events may share one object between watchers).
 */
import { HangarError } from '../core/errors.js';
export interface Entity<T = unknown> {
  /** Entity type, e.g. `"machine"`, `"app"`, `"volume"`. */
  readonly kind: string;
  /** Unique within its kind. Any non-empty string; the store does not interpret it. */
  readonly id: string;
  /**
   * Indexed grouping key, e.g. the app name for machines, so `list(kind, { scope })` stays fast
   * for large kinds. Set when the entity is created and never changed afterwards.
   */
  readonly scope?: string;
  /** 1 after creation, +1 on every write. Deleting and re-creating starts again at 1. */
  readonly version: number;
  /** Global store revision of the write that produced this version (see `StateStore.revision`). */
  readonly revision: number;
  /** The JSON value as written (a structurally equal copy, never the caller's object). */
  readonly value: T;
  /** ISO-8601 UTC timestamp (millisecond precision) of the creating write. */
  readonly createdAt: string;
  /** ISO-8601 UTC timestamp of the latest write. */
  readonly updatedAt: string;
}

/** Options of a single `put`. */
export interface PutOptions {
  /**
   * Compare-and-set guard: `0` = the entity must not exist (create); `N > 0` = it must exist at
   * version N; omitted = unconditional write. A mismatch throws `StoreConflictError`.
   */
  readonly expectedVersion?: number;
  /**
   * Scope of a new entity. On an update it may be omitted (the stored scope is kept) or repeated;
   * a different scope throws `StoreError` `HANGAR_ERR_STORE_INVALID` because scopes never move.
   */
  readonly scope?: string;
}

/** Options of a single `delete`. */
export interface DeleteOptions {
  /** `N > 0` = the entity must exist at version N; omitted = delete whatever is there. */
  readonly expectedVersion?: number;
}

/** Options of `list`. */
export interface ListOptions {
  /** Only entities of this scope. */
  readonly scope?: string;
  /** At most this many entities (a positive integer). */
  readonly limit?: number;
  /**
   * Pagination cursor: only ids strictly greater than this one. Pass the last id of the previous
   * page. Ids compare by Unicode code point (= UTF-8 byte order, `COLLATE "C"` in PostgreSQL).
   */
  readonly after?: string;
}

/** One operation of an atomic batch (`StateStore.apply`). */
export type BatchOp =
  | { readonly op: 'put'; readonly kind: string; readonly id: string; readonly value: unknown; readonly expectedVersion?: number; readonly scope?: string }
  | { readonly op: 'delete'; readonly kind: string; readonly id: string; readonly expectedVersion?: number }
  /** A guard that writes nothing: the batch fails unless the entity is at `expectedVersion` (0 = absent). */
  | { readonly op: 'check'; readonly kind: string; readonly id: string; readonly expectedVersion: number };

/** Result of an atomic batch. */
export interface BatchResult {
  /** Store revision after the batch (unchanged if the batch wrote nothing). */
  readonly revision: number;
  /**
   * One entry per op, in order: the entity written by a `put`; the entity as it was before a
   * `delete` (undefined if there was nothing to delete); the current entity for a `check`.
   */
  readonly results: ReadonlyArray<Entity | undefined>;
}

/** Why a watcher receives a snapshot. */
export type SnapshotReason =
  /** The first event of every watch. */
  | 'initial'
  /** The changes the watcher still needed were compacted away; this snapshot replaces all state. */
  | 'compacted'
  /** The consumer read too slowly and its buffer overflowed; this snapshot replaces all state. */
  | 'overflow';

/** An event of `StateStore.watch`. */
export type WatchEvent<T = unknown> =
  | {
      readonly type: 'snapshot';
      /** Every matching entity at this revision; changes after it follow. */
      readonly revision: number;
      readonly reason: SnapshotReason;
      /** All matching entities, sorted by kind then id. */
      readonly entities: ReadonlyArray<Entity<T>>;
    }
  | {
      readonly type: 'put';
      readonly revision: number;
      /** The entity as written; `entity.version === 1` means it was created. */
      readonly entity: Entity<T>;
    }
  | {
      readonly type: 'delete';
      readonly revision: number;
      /** The entity as it was just before it was deleted. */
      readonly entity: Entity<T>;
    };

/** Options of `watch`. */
export interface WatchOptions {
  /** Only entities of this scope (applies to every watched kind). */
  readonly scope?: string;
}

/**
 * A running watch. Iterate it with `for await`; breaking out of the loop closes it.
 *
 * Guarantees: the first event is a snapshot (`reason: 'initial'`) that includes every write
 * completed before `watch()` resolved; then one event per change with a revision greater than
 * the snapshot's, in strictly increasing revision order, with no gap and no duplicate. If the
 * watcher cannot keep that promise (compaction, slow consumer) it yields a fresh snapshot with
 * another `reason` instead of silently skipping changes: consumers must treat every snapshot as
 * "replace the whole table".
 */
export interface StoreWatcher<T = unknown> extends AsyncIterable<WatchEvent<T>> {
  /** Ends the iteration: a pending `next()` resolves `done`, and no more events are buffered. */
  close(): void;
}

/** The state store. All methods reject with `StoreError` (`HANGAR_ERR_STORE_CLOSED`) after `close()`. */
export interface StateStore {
  /** The entity, or undefined if it does not exist. */
  get<T = unknown>(kind: string, id: string): Promise<Entity<T> | undefined>;

  /**
   * Entities of a kind sorted by id (code-point order), optionally only one scope, paginated with
   * `after` + `limit`. Listing one scope must use an index (cost proportional to the scope's size).
   */
  list<T = unknown>(kind: string, opts?: ListOptions): Promise<Array<Entity<T>>>;

  /** Number of entities of a kind (optionally of one scope). */
  count(kind: string, opts?: { readonly scope?: string }): Promise<number>;

  /**
   * Id and version of every entity of a kind (optionally of one scope), sorted like `list`,
   * without reading the values: lets a caller keep a per-version cache of something derived
   * from each entity (e.g. its API JSON) and fetch only what changed.
   */
  listVersions(kind: string, opts?: { readonly scope?: string }): Promise<Array<{ id: string; version: number }>>;

  /**
   * Creates or updates an entity; see `PutOptions.expectedVersion` for compare-and-set.
   * `value` must be JSON-serializable (`StoreError` `HANGAR_ERR_STORE_INVALID` otherwise).
   * Returns the stored entity; its `revision` is the new store revision.
   */
  put<T = unknown>(kind: string, id: string, value: T, opts?: PutOptions): Promise<Entity<T>>;

  /**
   * Deletes an entity. Returns it as it was before the delete, or undefined when it did not exist
   * and no `expectedVersion` was given (with one, a missing entity is a conflict with actual 0).
   */
  delete<T = unknown>(kind: string, id: string, opts?: DeleteOptions): Promise<Entity<T> | undefined>;

  /**
   * Runs ops in order in one transaction: either every op's guard passes and all writes commit,
   * or `StoreConflictError` (with `opIndex`) is thrown and nothing is written. Later ops see the
   * effects of earlier ones (put then put of the same id needs expectedVersion 1 the second time).
   * Each write gets its own consecutive revision; watchers see all of them or none.
   */
  apply(ops: ReadonlyArray<BatchOp>): Promise<BatchResult>;

  /**
   * The current global revision: 0 for an empty store, +1 for every change ever committed
   * (never reused, survives compaction and restarts).
   */
  revision(): Promise<number>;

  /** Watches one or several kinds; see `StoreWatcher` for the ordering guarantees. */
  watch<T = unknown>(kinds: string | ReadonlyArray<string>, opts?: WatchOptions): Promise<StoreWatcher<T>>;

  /** Ends every watcher and releases connections, timers and file handles. Idempotent. */
  close(): Promise<void>;
}

/** Codes of store errors; the lead adds them to `src/core/errors.ts`. */
export type StoreErrorCode =
  | 'HANGAR_ERR_STORE_CONFLICT'
  /** A caller bug: empty kind/id, non-JSON value, bad limit, moving a scope. */
  | 'HANGAR_ERR_STORE_INVALID'
  /** The database file is damaged or is not a Hangar state store. */
  | 'HANGAR_ERR_STORE_CORRUPT'
  /** The store cannot read or write: missing/read-only directory, permissions, disk full. */
  | 'HANGAR_ERR_STORE_IO'
  /** The store was closed. */
  | 'HANGAR_ERR_STORE_CLOSED';

/** An error raised by a store on purpose. `path` names the database file where there is one. */
export class StoreError extends HangarError {
  declare readonly code: StoreErrorCode;
  readonly path: string | undefined;

  constructor(code: StoreErrorCode, message: string, options: { cause?: unknown; path?: string } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'StoreError';
    this.path = options.path;
  }
}

/** A compare-and-set guard failed. Nothing was written. */
export class StoreConflictError extends StoreError {
  declare readonly code: 'HANGAR_ERR_STORE_CONFLICT';
  readonly kind: string;
  readonly id: string;
  /** The version the caller expected (0 = "must not exist"). */
  readonly expectedVersion: number;
  /** The version found (0 = does not exist). */
  readonly actualVersion: number;
  /** Index of the failing op within a batch; undefined for single writes. */
  readonly opIndex: number | undefined;

  constructor(kind: string, id: string, expectedVersion: number, actualVersion: number, opIndex?: number) {
    const found = actualVersion === 0 ? 'it does not exist' : `it is at version ${actualVersion}`;
    const wanted = expectedVersion === 0 ? 'not to exist' : `version ${expectedVersion}`;
    const where = opIndex === undefined ? '' : ` (batch op ${opIndex})`;
    super('HANGAR_ERR_STORE_CONFLICT', `${kind} ${id}: expected ${wanted} but ${found}${where}`);
    this.name = 'StoreConflictError';
    this.kind = kind;
    this.id = id;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
    this.opIndex = opIndex;
  }
}

/** Narrowing helper for callers that retry on conflicts. */
export function isStoreConflict(err: unknown): err is StoreConflictError {
  return err instanceof StoreConflictError;
}
