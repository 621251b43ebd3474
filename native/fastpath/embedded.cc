// The bytes come from build/bpf/flow_cache.bpf.inc, which native/bpf/build.sh writes next to
// the object (one "0x.." per byte); the addon's build runs after it.
#include "embedded.h"

namespace podnet::fastpath {

alignas(8) const unsigned char kEmbeddedObject[] = {
#include "flow_cache.bpf.inc"
};
const size_t kEmbeddedObjectSize = sizeof(kEmbeddedObject);

}  // namespace podnet::fastpath
