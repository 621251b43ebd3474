// Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4): a lookup table of
// prime size M where each backend fills slots in the order of its own permutation.
// Deterministic: the same backend set gives the same table in every process, so a flow
// keeps its backend across restarts, and a small change of the set moves few slots.
#pragma once
#include <cstdint>
#include <vector>

namespace podnet {

struct MaglevBackend {
  uint64_t id_hash;  // stable identity, e.g. hash of address + port
  uint32_t weight;   // >= 1
};

// Returns the table: entry i is an index into `backends`. Empty when backends is empty.
// m must be prime and greater than backends.size().
std::vector<uint16_t> maglev_build(const std::vector<MaglevBackend>& backends, uint32_t m);

bool is_prime(uint32_t n);

}  // namespace podnet
