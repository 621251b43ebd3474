// Sorted, disjoint address ranges and the one lookup every stage uses on them: the
// loadBalancerSourceRanges of a service port, the egress-masquerade pod and exempt CIDRs,
// and the peers of a NetworkPolicy port class. Built on the JS thread (CIDR minus its
// exceptions, then merged); looked up on engine threads by binary search, no allocation.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "net.h"

namespace podnet {

struct IpRange {
  Addr lo;  // inclusive, compared as big-endian bytes
  Addr hi;
  uint32_t policy;  // NetworkPolicy: index of a policy that allows it (unused elsewhere)
};

// The range of v (sorted, disjoint) that holds a, or nullptr.
const IpRange* find_range(const std::vector<IpRange>& v, const Addr& a);
inline bool in_range_set(const std::vector<IpRange>& v, const Addr& a) { return find_range(v, a) != nullptr; }

// Adds [base/prefix minus the except prefixes] to out (unsorted); false on a prefix length
// longer than the family's address.
bool cidr_ranges(uint8_t family, const Addr& base, uint32_t prefix, const std::vector<std::pair<Addr, uint32_t>>& except,
                 uint32_t policy, std::vector<IpRange>& out);

// Sorts v and merges overlapping or adjacent ranges (a merged range keeps the first one's
// policy). `family` gives the address width that adjacency is judged in.
void merge_ranges(std::vector<IpRange>& v, uint8_t family);

}  // namespace podnet
