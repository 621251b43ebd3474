// virtio_net_hdr as the TUN device prepends it with IFF_VNET_HDR (include/uapi/linux/virtio_net.h).
// Native byte order (the TUN default on little-endian hosts). The engine enables
// TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 (| TUN_F_USO4 | TUN_F_USO6 when the kernel has them),
// so it must handle: NEEDS_CSUM partial checksums, GSO_TCPV4/TCPV6/UDP_L4, and the ECN bit.
// The kernel validates the header again when we write it back (virtio_net_hdr_to_skb), but
// we never forward a header that disagrees with the packet we parsed: see vnet_check().
#pragma once
#include <cstdint>

namespace podnet {

struct VnetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == 10, "virtio_net_hdr is 10 bytes");

constexpr uint8_t kVnetNeedsCsum = 1;
constexpr uint8_t kVnetDataValid = 2;
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kGsoTcpV4 = 1;
constexpr uint8_t kGsoUdp = 3;  // UFO: never enabled, rejected
constexpr uint8_t kGsoTcpV6 = 4;
constexpr uint8_t kGsoUdpL4 = 5;
constexpr uint8_t kGsoEcn = 0x80;

struct Parsed;

// Checks the header against the parsed packet and fixes hdr_len to the real header length
// (the kernel treats it as a hint; a guest or a bug may send anything). Returns false when the
// header cannot describe this packet (drop reason bad_vnet_hdr).
bool vnet_check(VnetHdr& h, const Parsed& p);

}  // namespace podnet
