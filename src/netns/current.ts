// Which network namespace this process is in. podnetd and the node wiring use it to refuse
// touching the host's own namespace by accident: unless opted in for a real node
// (allowHostNetns), podnetd runs only in named sandbox namespaces. It fails closed:
// /proc/1/ns/net may be unreadable (it is on these VMs), so "safe" means "a named namespace
// (ip netns add) that we can positively identify".
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const NETNS_DIRS = ['/run/netns', '/var/run/netns'];

/** Name of the `ip netns` namespace this process is in, or null (host or unnamed namespace). */
export function currentNamedNetns(): string | null {
  let self;
  try { self = statSync('/proc/self/ns/net'); } catch { return null; }
  for (const dir of NETNS_DIRS) {
    let names: string[];
    try { names = readdirSync(dir); } catch { continue; }
    for (const n of names) {
      try {
        const s = statSync(path.join(dir, n));
        if (s.ino === self.ino && s.dev === self.dev) return n;
      } catch { /* raced with a delete */ }
    }
  }
  return null;
}

/** Thrown when code that rewires a node is about to run outside a named namespace. */
export class HostNetnsError extends Error {
  readonly code = 'NETNS_HOST_REFUSED';
  constructor(what: string) {
    super(`refusing to ${what} outside a named network namespace (this looks like the host's own); ` +
      'run it under `ip netns exec NODE ...`, or opt in explicitly on a real node');
    this.name = 'HostNetnsError';
  }
}

/** Throws HostNetnsError unless we are in a named netns or the caller opted in. */
export function assertSandboxedNetns(what: string, allowHost = false): void {
  if (allowHost) return;
  if (currentNamedNetns() === null) throw new HostNetnsError(what);
}
