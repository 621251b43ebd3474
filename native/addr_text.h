// Text forms of addresses as the control plane writes them ("10.0.0.1", "fd00::1",
// "10.0.0.0/8", "[fd00::1]:80") to and from Addr. Plain C++ for the binding (binding.cc),
// which converts every JS string through here; never on the packet path.
#pragma once
#include <cstdint>
#include <string>

#include "net.h"

namespace podnet {

// An IPv4 or IPv6 address; sets family to 4 or 6.
bool parse_ip(const char* s, Addr& a, uint8_t& family);
inline bool parse_ip(const std::string& s, Addr& a, uint8_t& family) { return parse_ip(s.c_str(), a, family); }
// "address" or "address/prefix" (a bare address is a full-length prefix).
bool parse_cidr(const std::string& s, Addr& a, uint8_t& family, uint32_t& prefix);

std::string format_ip(uint8_t family, const Addr& a);
// "10.0.0.1:80", "[fd00::1]:80".
std::string format_endpoint(uint8_t family, const Addr& a, uint16_t port);

}  // namespace podnet
