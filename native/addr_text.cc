// Text forms of addresses; see addr_text.h.
#include "addr_text.h"

#include <arpa/inet.h>

namespace podnet {

bool parse_ip(const char* s, Addr& a, uint8_t& family) {
  a = Addr{};
  if (inet_pton(AF_INET, s, a.b) == 1) { family = 4; return true; }
  if (inet_pton(AF_INET6, s, a.b) == 1) { family = 6; return true; }
  return false;
}

bool parse_cidr(const std::string& s, Addr& a, uint8_t& family, uint32_t& prefix) {
  size_t slash = s.find('/');
  std::string ip = slash == std::string::npos ? s : s.substr(0, slash);
  if (!parse_ip(ip, a, family)) return false;
  uint32_t max = family == 4 ? 32 : 128;
  if (slash == std::string::npos) {
    prefix = max;
    return true;
  }
  std::string p = s.substr(slash + 1);
  if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  prefix = uint32_t(std::stoul(p));
  return prefix <= max;
}

std::string format_ip(uint8_t family, const Addr& a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family == 4 ? AF_INET : AF_INET6, a.b, buf, sizeof buf);
  return buf;
}

std::string format_endpoint(uint8_t family, const Addr& a, uint16_t port) {
  return family == 4 ? format_ip(family, a) + ":" + std::to_string(port)
                     : "[" + format_ip(family, a) + "]:" + std::to_string(port);
}

long cidr_list(const std::vector<std::string>& cidrs, std::vector<IpRange>& v4, std::vector<IpRange>& v6) {
  for (size_t i = 0; i < cidrs.size(); i++) {
    Addr base{};
    uint8_t family = 0;
    uint32_t prefix = 0;
    if (!parse_cidr(cidrs[i], base, family, prefix)) return long(i);
    cidr_ranges(family, base, prefix, {}, 0, family == 4 ? v4 : v6);
  }
  merge_ranges(v4, 4);
  merge_ranges(v6, 6);
  return -1;
}

}  // namespace podnet
