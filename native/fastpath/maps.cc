// Flow cache map access for the engine: flow install/delete, the stats sweep (batch lookup
// with a key-iteration fallback), pod anti-spoofing entries, counters, per-device flush.
#include "maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace podnet::fastpath {

namespace {

// Entries per batch call; the kernel answers ENOSPC when one hash bucket holds more.
constexpr uint32_t kBatch = 1024;

int Err(int rc) { return rc < 0 ? rc : -errno; }

// What a kernel without the batch operations (before 5.6) answers.
bool Unsupported(int e) { return e == -EINVAL || e == -EOPNOTSUPP || e == -524 /* ENOTSUPP */; }

SweptFlow Swept(const podnet_flow_key& k, const podnet_flow_value& v) {
  return SweptFlow{k, v.flow_id, v.last_seen_ns, v.packets, v.bytes, v.tcp_flags, v.target_ifindex};
}

}  // namespace

podnet_flow_key MakeFlowKey(uint8_t family, uint8_t proto, const uint8_t* saddr, const uint8_t* daddr, uint16_t sport_be,
                            uint16_t dport_be, uint32_t ifindex) {
  podnet_flow_key k;
  std::memset(&k, 0, sizeof(k));
  const size_t alen = family == 4 ? 4 : 16;
  std::memcpy(k.saddr, saddr, alen);
  std::memcpy(k.daddr, daddr, alen);
  k.sport = sport_be;
  k.dport = dport_be;
  k.ifindex = ifindex;
  k.proto = proto;
  k.family = family;
  return k;
}

FlowCacheMaps::FlowCacheMaps(const Loader& l)
    : FlowCacheMaps(l.map_fd(kFlowsMap), l.map_fd(kPodsMap), l.map_fd(kStatsMap), l.map_fd(kSpoofMap), l.flows_max()) {}

FlowCacheMaps::FlowCacheMaps(int flows_fd, int pods_fd, int stats_fd, int spoof_fd, uint32_t flows_max)
    : flows_fd_(flows_fd), pods_fd_(pods_fd), stats_fd_(stats_fd), spoof_fd_(spoof_fd), flows_max_(flows_max) {
  ncpus_ = libbpf_num_possible_cpus();
  if (ncpus_ < 1) ncpus_ = 1;
  // Room for the wider per-CPU value (spoof counts), 8-byte aligned per CPU as the kernel copies it.
  percpu_.resize(static_cast<size_t>(ncpus_) * (sizeof(podnet_spoof_counts) / sizeof(uint64_t)));
}

int FlowCacheMaps::InstallFlow(const FlowEntry& fwd, const FlowEntry& rev) {
  const FlowEntry both[2] = {fwd, rev};
  return InstallFlows(both, 2);
}

int FlowCacheMaps::InstallFlows(const FlowEntry* entries, size_t n) {
  if (n == 0) return 0;
  if (n <= kMaxInstall && batch_ops_.load(std::memory_order_relaxed)) {
    // One syscall for the whole flow: the kernel's batch update writes the entries in order
    // and reports how many it wrote before failing.
    podnet_flow_key keys[kMaxInstall];
    podnet_flow_value values[kMaxInstall];
    for (size_t i = 0; i < n; i++) keys[i] = entries[i].key, values[i] = entries[i].value;
    uint32_t count = static_cast<uint32_t>(n);
    LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
    int rc = bpf_map_update_batch(flows_fd_, keys, values, &count, &opts);
    if (rc == 0) return 0;
    int e = Err(rc);
    if (!Unsupported(e)) {
      DeleteKeys(keys, std::min<size_t>(count, n), nullptr);
      return e;
    }
    batch_ops_.store(false, std::memory_order_relaxed);  // an older kernel: one call per entry
  }
  for (size_t i = 0; i < n; i++) {
    if (bpf_map_update_elem(flows_fd_, &entries[i].key, &entries[i].value, BPF_ANY) == 0) continue;
    int e = -errno;
    while (i-- > 0) bpf_map_delete_elem(flows_fd_, &entries[i].key);
    return e;
  }
  return 0;
}

int FlowCacheMaps::DeleteKeys(const podnet_flow_key* keys, size_t n, size_t* deleted) {
  size_t done = 0;
  int rc = 0;
  size_t i = 0;
  while (i < n && batch_ops_.load(std::memory_order_relaxed)) {
    // The kernel's batch delete stops at the first key it cannot delete and says how many
    // it did: a key already gone (deleted by an engine thread meanwhile) is skipped and the
    // rest goes on in the next call.
    uint32_t count = static_cast<uint32_t>(std::min<size_t>(n - i, kBatch));
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int r = bpf_map_delete_batch(flows_fd_, keys + i, &count, &opts);
    int e = r ? Err(r) : 0;
    if (e && Unsupported(e) && count == 0) {
      batch_ops_.store(false, std::memory_order_relaxed);
      break;
    }
    done += count;
    i += count;
    if (!e) continue;
    if (e != -ENOENT) rc = e;
    i++;  // the key that failed
  }
  for (; i < n; i++) {
    if (bpf_map_delete_elem(flows_fd_, &keys[i]) == 0) done++;
    else if (errno != ENOENT) rc = -errno;
  }
  if (deleted) *deleted = done;
  return rc;
}

