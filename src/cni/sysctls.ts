// The sysctls the plugin asserts in its own network namespace (the node's) at every ADD, so pods
// work before podnetd has wired the node; netlink/sysctl.ts writes them (only on change).
import { writeSysctl } from '../netlink/sysctl';

/** Forwarding for the families in use: the node routes every pod packet. */
export function enableForwarding(v4: boolean, v6: boolean): void {
  if (v4) writeSysctl('net/ipv4/ip_forward', 1);
  if (v6) writeSysctl('net/ipv6/conf/all/forwarding', 1);
}

/**
 * isolatePods: isolated ports + proxy ARP/NDP make every pod's neighbour entry for another pod
 * the bridge's MAC, so pod-to-pod packets are routed by the node (and podnetd's engine), never
 * switched around it. proxy_delay=0 or the first ARP/NS waits ~1 s.
 */
export function isolationSysctls(bridge: string, v4: boolean, v6: boolean): void {
  if (v4) {
    writeSysctl(`net/ipv4/conf/${bridge}/proxy_arp`, 1);
    writeSysctl(`net/ipv4/conf/${bridge}/proxy_arp_pvlan`, 1);
    writeSysctl(`net/ipv4/neigh/${bridge}/proxy_delay`, 0);
    // Replies leave by the interface they came in: redirects would only confuse pods.
    writeSysctl(`net/ipv4/conf/${bridge}/send_redirects`, 0);
    writeSysctl('net/ipv4/conf/all/send_redirects', 0);
  }
  if (v6) {
    writeSysctl(`net/ipv6/conf/${bridge}/proxy_ndp`, 1);
    writeSysctl(`net/ipv6/neigh/${bridge}/proxy_delay`, 0);
  }
}

/** On a bridge we just created, before it goes up: no DAD on its addresses (see host-link.ts). */
export function bridgeSysctls(bridge: string): void {
  try {
    writeSysctl(`net/ipv6/conf/${bridge}/accept_dad`, 0);
  } catch { /* IPv6 disabled on this node: nothing to wait for */ }
}
