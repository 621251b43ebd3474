// The pods on this node's bridge, as the kernel flow cache needs them: for each pod address,
// the pod's host-side veth (where its packets enter the node and where redirect_peer delivers
// to it), the pod's own MAC and the MAC it knows its gateway by. A flow is cacheable when both
// of its ends are in this table, or when one is and the other is off-node: its packets towards
// the pod then enter by one of the node's uplinks (or the VXLAN device), also listed here
// (kernel_cache.h).
//
// Immutable once published, like the service and policy tables: podnetd builds a new version
// for every pod added or removed (JS thread), engine threads read the version they hold.
#pragma once
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net.h"
#include "range_set.h"

namespace podnet {

struct LocalPod {
  uint32_t ifindex = 0;   // host-side veth, in the node's namespace
  uint8_t mac[6] = {};    // the pod's eth0
  uint8_t gw_mac[6] = {}; // the gateway as the pod sees it (the bridge)
};

// An uplink the fast path knows (a device off-node traffic enters by: an uplink, the VXLAN
// device): the direction of an off-node flow towards its pod is cached at its ingress (one
// entry per uplink: the engine does not know which one a TUN packet came in on).
struct Uplink {
  uint32_t ifindex = 0;
  uint32_t mtu = 0;  // L3 MTU of the device
};

// At most this many uplinks take cache entries (each flow from off-node costs one per uplink).
constexpr size_t kMaxUplinks = 8;

class PodTable {
 public:
  const LocalPod* find(uint8_t family, const Addr& a) const {
    auto it = by_addr_.find(key(family, a));
    return it == by_addr_.end() ? nullptr : &it->second;
  }
  void put(uint8_t family, const Addr& a, const LocalPod& pod) { by_addr_[key(family, a)] = pod; }
  // Removes every address of the pod behind `ifindex`; returns how many.
  size_t erase_ifindex(uint32_t ifindex) {
    size_t n = 0;
    for (auto it = by_addr_.begin(); it != by_addr_.end();) {
      if (it->second.ifindex == ifindex) {
        it = by_addr_.erase(it);
        n++;
      } else {
        ++it;
      }
    }
    return n;
  }
  size_t addresses() const { return by_addr_.size(); }
  const std::vector<Uplink>& uplinks() const { return uplinks_; }
  void set_uplinks(std::vector<Uplink> u) { uplinks_ = std::move(u); }
  bool is_uplink(uint32_t ifindex) const {
    for (const Uplink& u : uplinks_)
      if (u.ifindex == ifindex) return true;
    return false;
  }
  // The cluster's own addresses off this node (every Node's pod CIDRs, the other Nodes'
  // InternalIPs): an untranslated flow between a pod here and one of them is cached. Any other
  // off-node end keeps such a flow on the TUN path, where the node's own forwarding (and any
  // NAT it does for pods, which the cache would bypass) applies.
  void set_peers(std::vector<IpRange> v4, std::vector<IpRange> v6) {
    peers4_ = std::move(v4);
    peers6_ = std::move(v6);
  }
  bool is_peer(uint8_t family, const Addr& a) const { return in_range_set(family == 4 ? peers4_ : peers6_, a); }
  size_t peer_ranges() const { return peers4_.size() + peers6_.size(); }
  // The smallest uplink MTU (0 without uplinks): the bound of off-node delivery.
  uint32_t uplink_mtu() const {
    uint32_t m = 0;
    for (const Uplink& u : uplinks_)
      if (u.mtu && (!m || u.mtu < m)) m = u.mtu;
    return m;
  }
  template <typename F>
  void for_each(F&& fn) const {  // fn(family, addr, pod)
    for (const auto& [k, pod] : by_addr_) fn(k.family, k.addr, pod);
  }

 private:
  struct Key {
    uint8_t family;
    Addr addr;
    bool operator==(const Key& o) const { return family == o.family && addr == o.addr; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return size_t(hash_bytes(k.addr.b, 16, k.family)); }
  };
  static Key key(uint8_t family, const Addr& a) { return Key{family, a}; }
  std::unordered_map<Key, LocalPod, KeyHash> by_addr_;
  std::vector<Uplink> uplinks_;
  std::vector<IpRange> peers4_, peers6_;
};

}  // namespace podnet
