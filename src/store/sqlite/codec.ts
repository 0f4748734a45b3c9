/**
 * Argument checks and row <-> entity conversion. Kept apart from the SQL so the rules read in
 * one place (they are the same rules the conformance suite checks on every implementation).
 */
import { StoreError } from '../types.js';
import type { Entity } from '../types.js';
import type { EntityRow, RawEntityRow } from './schema.js';

/** Throws `HANGAR_ERR_STORE_INVALID` unless `s` is a non-empty string. */
export function checkName(what: string, s: unknown): asserts s is string {
  if (typeof s !== 'string' || s.length === 0) {
    throw new StoreError('HANGAR_ERR_STORE_INVALID', `${what} must be a non-empty string, got ${JSON.stringify(s)}`);
  }
}

/** Throws unless `v` is a valid expectedVersion (a non-negative integer) or undefined. */
export function checkExpected(v: unknown): asserts v is number | undefined {
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
    throw new StoreError('HANGAR_ERR_STORE_INVALID', `expectedVersion must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
}

/** Serializes a value, refusing what JSON cannot carry (undefined, functions, cycles, BigInt). */
export function encodeValue(kind: string, id: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new StoreError('HANGAR_ERR_STORE_INVALID', `${kind} ${id}: value is not JSON-serializable (${(err as Error).message})`, { cause: err });
  }
  if (text === undefined) {
    throw new StoreError('HANGAR_ERR_STORE_INVALID', `${kind} ${id}: value is not JSON-serializable (${typeof value})`);
  }
  return text;
}

/** Builds the entity a row describes; the value is parsed once here. */
export function rowToEntity<T>(row: EntityRow): Entity<T> {
  return makeEntity<T>(row.kind, row.id, row.scope, row.version, row.revision, row.value, row.created_at, row.updated_at);
}

/**
 * The same from a raw row (columns in `ENTITY_COLUMNS` order). Listing uses raw rows because
 * better-sqlite3 builds them markedly faster than keyed objects on 10,000-row scopes.
 */
export function rawToEntity<T>(r: RawEntityRow): Entity<T> {
  return makeEntity<T>(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

function makeEntity<T>(kind: string, id: string, scope: string | null, version: number, revision: number, value: string, createdAt: string, updatedAt: string): Entity<T> {
  // `scope` is absent rather than undefined on unscoped entities, so deepEqual and JSON agree.
  return scope === null
    ? { kind, id, version, revision, value: JSON.parse(value) as T, createdAt, updatedAt }
    : { kind, id, scope, version, revision, value: JSON.parse(value) as T, createdAt, updatedAt };
}

/** Code-point order of strings, as SQLite's BINARY collation orders UTF-8 text. */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  // JS `<` compares UTF-16 code units, which differs from code-point order only around surrogates.
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
