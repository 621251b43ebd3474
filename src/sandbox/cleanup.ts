// Last-resort cleanup: if the process exits or is signalled while sandboxes are alive, kill the
// children they started (by PID) and delete their namespaces, synchronously.
import { execFileSync } from 'node:child_process';

export interface Cleanable {
  /** Synchronous best-effort teardown. */
  destroySync(): void;
}

const live = new Set<Cleanable>();
let installed = false;

function runAll(): void {
  for (const s of [...live]) {
    try { s.destroySync(); } catch { /* best effort */ }
    live.delete(s);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => { runAll(); process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)); });
  }
}

export function register(s: Cleanable): void { install(); live.add(s); }
export function unregister(s: Cleanable): void { live.delete(s); }

export function killSync(pid: number): void {
  try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
}

export function delNetnsSync(ns: string): void {
  try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* already gone */ }
}
