/**
 * One work queue per key: jobs of one machine run one after another, jobs of different
 * machines run concurrently, so a slow start never blocks other machines (STYLE.md habit 2:
 * one owner per resource, reconfiguration serialized).
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly onError: (key: string, err: unknown) => void) {}

  /** Runs `job` after every job queued before it for `key`; resolves when it has run. */
  run(key: string, job: () => Promise<void>): Promise<void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(job).catch((err: unknown) => this.onError(key, err));
    this.tails.set(key, next);
    void next.then(() => {
      if (this.tails.get(key) === next) this.tails.delete(key);
    });
    return next;
  }

  /** Resolves once every job queued so far has run. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }

  get size(): number {
    return this.tails.size;
  }
}
