// Internet checksum arithmetic; see checksum.h.
#include "checksum.h"

#include "net.h"

namespace podnet {

uint32_t csum_partial(const uint8_t* data, size_t len, uint32_t sum) {
  uint64_t s = sum;
  size_t i = 0;
  for (; i + 1 < len; i += 2) s += uint32_t(data[i] << 8 | data[i + 1]);
  if (i < len) s += uint32_t(data[i] << 8);
  while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
  return uint32_t(s);
}

uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

uint32_t pseudo_sum(uint8_t family, const uint8_t* src, const uint8_t* dst, uint8_t proto, uint32_t l4_len) {
  size_t n = addr_len(family);
  uint32_t s = csum_partial(src, n, 0);
  s = csum_partial(dst, n, s);
  uint64_t t = uint64_t(s) + proto + (l4_len & 0xffff) + (l4_len >> 16);
  while (t >> 32) t = (t & 0xffffffffu) + (t >> 32);
  return uint32_t(t);
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
static uint32_t add_change(uint32_t sum, const uint8_t* old_bytes, const uint8_t* new_bytes, size_t len) {
  for (size_t i = 0; i + 1 < len; i += 2) {
    sum += uint16_t(~load16(old_bytes + i));
    sum += load16(new_bytes + i);
  }
  return sum;
}

void csum_replace(uint8_t* field, const uint8_t* old_bytes, const uint8_t* new_bytes, size_t len) {
  uint32_t sum = uint16_t(~load16(field));
  store16(field, uint16_t(~csum_fold(add_change(sum, old_bytes, new_bytes, len))));
}

void csum_replace_partial(uint8_t* field, const uint8_t* old_bytes, const uint8_t* new_bytes, size_t len) {
  uint32_t sum = load16(field);
  store16(field, csum_fold(add_change(sum, old_bytes, new_bytes, len)));
}

}  // namespace podnet
