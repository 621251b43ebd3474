// Stage 1 of the pipeline: parse an IP packet into offsets and a flow key without copying;
// and the other way round, the IP header of every packet the engine writes itself (replies,
// reply.cc; the first packet of a connection that podnetctl trace runs through the pipeline).
// IPv4 (options allowed) and IPv6 (extension headers walked), then TCP, UDP, ICMP, ICMPv6.
// Every length is checked against the buffer; anything that does not add up is a drop
// with a named reason (stats.h), never a crash.
#pragma once
#include <cstddef>
#include <cstdint>

#include "net.h"
#include "stats.h"

namespace podnet {

struct Parsed {
  uint8_t family = 0;    // 4 or 6
  uint8_t proto = 0;     // transport protocol after extension headers
  uint16_t l4_off = 0;   // offset of the transport header
  uint32_t len = 0;      // packet length per the IP header (<= buffer length)
  uint32_t l4_len = 0;   // transport header + payload
  uint16_t l4_hdr_len = 0;
  bool fragment = false;        // any fragment
  bool later_fragment = false;  // not the first: no transport header
  uint8_t tcp_flags = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  bool icmp_error = false;  // destination unreachable, packet too big, time exceeded, param problem
  bool icmp_echo_request = false;
  bool icmp_echo_reply = false;
  FlowKey key{};
};

constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08, kTcpAck = 0x10;

// Parses buf[0..buflen). On failure returns false and sets *reason.
// `inner` parses the header quoted inside an ICMP error: the transport header may be cut
// short (only the first 8 bytes are guaranteed) and lengths may exceed the buffer.
bool parse_packet(const uint8_t* buf, size_t buflen, Parsed& out, Drop* reason, bool inner = false);

constexpr uint8_t kDefaultTtl = 64;

// Writes an IPv4 (with its header checksum) or IPv6 header from src to dst; returns its length.
size_t write_ip_header(uint8_t* out, uint8_t family, const Addr& src, const Addr& dst, uint8_t proto, size_t l4_len);
// The first packet of a connection: a TCP SYN or a UDP datagram without payload, transport
// checksum left zero (the pipeline never checks it). `out` holds 60 bytes; returns the length.
size_t build_first_packet(uint8_t family, const Addr& src, const Addr& dst, uint8_t proto, uint16_t sport,
                          uint16_t dport, uint8_t* out);

// Offsets of the checksum field in a transport header (or 0 if none).
inline uint16_t l4_csum_offset(uint8_t proto) {
  switch (proto) {
    case kTCP: return 16;
    case kUDP: return 6;
    case kICMP: case kICMPv6: return 2;
    default: return 0;
  }
}

}  // namespace podnet
