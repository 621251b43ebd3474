// Stage 6: replies the engine generates itself: TCP RST and ICMP port unreachable for
// rejected VIP traffic (RFC 9293 section 3.10.7.1, RFC 1812 section 4.3.2.3 / RFC 4443 section 2.4),
// the pair of RSTs that end a cut TCP flow (stage 4), and echo replies for pings to a VIP.
// All with complete checksums.
#include "checksum.h"
#include "pipeline.h"

namespace podnet {

namespace {

constexpr size_t kIcmp4Max = 576;   // RFC 1812: the error datagram stays within 576 bytes
constexpr size_t kIcmp6Max = 1280;  // RFC 4443: within the minimum IPv6 MTU

uint16_t l4_checksum(uint8_t family, const Addr& src, const Addr& dst, uint8_t proto, const uint8_t* l4, size_t n) {
  uint32_t s = pseudo_sum(family, src.b, dst.b, proto, uint32_t(n));
  return uint16_t(~csum_fold(csum_partial(l4, n, s)));
}

}  // namespace

size_t build_tcp_rst(const uint8_t* pkt, const Parsed& p, uint8_t* out) {
  const uint8_t* tcp = pkt + p.l4_off;
  size_t ih = write_ip_header(out, p.family, p.key.dst, p.key.src, kTCP, 20);
  uint8_t* t = out + ih;
  std::memset(t, 0, 20);
  store16(t, p.key.dport);
  store16(t + 2, p.key.sport);
  if (p.tcp_flags & kTcpAck) {
    std::memcpy(t + 4, tcp + 8, 4);  // seq = their ack
    t[13] = kTcpRst;
  } else {
    uint32_t seg_len = p.l4_len - p.l4_hdr_len + ((p.tcp_flags & kTcpSyn) ? 1 : 0) + ((p.tcp_flags & kTcpFin) ? 1 : 0);
    store32(t + 8, load32(tcp + 4) + seg_len);
    t[13] = kTcpRst | kTcpAck;
  }
  t[12] = 5 << 4;
  store16(t + 16, l4_checksum(p.family, p.key.dst, p.key.src, kTCP, t, 20));
  return ih + 20;
}

// For a segment A -> B with sequence S that B never gets: B's next expected sequence is S
// (RFC 5961 section 3.2 accepts a RST exactly there; anything else earns a challenge ACK).
// The segment's ACK (K) goes along: a B still in SYN-SENT (the cut hit a SYN-ACK) ignores a
// RST unless it acknowledges B's SYN (RFC 9293 section 3.10.7.3); synchronized states
// judge a RST by its sequence only.
size_t build_tcp_rst_onward(const uint8_t* pkt, const Parsed& p, const Translation& x, uint8_t* out) {
  const Addr& src = (x.rewrite & kRewriteSrc) ? x.src : p.key.src;
  const Addr& dst = (x.rewrite & kRewriteDst) ? x.dst : p.key.dst;
  uint16_t sport = (x.rewrite & kRewriteSrc) ? x.sport : p.key.sport;
  uint16_t dport = (x.rewrite & kRewriteDst) ? x.dport : p.key.dport;
  size_t ih = write_ip_header(out, p.family, src, dst, kTCP, 20);
  uint8_t* t = out + ih;
  std::memset(t, 0, 20);
  store16(t, sport);
  store16(t + 2, dport);
  std::memcpy(t + 4, pkt + p.l4_off + 4, 4);
  if (p.tcp_flags & kTcpAck) std::memcpy(t + 8, pkt + p.l4_off + 8, 4);
  t[12] = 5 << 4;
  t[13] = (p.tcp_flags & kTcpAck) ? (kTcpRst | kTcpAck) : kTcpRst;
  store16(t + 16, l4_checksum(p.family, src, dst, kTCP, t, 20));
  return ih + 20;
}

size_t build_icmp_port_unreachable(const uint8_t* pkt, const Parsed& p, uint8_t* out) {
  bool v4 = p.family == 4;
  size_t ih = v4 ? 20 : 40;
  size_t quote = p.len;
  size_t max = (v4 ? kIcmp4Max : kIcmp6Max) - ih - 8;
  if (quote > max) quote = max;
  uint8_t proto = v4 ? kICMP : kICMPv6;
  write_ip_header(out, p.family, p.key.dst, p.key.src, proto, 8 + quote);
  uint8_t* icmp = out + ih;
  std::memset(icmp, 0, 8);
  icmp[0] = v4 ? 3 : 1;  // destination unreachable
  icmp[1] = v4 ? 3 : 4;  // port unreachable
  std::memcpy(icmp + 8, pkt, quote);
  uint16_t c = v4 ? csum_full(icmp, 8 + quote) : l4_checksum(6, p.key.dst, p.key.src, kICMPv6, icmp, 8 + quote);
  store16(icmp + 2, c);
  return ih + 8 + quote;
}

size_t echo_reply_in_place(uint8_t* pkt, const Parsed& p) {
  bool v4 = p.family == 4;
  size_t alen = addr_len(p.family);
  uint8_t* src = pkt + (v4 ? 12 : 8);
  uint8_t* dst = src + alen;
  uint8_t tmp[16];
  std::memcpy(tmp, src, alen);
  std::memcpy(src, dst, alen);
  std::memcpy(dst, tmp, alen);
  uint8_t* icmp = pkt + p.l4_off;
  icmp[0] = v4 ? 0 : 129;
  store16(icmp + 2, 0);
  if (v4) {
    pkt[8] = kDefaultTtl;
    store16(pkt + 10, 0);
    store16(pkt + 10, csum_full(pkt, p.l4_off));
    store16(icmp + 2, csum_full(icmp, p.l4_len));
  } else {
    pkt[7] = kDefaultTtl;
    Addr s{}, d{};
    std::memcpy(s.b, src, 16);
    std::memcpy(d.b, dst, 16);
    store16(icmp + 2, l4_checksum(6, s, d, kICMPv6, icmp, p.l4_len));
  }
  return p.len;
}

}  // namespace podnet
