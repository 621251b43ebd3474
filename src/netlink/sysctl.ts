// Sysctls of the current network namespace (/proc/sys/net is per-netns for the reading process).
import { readFileSync, writeFileSync } from 'node:fs';
import { NodeWiringError } from './errors';

function path(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

/** Slash form of a per-interface key, safe for interface names that contain dots. */
export function confKey(family: 'ipv4' | 'ipv6', dev: string, leaf: string): string {
  return `net/${family}/conf/${dev}/${leaf}`;
}

export function readSysctl(key: string): string {
  const p = key.includes('/') ? `/proc/sys/${key}` : path(key);
  return readFileSync(p, 'utf8').trim();
}

/** Writes a sysctl; returns the previous value (for teardown). Idempotent. */
export function writeSysctl(key: string, value: string | number): string {
  const p = key.includes('/') ? `/proc/sys/${key}` : path(key);
  try {
    const prev = readFileSync(p, 'utf8').trim();
    if (prev !== String(value)) writeFileSync(p, String(value));
    return prev;
  } catch (e) {
    throw new NodeWiringError('NODE_SYSCTL', `sysctl ${key}=${value}: ${(e as Error).message}`, { cause: e });
  }
}
