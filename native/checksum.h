// Internet checksum arithmetic (RFC 1071) and incremental updates (RFC 1624).
// Two field kinds: a complete checksum (the one's complement of the sum) and a
// CHECKSUM_PARTIAL seed (the folded pseudo-header sum, not complemented) that the
// kernel completes later — see virtio_net_hdr NEEDS_CSUM in vnet.h.
#pragma once
#include <cstddef>
#include <cstdint>

namespace podnet {

// Sum of 16-bit big-endian words, unfolded.
uint32_t csum_partial(const uint8_t* data, size_t len, uint32_t sum);
uint16_t csum_fold(uint32_t sum);

// Full checksum of a buffer (complemented), e.g. an IPv4 header or ICMPv4 message.
inline uint16_t csum_full(const uint8_t* data, size_t len) { return uint16_t(~csum_fold(csum_partial(data, len, 0))); }

// Pseudo-header sum for TCP/UDP/ICMPv6 (unfolded).
uint32_t pseudo_sum(uint8_t family, const uint8_t* src, const uint8_t* dst, uint8_t proto, uint32_t l4_len);

// Complete checksum stored at `field`: old bytes replaced by new bytes (len even).
void csum_replace(uint8_t* field, const uint8_t* old_bytes, const uint8_t* new_bytes, size_t len);
// CHECKSUM_PARTIAL seed at `field`: the same change applied to the not-complemented sum.
void csum_replace_partial(uint8_t* field, const uint8_t* old_bytes, const uint8_t* new_bytes, size_t len);

}  // namespace podnet
