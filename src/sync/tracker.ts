// Change trackers (kube-proxy's ServiceChangeTracker / EndpointsChangeTracker): sources record
// every object update as {previous, current}; updates that end where they started (or change
// nothing the model reads) are dropped. A Cache (cache.ts) takes the pending changes in one go
// at sync time. The tracker owns its start time and the pending upstream trigger times, so a
// change made before this process started never counts towards programming latency.

/** One pending change: the object as of the last sync and as of now (undefined = absent). */
export interface Change<T> {
  readonly previous: T | undefined;
  readonly current: T | undefined;
  /** When the first change since the last sync was seen (monotonic ms, for programming latency). */
  readonly since: number;
  /**
   * When the changes were triggered upstream (wall clock, epoch ms; for EndpointSlices the
   * endpoints.kubernetes.io/last-change-trigger-time annotation), one per distinct update.
   * Empty when the objects carry none: programming latency then counts from `since`.
   */
  readonly triggers: readonly number[];
}

export interface ChangeTrackerOptions<T> {
  /**
   * Stable string form for the no-op comparison (kube/'s fingerprint for normalized objects).
   * Default JSON.stringify: normalized objects are built with a fixed key order.
   */
  print?: (o: T) => string;
  /** Reads an object's upstream change time (epoch ms), if it carries one. */
  triggerTime?: (o: T) => number | undefined;
  /** Monotonic clock (ms) for `since`. Default performance.now. */
  now?: () => number;
  /** Wall clock (epoch ms): the tracker's start time, which trigger times are compared with. Default Date.now. */
  wallNow?: () => number;
}

/** What a checkout hands the sync: the changes and where each one's programming latency starts. */
export interface Checkout<T> {
  readonly changes: ReadonlyMap<string, Change<T>>;
  /** Upstream trigger times (epoch ms) at or after the tracker's start time. */
  readonly triggers: number[];
  /** `since` of every change without a usable trigger time (monotonic ms). */
  readonly since: number[];
}

const NO_TRIGGERS: readonly number[] = Object.freeze([]);

interface Entry<T> {
  previous: T | undefined;
  current: T | undefined;
  /** print(previous), computed only when an update has to be compared with it. */
  prevPrint: string | undefined;
  since: number;
  triggers: readonly number[];
}

/** Stages {previous, current} per object key and drops no-op updates. */
export class ChangeTracker<T> {
  /** kube-proxy's trackerStartTime (epoch ms): trigger times before it belong to changes made before we ran. */
  readonly startTime: number;
  private items = new Map<string, Entry<T>>();
  private readonly print: (o: T) => string;
  private readonly triggerTime: ((o: T) => number | undefined) | undefined;
  private readonly now: () => number;

  constructor(opts: ChangeTrackerOptions<T> = {}) {
    this.print = opts.print ?? ((o) => JSON.stringify(o));
    this.triggerTime = opts.triggerTime;
    this.now = opts.now ?? (() => performance.now());
    this.startTime = (opts.wallNow ?? Date.now)();
  }

  /** Adds the trigger time of `current` to the entry's list (distinct values only). */
  private trigger(e: Entry<T>, current: T | undefined): void {
    if (!this.triggerTime || current === undefined) return;
    const t = this.triggerTime(current);
    if (t === undefined || e.triggers.includes(t)) return;
    e.triggers = e.triggers === NO_TRIGGERS ? [t] : [...e.triggers, t];
  }

  /**
   * Records that object `key` went from `previous` to `current` (either may be undefined for
   * add / delete). Returns true when a change is pending for the key afterwards. While a change
   * is pending, its first `previous` is kept and `previous` here is not read.
   * Adds and deletes are never no-ops, so they are not printed: a 100k-object initial list
   * costs no serialization.
   */
  update(key: string, previous: T | undefined, current: T | undefined): boolean {
    const item = this.items.get(key);
    if (!item) {
      if (previous === undefined && current === undefined) return false;
      let prevPrint: string | undefined;
      if (previous !== undefined && current !== undefined) {
        prevPrint = this.print(previous);
        if (prevPrint === this.print(current)) return false;
      }
      const e: Entry<T> = { previous, current, prevPrint, since: this.now(), triggers: NO_TRIGGERS };
      this.trigger(e, current);
      this.items.set(key, e);
      return true;
    }
    item.current = current;
    let back: boolean;
    if (item.previous === undefined || current === undefined) back = item.previous === current;
    else back = (item.prevPrint ??= this.print(item.previous)) === this.print(current);
    if (back) {
      this.items.delete(key); // back where the last sync left it
      return false;
    }
    this.trigger(item, current);
    return true;
  }

  /** The object as the sources last reported it: the pending current, else what `synced` holds. */
  latest(key: string, synced: { get(key: string): T | undefined }): T | undefined {
    const item = this.items.get(key);
    return item ? item.current : synced.get(key);
  }

  /** How many objects the pending changes add (adds minus deletes; updates count 0). */
  sizeDelta(): number {
    let d = 0;
    for (const e of this.items.values()) {
      if (e.previous === undefined) d++;
      else if (e.current === undefined) d--;
    }
    return d;
  }

  /** Number of objects with a pending change. */
  get pending(): number {
    return this.items.size;
  }

  /**
   * Takes every pending change, leaving the tracker empty. The entries are handed over as they
   * are (no copy): after a 100k-object initial list, copying them was pure garbage.
   */
  drain(): ReadonlyMap<string, Change<T>> {
    const out: ReadonlyMap<string, Change<T>> = this.items;
    this.items = new Map();
    return out;
  }

  /**
   * drain() plus where programming latency starts for each change: each distinct trigger time
   * since the tracker started (kube-proxy's checkoutTriggerTimes), else when the change was seen.
   */
  checkout(): Checkout<T> {
    const changes = this.drain();
    const triggers: number[] = [];
    const since: number[] = [];
    for (const c of changes.values()) {
      let used = false;
      for (const t of c.triggers) {
        if (t < this.startTime) continue;
        triggers.push(t);
        used = true;
      }
      if (!used) since.push(c.since);
    }
    return { changes, triggers, since };
  }
}
