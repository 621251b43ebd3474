// Change trackers (kube-proxy's ServiceChangeTracker / EndpointsChangeTracker): sources record
// every object update as {previous, current}; updates that end where they started (or change
// nothing the model reads) are dropped; the sync drains what is left in one go.
import { fingerprint } from '../services/objects';

/** One pending change: the object as of the last sync and as of now (undefined = absent). */
export interface Change<T> {
  readonly previous: T | undefined;
  readonly current: T | undefined;
  /** When the first change since the last sync was seen (ms, for programming latency). */
  readonly since: number;
  /**
   * When the changes were triggered upstream (wall clock, epoch ms; for EndpointSlices the
   * endpoints.kubernetes.io/last-change-trigger-time annotation), one per distinct update.
   * Empty when the objects carry none: programming latency then counts from `since`.
   */
  readonly triggers: readonly number[];
}

const NO_TRIGGERS: readonly number[] = Object.freeze([]);

interface Entry<T> {
  previous: T | undefined;
  current: T | undefined;
  /** fingerprint(previous), computed only when an update has to be compared with it. */
  prevPrint: string | undefined;
  since: number;
  triggers: readonly number[];
}

/** Stages {previous, current} per object key and drops no-op updates. */
export class ChangeTracker<T> {
  private items = new Map<string, Entry<T>>();

  /** `triggerTime` reads an object's upstream change time (epoch ms), if it carries one. */
  constructor(private readonly triggerTime?: (o: T) => number | undefined) {}

  /** Adds the trigger time of `current` to the entry's list (distinct values only). */
  private trigger(e: Entry<T>, current: T | undefined): void {
    if (!this.triggerTime || current === undefined) return;
    const t = this.triggerTime(current);
    if (t === undefined || e.triggers.includes(t)) return;
    e.triggers = e.triggers === NO_TRIGGERS ? [t] : [...e.triggers, t];
  }

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
      const e: Entry<T> = { previous, current, prevPrint, since: now, triggers: NO_TRIGGERS };
      this.trigger(e, current);
      this.items.set(key, e);
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
    this.trigger(item, current);
    return true;
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
}
