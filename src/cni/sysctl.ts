// Sysctls of the plugin's own network namespace (the node's): /proc/sys/net belongs to the
// namespace of the process that opens it. Read first and write only on change: every ADD
// re-asserts them, and a write costs more than a read.
import { readFileSync, writeFileSync } from 'node:fs';
import { IoError } from './errors';

export function ensureSysctl(key: string, value: string | number): void {
  const p = `/proc/sys/${key}`;
  try {
    if (readFileSync(p, 'utf8').trim() === String(value)) return;
    writeFileSync(p, String(value));
  } catch (e) {
    throw new IoError(`sysctl ${key}=${value}: ${(e as Error).message}`, { cause: e });
  }
}

/** Forwarding for the families in use: the node routes every pod packet. */
export function enableForwarding(v4: boolean, v6: boolean): void {
  if (v4) ensureSysctl('net/ipv4/ip_forward', 1);
  if (v6) ensureSysctl('net/ipv6/conf/all/forwarding', 1);
}

/**
 * isolatePods: isolated ports + proxy ARP/NDP make every pod's neighbour entry for another pod
 * the bridge's MAC, so pod-to-pod packets are routed by the node (and podnetd's engine), never
 * switched around it (FIELD-NOTES.md "Data path"). proxy_delay=0 or the first ARP/NS waits ~1 s.
 */
export function isolationSysctls(bridge: string, v4: boolean, v6: boolean): void {
  if (v4) {
    ensureSysctl(`net/ipv4/conf/${bridge}/proxy_arp`, 1);
    ensureSysctl(`net/ipv4/conf/${bridge}/proxy_arp_pvlan`, 1);
    ensureSysctl(`net/ipv4/neigh/${bridge}/proxy_delay`, 0);
    // Replies leave by the interface they came in: redirects would only confuse pods.
    ensureSysctl(`net/ipv4/conf/${bridge}/send_redirects`, 0);
    ensureSysctl('net/ipv4/conf/all/send_redirects', 0);
  }
  if (v6) {
    ensureSysctl(`net/ipv6/conf/${bridge}/proxy_ndp`, 1);
    ensureSysctl(`net/ipv6/neigh/${bridge}/proxy_delay`, 0);
  }
}

/** On a bridge we just created, before it goes up: no DAD on its addresses (see link.ts). */
export function bridgeSysctls(bridge: string): void {
  try {
    ensureSysctl(`net/ipv6/conf/${bridge}/accept_dad`, 0);
  } catch { /* IPv6 disabled on this node: nothing to wait for */ }
}
