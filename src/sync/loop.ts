// A plane's sync loop: its one sync function behind a bounded-frequency runner (runner.ts), held
// shut until the plane's sources have listed everything once. A sync of a half-listed world
// would withdraw what is still on its way, so changes before open() only wait in the trackers.
// The services and policy planes each own one; the sync function stays theirs.
import { BoundedFrequencyRunner, type Clock, realClock } from './runner';

/** How often a plane syncs: the options every plane's control loop takes (podnetd's `sync.*`). */
export interface SyncCadence {
  /** Default 20 ms: merges a burst of changes into one sync. */
  minSyncIntervalMs?: number;
  /** Default 60 s: a sync even without changes (keeps health timestamps fresh). */
  maxSyncIntervalMs?: number;
  /** Default 1 s: retry delay after a failed sync. */
  retryIntervalMs?: number;
  clock?: Clock;
}

export class SyncLoop {
  /** Delay before a failed sync is tried again. */
  readonly retryMs: number;
  private readonly runner: BoundedFrequencyRunner;
  private isOpen = false;

  constructor(sync: () => void, cadence: SyncCadence) {
    this.retryMs = cadence.retryIntervalMs ?? 1000;
    this.runner = new BoundedFrequencyRunner(sync, {
      minIntervalMs: cadence.minSyncIntervalMs ?? 20,
      maxIntervalMs: cadence.maxSyncIntervalMs ?? 60_000,
      clock: cadence.clock ?? realClock,
    });
  }

  /** The sources have listed everything once: syncs may run. */
  get opened(): boolean { return this.isOpen; }

  /** Starts the runner's schedule; a sync follows at once if the loop is open already. */
  start(): void {
    this.runner.start();
    if (this.isOpen) this.runner.run();
  }

  stop(): void {
    this.runner.stop();
  }

  /** Opens the loop and queues the first sync; false (and nothing done) if it was open. */
  open(): boolean {
    if (this.isOpen) return false;
    this.isOpen = true;
    this.runner.run();
    return true;
  }

  /** Something the sync reads changed: a sync soon, once the loop is open. */
  changed(): void {
    if (this.isOpen) this.runner.run();
  }

  /** A sync soon, open or not (the sync itself does nothing before open()). */
  run(): void {
    this.runner.run();
  }

  /** The sync failed: try again after retryMs. */
  retry(): void {
    this.runner.retryAfter(this.retryMs);
  }
}
