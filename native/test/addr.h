// Test helper for native/test: an address from its text form ("10.0.0.1", "fd00::1").
#pragma once
#include "../addr_text.h"

namespace podnet::test {

inline Addr ip(const char* s) {
  Addr a{};
  uint8_t family = 0;
  parse_ip(s, a, family);
  return a;
}

}  // namespace podnet::test
