// The tc program's object file (native/bpf/flow_cache.bpf.c, built by native/bpf/build.sh),
// compiled into the addon so a node needs no separate file and cannot load a mismatched one.
#pragma once
#include <cstddef>

namespace podnet::fastpath {

extern const unsigned char kEmbeddedObject[];
extern const size_t kEmbeddedObjectSize;

}  // namespace podnet::fastpath
