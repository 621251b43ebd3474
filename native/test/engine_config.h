// Test helper for native/test: a small engine (4096 flows, Maglev 251, 16 service ports) with
// IPv4 egress masquerade of the pods 10.244.0.0/16 to 192.0.2.1, except towards `exempt`.
#pragma once
#include <utility>
#include <vector>

#include "../engine.h"
#include "addr.h"

namespace podnet::test {

inline EngineConfig small_engine_config(const std::vector<std::pair<const char*, uint32_t>>& exempt) {
  EngineConfig c;
  c.flow_capacity = 4096;
  c.maglev_size = 251;
  c.max_service_ports = 16;
  c.masq.v4 = true;
  c.masq.src4 = ip("192.0.2.1");
  cidr_ranges(4, ip("10.244.0.0"), 16, {}, 0, c.masq.pods4);
  for (const auto& [net, prefix] : exempt) cidr_ranges(4, ip(net), prefix, {}, 0, c.masq.exempt4);
  merge_ranges(c.masq.exempt4, 4);
  return c;
}

}  // namespace podnet::test
