/**
 * The one timer a driver polls its tasks with (exits of re-attached tasks, log files). It runs
 * while `active()` says there are tasks, and holds the event loop only while someone awaits an
 * exit: a driver with idle tasks must not keep a process from exiting, one with a pending
 * `wait()` must.
 */
export class TaskPoller {
  private timer: NodeJS.Timeout | undefined;
  private waiters = 0;

  constructor(
    private readonly tick: () => void,
    private readonly periodMs: number,
    private readonly active: () => boolean,
  ) {}

  /** Starts, stops or re-refs the timer after the driver's tasks or waiters changed. */
  update(): void {
    const needed = this.active();
    if (needed && !this.timer) this.timer = setInterval(this.tick, this.periodMs);
    else if (!needed && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (this.timer) {
      if (this.waiters > 0) this.timer.ref();
      else this.timer.unref();
    }
  }

  /** `exited`, with the event loop kept alive (and polling on) until it settles. */
  hold<T>(exited: Promise<T>): Promise<T> {
    this.waiters++;
    this.update();
    return exited.finally(() => {
      this.waiters--;
      this.update();
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
