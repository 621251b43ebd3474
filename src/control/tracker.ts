// Change trackers (kube-proxy's ServiceChangeTracker / EndpointsChangeTracker): sources record
// every object update as {previous, current}; updates that end where they started (or change
// nothing the model reads) are dropped; the sync drains what is left in one go.
import { fingerprint } from './objects';

/** One pending change: the object as of the last sync and as of now (undefined = absent). */
export interface Change<T> {
  readonly previous: T | undefined;
  readonly current: T | undefined;
  /** When the first change since the last sync was seen (ms, for programming latency). */
  readonly since: number;
}

interface Entry<T> {
  previous: T | undefined;
  current: T | undefined;
  /** fingerprint(previous), computed only when an update has to be compared with it. */
  prevPrint: string | undefined;
  since: number;
}

/** Stages {previous, current} per object key and drops no-op updates. */
export class ChangeTracker<T> {
  private items = new Map<string, Entry<T>>();

  /**
   * Records that object `key` went from `previous` to `current` (either may be undefined for
   * add / delete). Returns true when a change is pending for the key afterwards.
   * Adds and deletes are never no-ops, so they are not fingerprinted: a 100k-object initial
   * list costs no serialization.
   */
  update(key: string, previous: T | undefined, current: T | undefined, now: number): boolean {
    const item = this.items.get(key);
    if (!item) {
      if (previous === undefined && current === undefined) return false;
      let prevPrint: string | undefined;
      if (previous !== undefined && current !== undefined) {
        prevPrint = fingerprint(previous);
        if (prevPrint === fingerprint(current)) return false;
      }
      this.items.set(key, { previous, current, prevPrint, since: now });
      return true;
    }
    item.current = current;
    let back: boolean;
    if (item.previous === undefined || current === undefined) back = item.previous === current;
    else back = (item.prevPrint ??= fingerprint(item.previous)) === fingerprint(current);
    if (back) {
      this.items.delete(key); // back where the last sync left it
      return false;
    }
    return true;
  }

  /** Number of objects with a pending change. */
  get pending(): number {
    return this.items.size;
  }

  /** Takes every pending change, leaving the tracker empty. */
  drain(): Map<string, Change<T>> {
    const out = new Map<string, Change<T>>();
    for (const [k, e] of this.items) out.set(k, { previous: e.previous, current: e.current, since: e.since });
    this.items = new Map();
    return out;
  }
}
