// The sysctls a TUN-based engine needs on a node: forwarding, routed (not bridged) pod-to-pod
// traffic, and no reverse-path or redirect surprises. netlink/sysctl.ts writes them.
import type { Family } from '../net/ip';
import { confKey, writeSysctl } from '../netlink/sysctl';

/** Global forwarding for the families in use. */
export function enableForwarding(families: Family[]): void {
  if (families.includes(4)) writeSysctl('net/ipv4/ip_forward', 1);
  if (families.includes(6)) writeSysctl('net/ipv6/conf/all/forwarding', 1);
}

/**
 * Isolated bridge ports + proxy ARP/NDP: every pod's neighbour entry for another pod (and for
 * its gateway) is the bridge's MAC, so pod-to-pod packets are routed via the TUN, never switched
 * around it. proxy_delay=0, or the first ARP/NS of every new neighbour waits up to ~0.8 s.
 */
export function configureBridgeSysctls(bridge: string, families: Family[]): void {
  if (families.includes(4)) {
    writeSysctl(confKey('ipv4', bridge, 'proxy_arp'), 1);
    writeSysctl(confKey('ipv4', bridge, 'proxy_arp_pvlan'), 1);
    writeSysctl(`net/ipv4/neigh/${bridge}/proxy_delay`, 0);
    // The reply to a same-bridge packet leaves by the interface it came in: no redirect, please.
    for (const dev of ['all', 'default', bridge]) writeSysctl(confKey('ipv4', dev, 'send_redirects'), 0);
    writeSysctl(confKey('ipv4', bridge, 'rp_filter'), 0);
  }
  if (families.includes(6)) {
    writeSysctl(confKey('ipv6', bridge, 'proxy_ndp'), 1);
    writeSysctl(`net/ipv6/neigh/${bridge}/proxy_delay`, 0);
    writeSysctl(confKey('ipv6', bridge, 'disable_ipv6'), 0);
  }
}

/**
 * DNATed packets re-enter from the TUN still carrying the client's source, whose reverse path is
 * the bridge: rp_filter must be off (the effective value is max(all, dev), hence `all` too).
 * accept_local: a host-network client's packet to a VIP comes back from the TUN with a local source.
 */
export function configureTunSysctls(tun: string, families: Family[]): void {
  if (families.includes(4)) {
    for (const dev of ['all', 'default', tun]) writeSysctl(confKey('ipv4', dev, 'rp_filter'), 0);
    writeSysctl(confKey('ipv4', tun, 'accept_local'), 1);
    writeSysctl(confKey('ipv4', tun, 'send_redirects'), 0);
  }
  if (families.includes(6)) writeSysctl(confKey('ipv6', tun, 'disable_ipv6'), 0);
}

/**
 * Early demux off. Pod traffic to a node address is routed through the TUN first (the local rule
 * sits behind the pod rule), but early demux attaches the node's socket to the packet before
 * routing, and ip_forward drops any packet that already has a socket: a pod's ACK to a node
 * socket in SYN-RECV vanished that way. The knobs are per-netns and cover IPv6 too.
 */
export function disableEarlyDemux(): void {
  writeSysctl('net/ipv4/tcp_early_demux', 0);
  writeSysctl('net/ipv4/udp_early_demux', 0);
}
