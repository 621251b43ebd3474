// Counters the data plane keeps: drops by reason, generated replies, per-queue I/O,
// and per service port / per backend packet, byte and flow counts (slots, see tables.h).
// All relaxed atomics: readers (JavaScript) want totals, not a consistent snapshot.
#pragma once
#include <atomic>
#include <cstdint>

namespace podnet {

#define PODNET_DROPS(X)                                                      \
  X(empty, "empty")                     /* zero-length read */              \
  X(truncated, "truncated")             /* shorter than its headers */      \
  X(bad_version, "bad_version")         /* not IPv4 or IPv6 */              \
  X(bad_ip_header, "bad_ip_header")     /* IHL < 5, bad header length */    \
  X(bad_length, "bad_length")           /* IP length disagrees with buffer */ \
  X(bad_l4_header, "bad_l4_header")     /* TCP data offset, UDP length */   \
  X(bad_ext_header, "bad_ext_header")   /* IPv6 extension chain broken */   \
  X(fragment, "fragment")               /* fragment addressed to a VIP */   \
  X(bad_vnet_hdr, "bad_vnet_hdr")       /* virtio_net_hdr disagrees */      \
  X(vip_bad_proto, "vip_bad_proto")     /* VIP traffic neither TCP/UDP/echo */ \
  X(icmp_untracked, "icmp_untracked")   /* ICMP error quoting a VIP flow we don't have */ \
  X(no_backend, "no_backend")           /* rejected, reply generated */     \
  X(no_service_port, "no_service_port") /* VIP port not defined, reply generated */ \
  X(source_range, "source_range")       /* client outside loadBalancerSourceRanges */ \
  X(flow_table_full, "flow_table_full") /* could not insert */               \
  X(snat_exhausted, "snat_exhausted")   /* no free masquerade port */        \
  X(policy_ingress, "policy_ingress")   /* NetworkPolicy: destination isolated, no rule allows */ \
  X(policy_egress, "policy_egress")     /* NetworkPolicy: source isolated, no rule allows */ \
  X(stale_flow, "stale_flow")           /* mid-stream packet for a gone backend */ \
  X(reset_cut_flow, "reset_cut_flow")   /* packet of a cut TCP flow, turned into RSTs to both ends */ \
  X(write_error, "write_error")         /* TUN write failed */

enum class Drop : uint8_t {
#define X(id, name) id,
  PODNET_DROPS(X)
#undef X
  count,
  none = count,  // not dropped: a Result or TraceInfo with no reason to name
};

inline const char* drop_name(Drop d) {
  static const char* names[] = {
#define X(id, name) name,
      PODNET_DROPS(X)
#undef X
  };
  return names[static_cast<int>(d)];
}

// probe_reply: echo replies to podnetd's datapath probe (EngineConfig.probe4/6).
enum class Reply : uint8_t { rst, icmp_unreachable, echo_reply, probe_reply, count };
inline const char* reply_name(Reply r) {
  static const char* names[] = {"rst", "icmp_unreachable", "echo_reply", "probe_reply"};
  return names[static_cast<int>(r)];
}

struct Counter {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> flows{0};
  void add(uint64_t b) {
    packets.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(b, std::memory_order_relaxed);
  }
  void add_n(uint64_t n, uint64_t b) {
    packets.fetch_add(n, std::memory_order_relaxed);
    bytes.fetch_add(b, std::memory_order_relaxed);
  }
  void reset() {
    packets.store(0, std::memory_order_relaxed);
    bytes.store(0, std::memory_order_relaxed);
    flows.store(0, std::memory_order_relaxed);
  }
};

struct EngineCounters {
  std::atomic<uint64_t> drops[static_cast<int>(Drop::count)]{};
  std::atomic<uint64_t> replies[static_cast<int>(Reply::count)]{};
  std::atomic<uint64_t> passthrough{0};
  void drop(Drop d) { drops[static_cast<int>(d)].fetch_add(1, std::memory_order_relaxed); }
  void reply(Reply r) { replies[static_cast<int>(r)].fetch_add(1, std::memory_order_relaxed); }
};

struct QueueCounters {
  std::atomic<uint64_t> packets_in{0}, packets_out{0}, bytes_in{0}, wakeups{0}, gso_packets{0},
      read_errors{0}, write_errors{0}, busy_polled{0};
};

}  // namespace podnet
