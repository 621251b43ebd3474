// The engine's handle on the flow cache maps (layouts in native/bpf/flow_cache.h): installs
// and deletes flows (both directions together), sweeps the program's stats tails back,
// keeps the pods' anti-spoofing entries, reads counters and flushes a deleted pod.
//
// Every call is a few bpf() syscalls on fds the Loader owns; nothing throws and the
// per-flow calls return 0 or -errno. A FlowCacheMaps keeps its sweep buffers between
// calls, so one instance belongs to one thread (the kernel side is safe to share).
#ifndef PODNET_FASTPATH_MAPS_H
#define PODNET_FASTPATH_MAPS_H

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../bpf/flow_cache.h"
#include "loader.h"

namespace podnet::fastpath {

/** One direction of a cached flow. */
struct FlowEntry {
  podnet_flow_key key;
  podnet_flow_value value;
};

/** The stats tail of one entry as the sweep read it. */
struct SweptFlow {
  podnet_flow_key key;
  uint64_t flow_id;
  uint64_t last_seen_ns;
  uint64_t packets;
  uint64_t bytes;
  uint32_t tcp_flags;
  uint32_t target_ifindex;
};

using StatCounters = std::array<uint64_t, PODNET_STAT_MAX>;

class FlowCacheMaps {
 public:
  /** The maps of a loaded cache; the Loader must outlive this object. */
  explicit FlowCacheMaps(const Loader& loader);
  /** Raw fds (tests, tools), in MapId order; not owned. */
  FlowCacheMaps(int flows_fd, int pods_fd, int stats_fd, int spoof_fd, uint32_t flows_max);

  /** Inserts or overwrites both directions; when the second fails the first is removed
   * again, so a flow is cached both ways or not at all. The stats tail is written as given
   * (normally zero). */
  int InstallFlow(const FlowEntry& forward, const FlowEntry& reverse);
  /** Inserts or overwrites `n` entries, all or none (those written are removed again when
   * one fails). Up to kMaxInstall entries go in one batch syscall where the kernel has it. */
  int InstallFlows(const FlowEntry* entries, size_t n);
  static constexpr size_t kMaxInstall = 16;
  /** Deletes `n` keys, batched where the kernel can; a key already gone is skipped, not an
   * error. `deleted` (optional): how many were there. */
  int DeleteKeys(const podnet_flow_key* keys, size_t n, size_t* deleted);
  /** Deletes both directions; a key already gone is not an error. */
  int DeleteFlow(const podnet_flow_key& forward, const podnet_flow_key& reverse);
  /** Deletes one direction; -ENOENT when absent. */
  int DeleteKey(const podnet_flow_key& key);
  /** One entry by key; -ENOENT when absent. */
  int LookupFlow(const podnet_flow_key& key, podnet_flow_value* value) const;

  /** Reads every entry's stats tail into `out` (cleared first). Uses the kernel's batch
   * lookup, or key-by-key iteration where that is missing (or `force_iterate`). An
   * entry deleted during the sweep may be missing or, with iteration, read twice. */
  int Sweep(std::vector<SweptFlow>* out);
  /** Deletes every flow entered at or redirected to `ifindex`, and the pod's anti-spoofing
   * and spoof-counter entries: the device is gone and its ifindex may be reused. */
  int FlushIfindex(uint32_t ifindex, size_t* removed = nullptr);

  int SetPod(uint32_t ifindex, const podnet_pod_addrs& pod);
  /** The pod's anti-spoofing entry; -ENOENT when the ifindex has none. */
  int GetPod(uint32_t ifindex, podnet_pod_addrs* out) const;
  /** -ENOENT-free: deleting a missing pod is fine. */
  int DeletePod(uint32_t ifindex);

  /** The per-CPU counters summed. */
  int ReadStats(StatCounters* out) const;
  /** The pod's drops by reason summed over CPUs; all zero when it never dropped. */
  int ReadSpoof(uint32_t ifindex, podnet_spoof_counts* out) const;

  void set_force_iterate(bool v) { force_iterate_ = v; }
  /** Whether installs and deletes still use the batch syscalls (false after the kernel refused them). */
  bool batch_ops() const { return batch_ops_.load(std::memory_order_relaxed); }
  /** Tests: false takes the one-call-per-entry path an older kernel gets. */
  void set_batch_ops(bool v) { batch_ops_.store(v, std::memory_order_relaxed); }
  /** Whether the last sweep used the batch lookup. */
  bool last_sweep_batched() const { return last_batched_; }

 private:
  int SweepBatch(std::vector<SweptFlow>* out);
  int SweepIterate(std::vector<SweptFlow>* out);

  int flows_fd_, pods_fd_, stats_fd_, spoof_fd_;
  uint32_t flows_max_;
  int ncpus_;
  bool force_iterate_ = false;
  std::atomic<bool> batch_ops_{true};  // batch update/delete work (else one call per entry)
  bool last_batched_ = false;
  std::vector<podnet_flow_key> keys_;
  std::vector<podnet_flow_value> values_;
  mutable std::vector<uint64_t> percpu_;
};

/** Key helper: zeroed, addresses copied as 4 (family 4) or 16 bytes, ports in network order. */
podnet_flow_key MakeFlowKey(uint8_t family, uint8_t proto, const uint8_t* saddr, const uint8_t* daddr, uint16_t sport_be,
                            uint16_t dport_be, uint32_t ifindex);

}  // namespace podnet::fastpath

#endif  // PODNET_FASTPATH_MAPS_H
