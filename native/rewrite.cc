// Stage 7 of the pipeline: rewrite a packet's source or destination address and port in
// place, with incremental checksum updates (RFC 1624; checksum.h) of the IPv4 header and the
// TCP/UDP checksum, or of the pseudo-header seed when the kernel completes the checksum
// (virtio_net_hdr NEEDS_CSUM, vnet.h).
#include "checksum.h"
#include "pipeline.h"

namespace podnet {

void rewrite(uint8_t* pkt, const Parsed& p, VnetHdr* vh, bool dst, const Addr& addr, uint16_t port) {
  size_t alen = addr_len(p.family);
  uint8_t* a = pkt + (p.family == 4 ? (dst ? 16 : 12) : (dst ? 24 : 8));
  uint8_t* l4 = pkt + p.l4_off;
  uint8_t* pp = l4 + (dst ? 2 : 0);
  uint8_t new_port[2];
  store16(new_port, port);
  uint16_t coff = l4_csum_offset(p.proto);
  bool has_ports = p.proto == kTCP || p.proto == kUDP;
  bool partial = vh && (vh->flags & kVnetNeedsCsum);
  if (has_ports && !p.later_fragment) {
    uint8_t* field = l4 + coff;
    bool csum_here = p.l4_len >= uint32_t(coff) + 2;  // a quoted header may be cut short
    bool udp_none = p.proto == kUDP && p.family == 4 && load16(field) == 0;
    if (!csum_here) {
    } else if (partial) {
      // The field holds the pseudo-header sum: only the address is in it.
      csum_replace_partial(field, a, addr.b, alen);
    } else if (!udp_none) {
      csum_replace(field, a, addr.b, alen);
      csum_replace(field, pp, new_port, 2);
      if (p.proto == kUDP && load16(field) == 0) store16(field, 0xffff);
    }
    std::memcpy(pp, new_port, 2);
  }
  if (p.family == 4) csum_replace(pkt + 10, a, addr.b, 4);
  std::memcpy(a, addr.b, alen);
}

}  // namespace podnet
