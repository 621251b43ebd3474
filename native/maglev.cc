// Maglev table population; see maglev.h.
#include "maglev.h"

#include "net.h"

namespace podnet {

bool is_prime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; uint64_t(d) * d <= n; d++)
    if (n % d == 0) return false;
  return true;
}

std::vector<uint16_t> maglev_build(const std::vector<MaglevBackend>& backends, uint32_t m) {
  std::vector<uint16_t> table;
  size_t n = backends.size();
  if (n == 0) return table;
  constexpr uint16_t kEmpty = 0xffff;
  table.assign(m, kEmpty);
  // pos[i] is backend i's current place in its permutation (offset + j * skip) mod m,
  // advanced by one addition and a conditional subtraction instead of a division.
  std::vector<uint32_t> pos(n), skip(n), credit(n, 0);
  uint32_t max_weight = 1;
  for (size_t i = 0; i < n; i++) {
    pos[i] = uint32_t(mix64(backends[i].id_hash ^ 0x6f66667365740000ULL) % m);
    skip[i] = uint32_t(mix64(backends[i].id_hash ^ 0x736b697000000000ULL) % (m - 1)) + 1;
    if (backends[i].weight > max_weight) max_weight = backends[i].weight;
  }
  uint32_t filled = 0;
  // Weighted variant: each round a backend takes a turn only when its accumulated credit
  // reaches the largest weight, so turns are proportional to weight.
  while (true) {
    for (size_t i = 0; i < n; i++) {
      credit[i] += backends[i].weight;
      if (credit[i] < max_weight) continue;
      credit[i] -= max_weight;
      uint32_t c = pos[i];
      while (table[c] != kEmpty) {
        c += skip[i];
        if (c >= m) c -= m;
      }
      table[c] = uint16_t(i);
      c += skip[i];
      if (c >= m) c -= m;
      pos[i] = c;
      if (++filled == m) return table;
    }
  }
}

}  // namespace podnet
