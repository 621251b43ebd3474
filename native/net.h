// Plain value types shared by every stage of the packet path: addresses, flow keys,
// byte-order helpers and the key hash. No allocation, no exceptions, no Node.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace podnet {

enum Proto : uint8_t { kICMP = 1, kTCP = 6, kUDP = 17, kICMPv6 = 58, kAffinity = 255 };

// IPv4 addresses live in the first 4 bytes; the rest stays zero so keys compare as bytes.
struct Addr {
  uint8_t b[16];
  bool operator==(const Addr& o) const { return std::memcmp(b, o.b, 16) == 0; }
  bool operator!=(const Addr& o) const { return !(*this == o); }
};

// One direction of a connection exactly as it appears in a packet's headers.
// ICMP echo uses the identifier as both ports.
struct FlowKey {
  uint8_t family;  // 4 or 6
  uint8_t proto;
  uint16_t pad;
  uint16_t sport;  // host order
  uint16_t dport;  // host order
  Addr src;
  Addr dst;
  bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof(FlowKey)) == 0; }
};
static_assert(sizeof(FlowKey) == 40, "FlowKey is hashed and compared as bytes");

inline uint16_t load16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline void store16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline uint32_t load32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void store32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

inline size_t addr_len(uint8_t family) { return family == 4 ? 4 : 16; }

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// Deterministic (no per-process seed): the same flow hashes the same after a restart,
// which Maglev's "same backend across restarts" relies on.
inline uint64_t hash_bytes(const void* data, size_t len, uint64_t seed) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
  while (len >= 8) {
    uint64_t w; std::memcpy(&w, p, 8);
    h = mix64(h ^ w) * 0x9e3779b97f4a7c15ULL;
    p += 8; len -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, len);
  return mix64(h ^ w ^ 0xa0761d6478bd642fULL);
}

inline uint64_t hash_key(const FlowKey& k) { return hash_bytes(&k, sizeof k, 0x706f646e6574ULL); }

}  // namespace podnet
