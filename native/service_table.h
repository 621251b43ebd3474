// The service table (see tables.h): an immutable version mapping (family, VIP, port, proto)
// to a ServicePort with its backends and Maglev table. apply() builds the next version from
// the current one, sharing every unchanged ServicePort, and publishes it with one atomic store.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net.h"
#include "range_set.h"

namespace podnet {

struct Backend {
  Addr addr;
  uint16_t port;
  bool terminating;
  uint32_t slot;  // backend counter slot
  std::string name;
};

struct SvcKey {
  Addr vip;
  uint16_t port;
  uint8_t family;
  uint8_t proto;
  bool operator==(const SvcKey& o) const {
    return vip == o.vip && port == o.port && family == o.family && proto == o.proto;
  }
};

struct SvcKeyHash {
  size_t operator()(const SvcKey& k) const {
    uint8_t buf[20];
    std::memcpy(buf, k.vip.b, 16);
    buf[16] = uint8_t(k.port >> 8); buf[17] = uint8_t(k.port); buf[18] = k.family; buf[19] = k.proto;
    return size_t(hash_bytes(buf, sizeof buf, 0x737663));
  }
};

struct VipKey {
  Addr addr;
  uint8_t family;
  bool operator==(const VipKey& o) const { return addr == o.addr && family == o.family; }
};

struct VipKeyHash {
  size_t operator()(const VipKey& k) const { return size_t(hash_bytes(k.addr.b, 16, k.family)); }
};

// Which service ports use a VIP address. An address only node-port specs use (a node's own
// address) is shared with the host: traffic to its other ports passes through untouched.
struct VipUse {
  uint32_t owned = 0;   // specs whose VIP belongs to the service (ClusterIP, LB IP, externalIP)
  uint32_t shared = 0;  // specs on an address shared with the host (NodePort)
};

struct ServicePort {
  SvcKey key;
  bool shared_address = false;
  std::vector<Backend> backends;  // active ones first, then terminating
  uint32_t active = 0;            // how many take new flows
  std::vector<uint16_t> maglev;   // indices into backends[0..active); empty when active <= 1
  uint32_t affinity_timeout_ms = 0;
  bool masquerade = false;        // new flows get masquerade_addr as their source
  bool drop_without_backends = false;  // silent drop instead of RST / ICMP unreachable
  std::vector<IpRange> source4, source6;  // loadBalancerSourceRanges; empty = any
  Addr masquerade_addr{};
  uint32_t slot = 0;              // service port counter slot
  std::string name;

  // Backend for a new flow whose hash is h; nullptr when none is active.
  const Backend* pick(uint64_t h) const {
    if (active == 0) return nullptr;
    if (maglev.empty()) return &backends[0];
    return &backends[maglev[h % maglev.size()]];
  }
  // Backend by address (affinity and established flows); nullptr if gone.
  const Backend* find(const Addr& a, uint16_t port) const {
    for (const Backend& b : backends)
      if (b.port == port && b.addr == a) return &b;
    return nullptr;
  }
};

// A hash map split into shards held by shared_ptr: a new table version copies the shard
// pointers and clones only the shards an apply() touches, so one changed service costs a
// few hundred entries, not the whole table.
template <typename K, typename V, typename H>
class ShardedMap {
 public:
  static constexpr size_t kShards = 256;
  using Shard = std::unordered_map<K, V, H>;

  ShardedMap() {
    auto empty = std::make_shared<Shard>();
    shards_.fill(empty);
  }
  const V* find(const K& k) const {
    const Shard& s = *shards_[index(k)];
    auto it = s.find(k);
    return it == s.end() ? nullptr : &it->second;
  }
  size_t size() const { return size_; }
  template <typename F>
  void for_each(F&& fn) const {
    for (const auto& s : shards_)
      for (const auto& [k, v] : *s) fn(k, v);
  }

  // Mutation, only on a version not yet published. `owned` marks shards already cloned.
  struct Editor {
    ShardedMap& m;
    std::array<bool, kShards> owned{};
    Shard& shard(const K& k) {
      size_t i = m.index(k);
      if (!owned[i]) {
        m.shards_[i] = std::make_shared<Shard>(*m.shards_[i]);
        owned[i] = true;
      }
      return *m.shards_[i];
    }
    void put(const K& k, V v) {
      auto [it, inserted] = shard(k).insert_or_assign(k, std::move(v));
      (void)it;
      if (inserted) m.size_++;
    }
    bool erase(const K& k) {
      if (!m.find(k)) return false;
      shard(k).erase(k);
      m.size_--;
      return true;
    }
    V* get(const K& k) {
      if (!m.find(k)) return nullptr;
      return &shard(k)[k];
    }
  };

 private:
  size_t index(const K& k) const { return (H{}(k) >> 32) % kShards; }
  std::array<std::shared_ptr<Shard>, kShards> shards_;
  size_t size_ = 0;
};

struct ServiceTable {
  uint64_t version = 0;
  ShardedMap<SvcKey, std::shared_ptr<const ServicePort>, SvcKeyHash> ports;
  ShardedMap<VipKey, VipUse, VipKeyHash> vips;  // VIP address -> service ports on it

  const ServicePort* find(uint8_t family, uint8_t proto, const Addr& vip, uint16_t port) const {
    auto* p = ports.find(SvcKey{vip, port, family, proto});
    return p ? p->get() : nullptr;
  }
  bool is_vip(uint8_t family, const Addr& a) const { return vips.find(VipKey{a, family}) != nullptr; }
  // The address is a service's own: undefined ports and other protocols are answered by us.
  bool owns_vip(uint8_t family, const Addr& a) const {
    const VipUse* u = vips.find(VipKey{a, family});
    return u && u->owned > 0;
  }
};

// Fixed-capacity counter slot allocator, driven only by apply() on the JS thread.
class SlotPool {
 public:
  explicit SlotPool(uint32_t capacity);
  // Returns a slot or UINT32_MAX when full.
  uint32_t take();
  void give(uint32_t slot);
  uint32_t capacity() const { return capacity_; }

 private:
  uint32_t capacity_;
  std::vector<uint32_t> free_;
};

}  // namespace podnet
