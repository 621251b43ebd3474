// The objects as of the last sync (kube-proxy's ServicePortMap / EndpointsMap): sources only
// feed a ChangeTracker; the sync calls update(tracker), which applies the pending changes and
// says what changed and when each change started. Between syncs the cache is what the model
// last saw, so a sync and its readers (status, external views) agree on one state.
import type { Change, ChangeTracker } from './tracker';

/** What one update(tracker) applied. */
export interface CacheUpdate<T> {
  /** Key → {previous, current} of every object that changed. */
  readonly changes: ReadonlyMap<string, Change<T>>;
  /** Upstream trigger times (epoch ms) of those changes, from the tracker's start time on. */
  readonly triggers: number[];
  /** When the changes without a usable trigger time were seen (monotonic ms). */
  readonly since: number[];
}

/** A keyed object cache that only moves when a tracker's changes are applied to it. */
export class Cache<T> {
  private readonly items = new Map<string, T>();

  get(key: string): T | undefined { return this.items.get(key); }
  has(key: string): boolean { return this.items.has(key); }
  get size(): number { return this.items.size; }
  keys(): IterableIterator<string> { return this.items.keys(); }
  values(): IterableIterator<T> { return this.items.values(); }

  /** The number of objects once `tracker`'s pending changes are applied (the sources' view). */
  sizeWith(tracker: ChangeTracker<T>): number { return this.items.size + tracker.sizeDelta(); }

  /** Applies every pending change of `tracker` (leaving it empty) and returns them. */
  update(tracker: ChangeTracker<T>): CacheUpdate<T> {
    const out = tracker.checkout();
    for (const [k, c] of out.changes) {
      if (c.current === undefined) this.items.delete(k); else this.items.set(k, c.current);
    }
    return out;
  }

  /** Records `current` as key's latest version in `tracker` (the previous one is the cache's or the pending one). */
  record(tracker: ChangeTracker<T>, key: string, current: T | undefined): boolean {
    return tracker.update(key, tracker.latest(key, this), current);
  }
}
