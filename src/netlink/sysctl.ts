// Sysctls of the current network namespace: /proc/sys/net belongs to the namespace of the
// process that opens it. Read first and write only on change: callers re-assert them on every
// start (podnetd) or ADD (the CNI plugin), and a write costs more than a read.
import { readFileSync, writeFileSync } from 'node:fs';
import { NetlinkError } from './errors';

/** "net.ipv4.ip_forward" or "net/ipv4/ip_forward" → its /proc path (slash keys allow dotted names). */
function path(key: string): string {
  return key.includes('/') ? `/proc/sys/${key}` : `/proc/sys/${key.replace(/\./g, '/')}`;
}

/** Slash form of a per-interface key, safe for interface names that contain dots. */
export function confKey(family: 'ipv4' | 'ipv6', dev: string, leaf: string): string {
  return `net/${family}/conf/${dev}/${leaf}`;
}

export function readSysctl(key: string): string {
  return readFileSync(path(key), 'utf8').trim();
}

/** Sets a sysctl unless it has that value already; returns the previous value. SYSCTL_FAILED on error. */
export function writeSysctl(key: string, value: string | number): string {
  const p = path(key);
  try {
    const prev = readFileSync(p, 'utf8').trim();
    if (prev !== String(value)) writeFileSync(p, String(value));
    return prev;
  } catch (e) {
    throw new NetlinkError('SYSCTL_FAILED', `sysctl ${key}=${value}: ${(e as Error).message}`, { cause: e });
  }
}
