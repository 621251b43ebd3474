// Text forms of addresses as the control plane writes them ("10.0.0.1", "fd00::1",
// "10.0.0.0/8", "[fd00::1]:80") to and from Addr. Plain C++ for the binding (native/binding/)
// and the option checks (options.cc): every address string from JS comes through here;
// never on the packet path.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "net.h"
#include "range_set.h"

namespace podnet {

// An IPv4 or IPv6 address; sets family to 4 or 6.
bool parse_ip(const char* s, Addr& a, uint8_t& family);
inline bool parse_ip(const std::string& s, Addr& a, uint8_t& family) { return parse_ip(s.c_str(), a, family); }
// "address" or "address/prefix" (a bare address is a full-length prefix).
bool parse_cidr(const std::string& s, Addr& a, uint8_t& family, uint32_t& prefix);

// CIDR strings into range sets by family, each sorted and merged (a service port's
// sourceRanges, the egress-masquerade CIDRs). Returns the index of the first string that is
// no CIDR, or -1.
long cidr_list(const std::vector<std::string>& cidrs, std::vector<IpRange>& v4, std::vector<IpRange>& v6);

std::string format_ip(uint8_t family, const Addr& a);
// "10.0.0.1:80", "[fd00::1]:80".
std::string format_endpoint(uint8_t family, const Addr& a, uint16_t port);

}  // namespace podnet
