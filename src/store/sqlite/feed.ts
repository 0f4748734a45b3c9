/**
 * The change feed of one SqliteStore instance: reads the `changes` table after its position and
 * offers each change to every watcher. It runs right after each local commit (in-process
 * watchers hear of a write before `put` resolves) and on a timer while watchers exist, which is
 * how an instance notices writes made by another connection or process on the same file.
 *
 * Why this cannot gap or duplicate: the feed's position never passes the database's revision,
 * and a new watcher's snapshot is read at the current revision, so the feed is at or behind every
 * snapshot; the feed reads every change after its position, and each watcher drops changes at or
 * below its own cursor (the revision it has already accounted for).
 */
import type { Change, QueueWatcher } from './watcher.js';
import type { ChangeRow } from './schema.js';
import { rowToEntity } from './codec.js';

/** What the feed needs from the database, read in one transaction. */
export interface ChangeSource {
  /** The compaction mark and up to `limit` changes after `after`, in revision order. */
  readChanges(after: number, limit: number): { compacted: number; rows: ChangeRow[] };
}

const PAGE = 500;

export class ChangeFeed {
  private position = 0;
  private readonly watchers = new Set<QueueWatcher<unknown>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: ChangeSource,
    private readonly pollIntervalMs: number,
  ) {}

  /** Registers a watcher whose snapshot was taken at `snapshotRevision`. */
  add(watcher: QueueWatcher<unknown>, snapshotRevision: number): void {
    if (this.watchers.size === 0) this.position = snapshotRevision;
    this.watchers.add(watcher);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.pump(), this.pollIntervalMs);
      // A watcher alone must not keep the process alive.
      this.timer.unref();
    }
  }

  remove(watcher: QueueWatcher<unknown>): void {
    this.watchers.delete(watcher);
    if (this.watchers.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Delivers every change committed since the last pump. Never throws: failures end the watchers. */
  pump(): void {
    if (this.watchers.size === 0) return;
    try {
      for (;;) {
        const { compacted, rows } = this.source.readChanges(this.position, PAGE);
        if (this.position < compacted) {
          // Changes this feed has not delivered were compacted away (a burst larger than the
          // retention, or another process writing while we were not polling).
          for (const w of this.watchers) if (w.cursor < compacted) w.requestResync('compacted');
          this.position = compacted;
        }
        for (const row of rows) {
          const change: Change<unknown> = { type: row.type, revision: row.change_revision, entity: rowToEntity(row) };
          for (const w of [...this.watchers]) w.offer(change);
          this.position = row.change_revision;
        }
        if (rows.length < PAGE) return;
      }
    } catch (err) {
      for (const w of [...this.watchers]) w.fail(err);
    }
  }

  /** Ends every watcher and the timer. */
  closeAll(): void {
    for (const w of [...this.watchers]) w.close();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
