// Stage 1: parse; and the packets the engine writes itself start here; see packet.h.
#include "packet.h"

#include "checksum.h"
#include "vnet.h"

namespace podnet {

namespace {

constexpr int kMaxExtHeaders = 16;

bool fail(Drop* reason, Drop d) {
  if (reason) *reason = d;
  return false;
}

bool parse_ipv4(const uint8_t* b, size_t buflen, Parsed& p, Drop* reason, bool inner) {
  if (buflen < 20) return fail(reason, Drop::truncated);
  uint32_t ihl = uint32_t(b[0] & 0x0f) * 4;
  if (ihl < 20) return fail(reason, Drop::bad_ip_header);
  if (ihl > buflen) return fail(reason, Drop::truncated);
  uint32_t tot = load16(b + 2);
  if (tot < ihl) return fail(reason, Drop::bad_length);
  if (tot > buflen) {
    if (!inner) return fail(reason, Drop::bad_length);
    tot = uint32_t(buflen);  // the quoted packet is cut short by design
  }
  p.family = 4;
  p.len = tot;
  p.proto = b[9];
  uint16_t frag = load16(b + 6);
  p.fragment = (frag & 0x3fff) != 0;
  p.later_fragment = (frag & 0x1fff) != 0;
  p.l4_off = uint16_t(ihl);
  std::memcpy(p.key.src.b, b + 12, 4);
  std::memcpy(p.key.dst.b, b + 16, 4);
  return true;
}

bool parse_ipv6(const uint8_t* b, size_t buflen, Parsed& p, Drop* reason, bool inner) {
  if (buflen < 40) return fail(reason, Drop::truncated);
  uint32_t len = 40 + uint32_t(load16(b + 4));
  if (len > buflen) {
    if (!inner) return fail(reason, Drop::bad_length);
    len = uint32_t(buflen);
  }
  p.family = 6;
  p.len = len;
  std::memcpy(p.key.src.b, b + 8, 16);
  std::memcpy(p.key.dst.b, b + 24, 16);
  uint8_t nh = b[6];
  uint32_t off = 40;
  for (int i = 0; i < kMaxExtHeaders; i++) {
    switch (nh) {
      case 0:    // hop-by-hop options
      case 43:   // routing
      case 60: { // destination options
        if (off + 8 > len) return fail(reason, Drop::bad_ext_header);
        uint32_t hl = (uint32_t(b[off + 1]) + 1) * 8;
        nh = b[off];
        off += hl;
        if (off > len) return fail(reason, Drop::bad_ext_header);
        continue;
      }
      case 51: {  // authentication header: length in 4-octet units, minus 2
        if (off + 8 > len) return fail(reason, Drop::bad_ext_header);
        uint32_t hl = (uint32_t(b[off + 1]) + 2) * 4;
        nh = b[off];
        off += hl;
        if (off > len) return fail(reason, Drop::bad_ext_header);
        continue;
      }
      case 44: {  // fragment
        if (off + 8 > len) return fail(reason, Drop::bad_ext_header);
        uint16_t fo = load16(b + off + 2);
        p.fragment = true;
        p.later_fragment = (fo & 0xfff8) != 0;
        nh = b[off];
        off += 8;
        continue;
      }
      default:
        p.proto = nh;
        p.l4_off = uint16_t(off);
        return true;
    }
  }
  return fail(reason, Drop::bad_ext_header);
}

bool parse_l4(const uint8_t* b, Parsed& p, Drop* reason, bool inner) {
  const uint8_t* l4 = b + p.l4_off;
  uint32_t n = p.l4_len;
  switch (p.proto) {
    case kTCP: {
      if (n < (inner ? 8u : 20u)) return fail(reason, inner ? Drop::truncated : Drop::bad_l4_header);
      p.key.sport = load16(l4);
      p.key.dport = load16(l4 + 2);
      if (n >= 14) p.tcp_flags = l4[13];
      if (n >= 13) {
        uint32_t doff = uint32_t(l4[12] >> 4) * 4;
        if (!inner && (doff < 20 || doff > n)) return fail(reason, Drop::bad_l4_header);
        p.l4_hdr_len = uint16_t(doff);
      }
      return true;
    }
    case kUDP: {
      if (n < 8) return fail(reason, inner ? Drop::truncated : Drop::bad_l4_header);
      uint32_t ulen = load16(l4 + 4);
      if (!inner && (ulen < 8 || ulen > n)) return fail(reason, Drop::bad_l4_header);
      p.key.sport = load16(l4);
      p.key.dport = load16(l4 + 2);
      p.l4_hdr_len = 8;
      return true;
    }
    case kICMP:
    case kICMPv6: {
      if ((p.proto == kICMP) != (p.family == 4)) return true;  // ICMP in the wrong family: opaque
      if (n < 8) return fail(reason, inner ? Drop::truncated : Drop::bad_l4_header);
      p.icmp_type = l4[0];
      p.icmp_code = l4[1];
      p.l4_hdr_len = 8;
      if (p.family == 4) {
        p.icmp_echo_request = p.icmp_type == 8;
        p.icmp_echo_reply = p.icmp_type == 0;
        p.icmp_error = p.icmp_type == 3 || p.icmp_type == 11 || p.icmp_type == 12;
      } else {
        p.icmp_echo_request = p.icmp_type == 128;
        p.icmp_echo_reply = p.icmp_type == 129;
        p.icmp_error = p.icmp_type >= 1 && p.icmp_type <= 4;
      }
      if (p.icmp_echo_request || p.icmp_echo_reply) {
        p.key.sport = load16(l4 + 4);
        p.key.dport = p.key.sport;
      }
      return true;
    }
    default:
      return true;  // other protocols are opaque: no ports
  }
}

}  // namespace

bool parse_packet(const uint8_t* buf, size_t buflen, Parsed& p, Drop* reason, bool inner) {
  p = Parsed{};
  if (buflen == 0) return fail(reason, Drop::empty);
  uint8_t version = buf[0] >> 4;
  bool ok = version == 4 ? parse_ipv4(buf, buflen, p, reason, inner)
          : version == 6 ? parse_ipv6(buf, buflen, p, reason, inner)
                         : fail(reason, Drop::bad_version);
  if (!ok) return false;
  p.key.family = p.family;
  p.key.proto = p.proto;
  if (p.l4_off > p.len) return fail(reason, Drop::bad_ip_header);
  p.l4_len = p.len - p.l4_off;
  if (p.later_fragment) return true;
  return parse_l4(buf, p, reason, inner);
}

bool vnet_check(VnetHdr& h, const Parsed& p) {
  uint8_t type = h.gso_type & ~kGsoEcn;
  if (type != kGsoNone) {
    bool match = (type == kGsoTcpV4 && p.family == 4 && p.proto == kTCP) ||
                 (type == kGsoTcpV6 && p.family == 6 && p.proto == kTCP) ||
                 (type == kGsoUdpL4 && p.proto == kUDP);
    if (!match || p.fragment || h.gso_size == 0 || !(h.flags & kVnetNeedsCsum)) return false;
  }
  if (h.flags & kVnetNeedsCsum) {
    uint16_t off = l4_csum_offset(p.proto);
    if (off == 0 || p.later_fragment || h.csum_start != p.l4_off || h.csum_offset != off) return false;
    if (uint32_t(h.csum_start) + h.csum_offset + 2 > p.len) return false;
  }
  if (type != kGsoNone || (h.flags & kVnetNeedsCsum)) h.hdr_len = uint16_t(p.l4_off + p.l4_hdr_len);
  return true;
}

size_t write_ip_header(uint8_t* out, uint8_t family, const Addr& src, const Addr& dst, uint8_t proto, size_t l4_len) {
  if (family == 4) {
    std::memset(out, 0, 20);
    out[0] = 0x45;
    store16(out + 2, uint16_t(20 + l4_len));
    out[8] = kDefaultTtl;
    out[9] = proto;
    std::memcpy(out + 12, src.b, 4);
    std::memcpy(out + 16, dst.b, 4);
    store16(out + 10, csum_full(out, 20));
    return 20;
  }
  std::memset(out, 0, 40);
  out[0] = 0x60;
  store16(out + 4, uint16_t(l4_len));
  out[6] = proto;
  out[7] = kDefaultTtl;
  std::memcpy(out + 8, src.b, 16);
  std::memcpy(out + 24, dst.b, 16);
  return 40;
}

size_t build_first_packet(uint8_t family, const Addr& src, const Addr& dst, uint8_t proto, uint16_t sport,
                          uint16_t dport, uint8_t* out) {
  size_t l4 = proto == kTCP ? 20 : 8;
  size_t ih = write_ip_header(out, family, src, dst, proto, l4);
  uint8_t* t = out + ih;
  std::memset(t, 0, l4);
  store16(t, sport);
  store16(t + 2, dport);
  if (proto == kTCP) {
    t[12] = 5 << 4;
    t[13] = kTcpSyn;
  } else {
    store16(t + 4, uint16_t(l4));
  }
  return ih + l4;
}

}  // namespace podnet
