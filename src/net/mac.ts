// MAC addresses: text ⇄ bytes, random locally administered ones for pod interfaces, and the
// bridge's fixed one. Import-free at load time: the CNI plugin reads this at every ADD, and
// node:crypto (~5-20 ms to load) is only required when a bridge MAC is actually derived.
import { closeSync, openSync, readSync } from 'node:fs';

/** "aa:bb:cc:dd:ee:ff" of 6 bytes; undefined for anything else (a link without a MAC). */
export function macText(b: Uint8Array | undefined): string | undefined {
  return b && b.length === 6 ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : undefined;
}

/** Bytes of "aa:bb:cc:dd:ee:ff" (the caller has validated the text). */
export function macBytes(s: string): Buffer {
  return Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
}

/** Unicast, locally administered: the two low bits of the first octet. */
function local(b: Buffer): Buffer {
  b[0] = (b[0] & 0xfe) | 0x02;
  return b;
}

/** A random locally administered unicast MAC, as text. */
export function randomMac(): string {
  const b = Buffer.alloc(6);
  const fd = openSync('/dev/urandom', 'r');
  try { readSync(fd, b, 0, 6, null); } finally { closeSync(fd); }
  return macText(local(b))!;
}

/**
 * The node bridge's MAC, fixed from its name (whoever creates the bridge: podnetd, the CNI
 * plugin, the sandbox). Without it the bridge takes the lowest MAC of its ports, which changes
 * as pods come and go and leaves every pod with a stale neighbour entry for its gateway.
 */
export function bridgeMac(name: string): Buffer {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return local(Buffer.from(createHash('sha256').update(`podnet-bridge:${name}`).digest().subarray(0, 6)));
}
