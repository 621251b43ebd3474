// Polling for tests: wait until something the code under test does asynchronously has happened
// (a sink got its first sync, a watch reconnected, a policy denies a pod). Every test that polls
// uses these, so a timeout always fails the same way: with what was awaited and for how long.
import type { Test } from 'tap';

export interface WaitOptions {
  /** Give up (reject) after this long; default 5000 ms. */
  timeoutMs?: number;
  /** Pause between two checks; default 10 ms. */
  everyMs?: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fetch` until `ok` accepts what it returned, and resolves to that value. Rejects after
 * the timeout with `what` and the last value seen in the message.
 */
export async function waitForValue<T>(what: string, fetch: () => T | Promise<T>, ok: (v: T) => boolean,
  opts: WaitOptions = {}): Promise<T> {
  const { timeoutMs = 5000, everyMs = 10 } = opts;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fetch();
    if (ok(v)) return v;
    if (Date.now() > end) {
      const last = typeof v === 'boolean' ? '' : ` (last: ${JSON.stringify(v)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    }
    await sleep(everyMs);
  }
}

/**
 * Polls `cond` (sync or async) until it holds, and resolves to the milliseconds that took.
 * Rejects after the timeout, naming `what`.
 */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, opts: WaitOptions = {}): Promise<number> {
  const t0 = Date.now();
  await waitForValue(what, cond, (held) => held, opts);
  return Date.now() - t0;
}

/** An assertion that `cond` comes to hold within the timeout; the test goes on after a miss. */
export async function eventually(t: Test, what: string, cond: () => boolean | Promise<boolean>, opts: WaitOptions = {}): Promise<void> {
  await t.resolves(waitFor(what, cond, opts), what);
}
