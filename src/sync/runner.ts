// Bounded-frequency runner (kube-proxy's async.BoundedFrequencyRunner): runs the sync function
// when asked, but never more often than minInterval and at least every maxInterval; a failed
// run asks for a retry. Requests that arrive in a burst merge into one run. The function may be
// async (cross-node routing shells out to iproute2): the next run waits until it settled.

/** Timers, injectable so tests can drive time by hand. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref(); // the daemon is kept alive by its servers and the TUN, not by this timer
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface RunnerOptions {
  /** Minimum time between two runs (kube-proxy --iptables-min-sync-period). */
  minIntervalMs: number;
  /** Maximum time between two runs even when nobody asks (kube-proxy --iptables-sync-period). */
  maxIntervalMs: number;
  clock?: Clock;
}

/** Runs `fn` on request, at most once per minInterval and at least once per maxInterval. */
export class BoundedFrequencyRunner {
  private readonly clock: Clock;
  private timer: unknown;
  private timerAt = Infinity;
  private lastRun = -Infinity;
  private stopped = true;
  private running = false;
  private rerun = false;
  /** runNow() callers waiting for the next run to finish. */
  private waiters: Array<() => void> = [];

  constructor(private readonly fn: () => void | Promise<void>, private readonly opts: RunnerOptions) {
    this.clock = opts.clock ?? realClock;
  }

  /** Starts the periodic maxInterval schedule; a first run happens on the first run() request. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(this.clock.now() + this.opts.maxIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Asks for a run as soon as minInterval allows. */
  run(): void {
    if (this.running) { this.rerun = true; return; }
    this.schedule(Math.max(this.clock.now(), this.lastRun + this.opts.minIntervalMs));
  }

  /** Asks for a run after `ms` (used after a failed sync); an earlier scheduled run still wins. */
  retryAfter(ms: number): void {
    this.schedule(Math.max(this.clock.now() + ms, this.lastRun + this.opts.minIntervalMs));
  }

  /**
   * Runs now, ignoring minInterval (start-up, SIGHUP), after a run in progress; resolves once a
   * run that started after this call finished (at once when stopped).
   */
  runNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    // Run at once rather than through a timer: the clock's timers do not keep the process alive.
    if (this.running) this.rerun = true;
    else this.runAtOnce();
    return done;
  }

  private schedule(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - this.clock.now()));
  }

  private runAtOnce(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.fire();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped) return;
    this.lastRun = this.clock.now();
    this.running = true;
    const waiters = this.waiters.splice(0);
    let result: void | Promise<void>;
    try {
      result = this.fn();
    } catch (err) {
      this.finished(waiters);
      throw err;
    }
    if (result instanceof Promise) result.then(() => this.finished(waiters), () => this.finished(waiters));
    else this.finished(waiters);
  }

  private finished(waiters: Array<() => void>): void {
    this.running = false;
    for (const w of waiters) w();
    this.schedule(this.lastRun + this.opts.maxIntervalMs);
    if (this.rerun) {
      this.rerun = false;
      if (this.waiters.length) this.runAtOnce(); else this.run();
    }
  }
}
