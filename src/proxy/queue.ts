/**
 * The bounded wait for a machine when every candidate is at its hard limit (reference §1c:
 * "above all hard limits: queue; if far above for a long time, 503"). One FIFO per route; a
 * waiter is retried when a machine of its route frees a slot, and fails when the queue is full
 * (at once) or its wait is over.
 */

export interface Waiter {
  /** Try again; true when it got a machine (or gave up on its own) and leaves the queue. */
  retry(): boolean;
  /** The wait is over or the queue is closing. */
  fail(reason: string): void;
}

interface Entry {
  waiter: Waiter;
  timer: ReturnType<typeof setTimeout>;
}

export class RouteQueues {
  private readonly queues = new Map<string, Entry[]>();

  constructor(private readonly maxLength = 256, private readonly maxWaitMs = 5000) {}

  /**
   * Queues `waiter` for `routeKey`; false (nothing queued) when that queue is full. `wait`
   * overrides the wait and its failure reason (a request held for an autostart waits longer).
   */
  enqueue(routeKey: string, waiter: Waiter, wait?: { ms: number; reason: string }): boolean {
    let q = this.queues.get(routeKey);
    if (!q) this.queues.set(routeKey, (q = []));
    if (q.length >= this.maxLength) return false;
    const entry: Entry = {
      waiter,
      timer: setTimeout(() => {
        this.remove(routeKey, waiter);
        waiter.fail(wait?.reason ?? `waited ${this.maxWaitMs} ms for a machine below its hard limit`);
      }, wait?.ms ?? this.maxWaitMs),
    };
    q.push(entry);
    return true;
  }

  remove(routeKey: string, waiter: Waiter): void {
    const q = this.queues.get(routeKey);
    if (!q) return;
    const i = q.findIndex((e) => e.waiter === waiter);
    if (i < 0) return;
    clearTimeout(q[i]!.timer);
    q.splice(i, 1);
    if (q.length === 0) this.queues.delete(routeKey);
  }

  /** Whether any route has a waiter (checked per request before building a route key). */
  get idle(): boolean {
    return this.queues.size === 0;
  }

  /** A slot freed up on `routeKey`: let waiters in, in order, while they get one. */
  wake(routeKey: string): void {
    const q = this.queues.get(routeKey);
    while (q && q.length > 0) {
      const e = q[0]!;
      if (!e.waiter.retry()) return;
      clearTimeout(e.timer);
      q.shift();
    }
    if (q && q.length === 0) this.queues.delete(routeKey);
  }

  size(routeKey: string): number {
    return this.queues.get(routeKey)?.length ?? 0;
  }

  close(): void {
    for (const q of this.queues.values()) {
      for (const e of q.splice(0)) {
        clearTimeout(e.timer);
        e.waiter.fail('the proxy is shutting down');
      }
    }
    this.queues.clear();
  }
}
