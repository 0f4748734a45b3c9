/**
 * An in-memory mirror of some kinds of the store, kept current by one `watch` (snapshot, then
 * ordered changes), that asks its owner to rebuild a derived table after each burst of changes.
 *
 * This is the "rebuild a pure table from a snapshot + changes watch" loop of ARCHITECTURE.md
 * ("Data flow"), shared by the DNS zone feeder and the proxy's route feeder: changes are applied
 * in order, rebuilds are debounced, and `settled(revision)` tells when everything up to a write
 * has been seen and its rebuild (if any) is done. An owner that gives a `view` (the fields its
 * table reads) gets no rebuild for a burst that leaves that view as it was.
 */
import type { Entity, StateStore, StoreWatcher, WatchEvent } from './types.js';

export interface StoreMirrorOptions<V> {
  store: StateStore;
  kinds: readonly string[];
  /**
   * What the owner's table reads, projected from the mirrored values. When given, a burst of
   * changes that leaves it as it was (the same JSON) rebuilds nothing: a machine's events and
   * check outputs are written far more often than what a table reads (uncloud skips no-op
   * reloads the same way, STYLE.md).
   */
  view?: () => V;
  /** Called once from the snapshot (before `start()` resolves), then after each burst of changes, with the view. */
  rebuild: (view: V) => void | Promise<void>;
  /** Changes arriving within this many ms share one rebuild (default 10). */
  debounceMs?: number;
  /** A rebuild or the watch failed; the mirror keeps going with the next change. */
  onError?: (err: Error) => void;
}

export class StoreMirror<V = undefined> {
  /** Rebuilds run so far (a burst that left the view as it was runs none). */
  builds = 0;
  private lastView: string | undefined;
  private readonly byKind = new Map<string, Map<string, unknown>>();
  private watcher: StoreWatcher | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private building = false;
  private closed = false;
  private applied = 0;
  private waiters: { revision: number; resolve: () => void }[] = [];

  constructor(private readonly opts: StoreMirrorOptions<V>) {
    for (const k of opts.kinds) this.byKind.set(k, new Map());
  }

  /** Current values of `kind`, as last seen. */
  values<T>(kind: string): IterableIterator<T> {
    return (this.byKind.get(kind) ?? new Map<string, T>()).values() as IterableIterator<T>;
  }

  /** Watches the store; resolves once the first rebuild (from the snapshot) is done. */
  async start(): Promise<void> {
    const watcher = await this.opts.store.watch([...this.opts.kinds]);
    this.watcher = watcher;
    const iterator = watcher[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) return;
    this.apply(first.value);
    await this.runRebuild();
    void this.pump(iterator);
  }

  /** Resolves once every change up to `revision` is applied and the rebuild it asked for is done. */
  settled(revision: number): Promise<void> {
    if (this.isSettled(revision)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  /** Stops watching; no rebuild happens afterwards. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.wake();
  }

  private isSettled(revision: number): boolean {
    return this.closed || (this.applied >= revision && this.timer === undefined && !this.building);
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => this.isSettled(w.revision));
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private async pump(iterator: AsyncIterator<WatchEvent>): Promise<void> {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done || this.closed) return;
        this.apply(next.value);
        if (!this.timer) this.timer = setTimeout(() => void this.runRebuild(), this.opts.debounceMs ?? 10);
      }
    } catch (err) {
      this.opts.onError?.(err as Error);
    }
  }

  private apply(ev: WatchEvent): void {
    this.applied = ev.revision;
    if (ev.type === 'snapshot') {
      for (const m of this.byKind.values()) m.clear();
      for (const e of ev.entities) this.put(e);
    } else if (ev.type === 'put') {
      this.put(ev.entity);
    } else {
      this.byKind.get(ev.entity.kind)?.delete(ev.entity.id);
    }
  }

  private put(e: Entity): void {
    this.byKind.get(e.kind)?.set(e.id, e.value);
  }

  private async runRebuild(): Promise<void> {
    this.timer = undefined;
    if (this.closed) return;
    this.building = true;
    try {
      const view = this.opts.view?.() as V;
      if (this.opts.view) {
        const key = JSON.stringify(view);
        if (key === this.lastView) return;
        this.lastView = key;
      }
      this.builds += 1;
      await this.opts.rebuild(view);
    } catch (err) {
      this.opts.onError?.(err as Error);
    } finally {
      this.building = false;
      this.wake();
    }
  }
}

/** `values` in the order of `key` (UTF-16 order; ids and names are ASCII): views sort so that their JSON compares. */
export function sortedBy<T>(values: Iterable<T>, key: (v: T) => string): T[] {
  return [...values].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}
