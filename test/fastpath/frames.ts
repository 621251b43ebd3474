// Ethernet frames for the kernel fast-path tests: the tc program sees whole frames, so the
// IP packets built by test/helpers/packets.ts (checksums from scratch) get an Ethernet
// header here, plus ARP. Nothing here shares code with the program under test.
import { addrBytes } from '../helpers/packets';

export const ETH_IP = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_IPV6 = 0x86dd;

export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export function eth(dst: string, src: string, type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(14);
  macBytes(dst).copy(h, 0);
  macBytes(src).copy(h, 6);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

/** An Ethernet frame around an IP packet, the ethertype taken from the IP version. */
export function frame(dst: string, src: string, packet: Buffer): Buffer {
  return eth(dst, src, packet[0] >> 4 === 6 ? ETH_IPV6 : ETH_IP, packet);
}

/** ARP request (who-has `target` tell `sender`) as a pod sends it; the sender hardware
 * address in the ARP body is `senderMac`, the frame's source unless given. */
export function arpRequest(srcMac: string, sender: string, target: string, senderMac = srcMac): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0); // Ethernet
  a.writeUInt16BE(ETH_IP, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(1, 6); // request
  macBytes(senderMac).copy(a, 8);
  addrBytes(sender).copy(a, 14);
  addrBytes(target).copy(a, 24);
  return eth('ff:ff:ff:ff:ff:ff', srcMac, ETH_ARP, a);
}

/** The frame with an 802.1Q (0x8100) or 802.1ad (0x88a8) tag inserted after the MACs. */
export function tagged(f: Buffer, tpid = 0x8100, vid = 5): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(tpid, 0);
  tag.writeUInt16BE(vid, 2);
  return Buffer.concat([f.subarray(0, 12), tag, f.subarray(12)]);
}

/** Neighbour solicitation body after the ICMPv6 header: reserved + target + source LL option. */
export function nsBody(target: string, srcMac?: string): Buffer {
  const opt = srcMac ? Buffer.concat([Buffer.from([1, 1]), macBytes(srcMac)]) : Buffer.alloc(0);
  return Buffer.concat([addrBytes(target), opt]);
}

/** Solicited-node multicast address and its MAC for an IPv6 target. */
export function solicitedNode(target: string): { addr: string; mac: string } {
  const b = addrBytes(target);
  const tail = [b[13], b[14], b[15]].map((x) => x.toString(16).padStart(2, '0'));
  return { addr: `ff02::1:ff${tail[0]}:${tail[1]}${tail[2]}`, mac: `33:33:ff:${tail.join(':')}` };
}
