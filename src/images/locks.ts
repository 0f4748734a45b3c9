/** In-process coordination for the image store. */

/** Runs one `fn` per key at a time; callers arriving meanwhile share its result. */
export class Singleflight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}

/** A FIFO mutex. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * Many readers or one writer: pulls, imports and unpacks share it; garbage collection takes it
 * alone, so it never deletes a blob a pull has stored but not yet recorded.
 */
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: { exclusive: boolean; go: () => void }[] = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.waiting.some((w) => w.exclusive)) await new Promise<void>((go) => this.waiting.push({ exclusive: false, go }));
    else this.readers += 1;
    try {
      return await fn();
    } finally {
      this.readers -= 1;
      this.wake();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writer || this.readers > 0 || this.waiting.length > 0) await new Promise<void>((go) => this.waiting.push({ exclusive: true, go }));
    else this.writer = true;
    try {
      return await fn();
    } finally {
      this.writer = false;
      this.wake();
    }
  }

  /** Admits the next writer, or every reader up to the next writer; counts are taken for them. */
  private wake(): void {
    if (this.writer || this.readers > 0) return;
    const next = this.waiting[0];
    if (!next) return;
    if (next.exclusive) {
      this.waiting.shift();
      this.writer = true;
      next.go();
      return;
    }
    while (this.waiting[0] && !this.waiting[0].exclusive) {
      const w = this.waiting.shift() as { go: () => void };
      this.readers += 1;
      w.go();
    }
  }
}