int FlowCacheMaps::DeleteFlow(const podnet_flow_key& fwd, const podnet_flow_key& rev) {
  const podnet_flow_key both[2] = {fwd, rev};
  return DeleteKeys(both, 2, nullptr);
}

int FlowCacheMaps::DeleteKey(const podnet_flow_key& key) {
  return bpf_map_delete_elem(flows_fd_, &key) == 0 ? 0 : -errno;
}

int FlowCacheMaps::LookupFlow(const podnet_flow_key& key, podnet_flow_value* value) const {
  return bpf_map_lookup_elem(flows_fd_, &key, value) == 0 ? 0 : -errno;
}

int FlowCacheMaps::Sweep(std::vector<SweptFlow>* out) {
  out->clear();
  if (!force_iterate_) {
    int rc = SweepBatch(out);
    if (!Unsupported(rc)) return rc;
    out->clear();
  }
  return SweepIterate(out);
}

int FlowCacheMaps::SweepBatch(std::vector<SweptFlow>* out) {
  uint32_t chunk = std::min(kBatch, std::max<uint32_t>(flows_max_, 1));
  uint32_t in_token = 0, out_token = 0;
  bool first = true;
  for (;;) {
    if (keys_.size() < chunk) {
      keys_.resize(chunk);
      values_.resize(chunk);
    }
    uint32_t n = chunk;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int rc = bpf_map_lookup_batch(flows_fd_, first ? nullptr : &in_token, &out_token, keys_.data(), values_.data(), &n,
                                  &opts);
    int e = rc ? Err(rc) : 0;
    if (e && e != -ENOENT) {
      if (e == -ENOSPC && n == 0 && chunk < flows_max_) {  // one bucket holds more than a chunk
        chunk *= 2;
        continue;
      }
      return e;
    }
    for (uint32_t i = 0; i < n; i++) out->push_back(Swept(keys_[i], values_[i]));
    last_batched_ = true;
    if (e == -ENOENT) return 0;
    in_token = out_token;
    first = false;
  }
}

int FlowCacheMaps::SweepIterate(std::vector<SweptFlow>* out) {
  last_batched_ = false;
  podnet_flow_key prev, next;
  podnet_flow_value v;
  bool first = true;
  // A key deleted under us restarts the walk from the start; bound the damage.
  for (uint64_t steps = 0; steps < 2ull * flows_max_ + 16; steps++) {
    if (bpf_map_get_next_key(flows_fd_, first ? nullptr : &prev, &next) != 0) return errno == ENOENT ? 0 : -errno;
    first = false;
    prev = next;
    if (bpf_map_lookup_elem(flows_fd_, &next, &v) != 0) continue;  // deleted meanwhile
    out->push_back(Swept(next, v));
  }
  return 0;
}

int FlowCacheMaps::FlushIfindex(uint32_t ifindex, size_t* removed) {
  if (removed) *removed = 0;
  std::vector<SweptFlow> all;
  // Own buffers: a flush may run while the caller holds the results of its last sweep.
  FlowCacheMaps scan(flows_fd_, pods_fd_, stats_fd_, spoof_fd_, flows_max_);
  scan.set_force_iterate(force_iterate_);
  int rc = scan.Sweep(&all);
  if (rc) return rc;
  std::vector<podnet_flow_key> doomed;
  for (const SweptFlow& f : all)
    if (f.key.ifindex == ifindex || f.target_ifindex == ifindex) doomed.push_back(f.key);
  rc = DeleteKeys(doomed.data(), doomed.size(), removed);
  int p = DeletePod(ifindex);
  if (bpf_map_delete_elem(spoof_fd_, &ifindex) != 0 && errno != ENOENT && !rc) rc = -errno;
  return rc ? rc : p;
}

int FlowCacheMaps::SetPod(uint32_t ifindex, const podnet_pod_addrs& pod) {
  return bpf_map_update_elem(pods_fd_, &ifindex, &pod, BPF_ANY) == 0 ? 0 : -errno;
}

int FlowCacheMaps::GetPod(uint32_t ifindex, podnet_pod_addrs* out) const {
  return bpf_map_lookup_elem(pods_fd_, &ifindex, out) == 0 ? 0 : -errno;
}

int FlowCacheMaps::DeletePod(uint32_t ifindex) {
  return bpf_map_delete_elem(pods_fd_, &ifindex) == 0 || errno == ENOENT ? 0 : -errno;
}

int FlowCacheMaps::ReadStats(StatCounters* out) const {
  out->fill(0);
  for (uint32_t i = 0; i < PODNET_STAT_MAX; i++) {
    if (bpf_map_lookup_elem(stats_fd_, &i, percpu_.data()) != 0) return -errno;
    for (int c = 0; c < ncpus_; c++) (*out)[i] += percpu_[c];
  }
  return 0;
}

int FlowCacheMaps::ReadSpoof(uint32_t ifindex, podnet_spoof_counts* out) const {
  std::memset(out, 0, sizeof(*out));
  if (bpf_map_lookup_elem(spoof_fd_, &ifindex, percpu_.data()) != 0) return errno == ENOENT ? 0 : -errno;
  constexpr size_t per = sizeof(podnet_spoof_counts) / sizeof(uint64_t);
  for (int c = 0; c < ncpus_; c++)
    for (size_t r = 0; r < PODNET_SPOOF_MAX; r++) out->drops[r] += percpu_[c * per + r];
  return 0;
}

}  // namespace podnet::fastpath
