/**
 * One watch: a bounded queue between the change feed (producer, synchronous) and a `for await`
 * consumer. The watcher remembers the last revision it has accounted for (`cursor`), which is
 * what makes "no gap, no duplicate" hold: a snapshot at revision R sets the cursor to R, and the
 * feed's changes at or below the cursor are ignored.
 */
import type { Entity, SnapshotReason, StoreWatcher, WatchEvent } from '../types.js';

/** A consistent view of the matching entities at one revision. */
export interface Snapshot<T> {
  readonly revision: number;
  readonly entities: ReadonlyArray<Entity<T>>;
}

/** A change as the feed hands it to watchers. */
export interface Change<T> {
  readonly type: 'put' | 'delete';
  readonly revision: number;
  readonly entity: Entity<T>;
}

export interface WatcherHooks<T> {
  /** Reads a fresh snapshot of what this watcher matches (used for re-snapshots). */
  readonly snapshot: () => Snapshot<T>;
  /** Called once when the watcher closes, so the feed can forget it. */
  readonly onClose: () => void;
}

type Waiter<T> = { resolve: (r: IteratorResult<WatchEvent<T>>) => void; reject: (err: unknown) => void };

export class QueueWatcher<T> implements StoreWatcher<T> {
  /** Highest revision this watcher has accounted for (delivered, skipped as unrelated, or in a snapshot). */
  cursor: number;
  private queue: Array<WatchEvent<T>> = [];
  private head = 0;
  private waiter: Waiter<T> | undefined;
  private resync: SnapshotReason | undefined;
  private failure: unknown;
  private closed = false;
  /** Whether the consumer has read anything yet; until it has, any snapshot is its initial one. */
  private started = false;

  constructor(
    private readonly kinds: ReadonlySet<string>,
    private readonly scope: string | undefined,
    initial: Snapshot<T>,
    private readonly maxBuffered: number,
    private readonly hooks: WatcherHooks<T>,
  ) {
    this.cursor = initial.revision;
    this.queue.push({ type: 'snapshot', revision: initial.revision, reason: 'initial', entities: initial.entities });
  }

  /** The feed offers every change in revision order; the watcher keeps the ones it matches. */
  offer(change: Change<T>): void {
    if (this.closed || this.resync !== undefined || change.revision <= this.cursor) return;
    this.cursor = change.revision;
    if (!this.kinds.has(change.entity.kind)) return;
    if (this.scope !== undefined && change.entity.scope !== this.scope) return;
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: change, done: false });
      return;
    }
    if (this.queue.length - this.head >= this.maxBuffered) {
      // The consumer is too slow: drop what is buffered and hand it a fresh snapshot instead,
      // which costs bounded memory and still never hides a change.
      this.requestResync('overflow');
      return;
    }
    this.queue.push(change);
  }

  /** The changes after `cursor` are no longer available: replace everything with a snapshot. */
  requestResync(reason: SnapshotReason): void {
    if (this.closed) return;
    this.queue = [];
    this.head = 0;
    this.resync = this.started ? reason : 'initial';
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      this.settle(w);
    }
  }

  /** The feed cannot continue (e.g. the database failed): the consumer's next read rejects. */
  fail(err: unknown): void {
    if (this.closed) return;
    this.failure = err;
    this.queue = [];
    this.head = 0;
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      this.settle(w);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.hooks.onClose();
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<WatchEvent<T>>> {
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    this.started = true;
    if (this.failure !== undefined || this.resync !== undefined) {
      return new Promise((resolve, reject) => this.settle({ resolve, reject }));
    }
    if (this.head < this.queue.length) {
      const value = this.queue[this.head] as WatchEvent<T>;
      this.queue[this.head] = undefined as unknown as WatchEvent<T>;
      this.head += 1;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.waiter !== undefined) return Promise.reject(new Error('watcher already has a pending next(): iterate it from one consumer'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent<T>> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** Resolves a waiter with a pending failure or re-snapshot. */
  private settle(w: Waiter<T>): void {
    if (this.failure !== undefined) {
      const err = this.failure;
      this.close();
      w.reject(err);
      return;
    }
    const reason = this.resync;
    if (reason === undefined) return;
    let snap: Snapshot<T>;
    try {
      snap = this.hooks.snapshot();
    } catch (err) {
      this.close();
      w.reject(err);
      return;
    }
    this.resync = undefined;
    this.cursor = Math.max(this.cursor, snap.revision);
    w.resolve({ value: { type: 'snapshot', revision: snap.revision, reason, entities: snap.entities }, done: false });
  }
}
