// The engine: the tables (tables.h), the counters and, once a TUN is attached, the engine
// threads and the expiry pass. Plain C++: native/binding/ is the only place that knows Node.
#pragma once
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "events.h"
#include "flow_table.h"
#include "kernel_cache.h"
#include "local_pods.h"
#include "pipeline.h"
#include "policy.h"
#include "service_table.h"
#include "stats.h"
#include "tun.h"

namespace podnet {

struct EngineConfig {
  uint32_t flow_capacity = 262144;
  uint32_t maglev_size = 16381;  // the largest ring; see maglev_size_for()
  uint32_t max_service_ports = 65536;
  Timeouts timeouts;
  // Hairpin masquerade sources: not local to the node, routed into the TUN like any pod
  // traffic, so the backend's reply comes back through the engine.
  Addr hairpin4{{169, 254, 42, 1}};
  Addr hairpin6{{0xfd, 0x00, 0xa9, 0xfe, 0x00, 0x2a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  // Datapath probe targets: podnetd pings them from the node through a route into the TUN and
  // the engine threads answer (PipelineEnv.probe4/6), so a reply proves the threads read and
  // write the TUN. Never assigned to any interface.
  Addr probe4{{169, 254, 42, 2}};
  Addr probe6{{0xfd, 0x00, 0xa9, 0xfe, 0x00, 0x2a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
  MasqConfig masq;  // as created; the running one is Engine::masquerade()
  std::string state_file;  // flow table file (e.g. /run/podnet/flows); empty = memory only
};

struct BackendSpec {
  Addr addr;
  uint16_t port;
  bool terminating;
  std::string name;
};

struct ServicePortSpec {
  SvcKey key;
  std::vector<BackendSpec> backends;
  uint32_t affinity_timeout_s = 0;
  bool masquerade = false;
  Addr masquerade_addr{};
  bool drop_without_backends = false;
  bool shared_address = false;
  std::vector<IpRange> source4, source6;
  std::string name;
};

struct ApplyResult {
  uint64_t version;
  size_t service_ports;
  size_t flows_purged;
};

// A coded failure of apply()/attach_tun(); the binding turns it into a JS error with `code`.
struct EngineError : std::runtime_error {
  std::string code;
  EngineError(std::string c, const std::string& msg) : std::runtime_error(msg), code(std::move(c)) {}
};

uint32_t maglev_size_for(uint32_t active, uint32_t max_size);

class Engine {
 public:
  explicit Engine(const EngineConfig& cfg);
  ~Engine();

  // One new table version with these changes; replace_all removes every key not upserted.
  ApplyResult apply(const std::vector<ServicePortSpec>& upsert, const std::vector<SvcKey>& remove, bool replace_all);
  // Publishes a compiled policy and cuts established flows it no longer allows.
  // Returns {version, flows cut}.
  std::pair<uint64_t, size_t> set_policy(PolicyTable&& t);
  std::shared_ptr<const PolicyTable> policy() const { return policy_.load(std::memory_order_acquire); }
  // Counter slot of a policy name (stable across versions).
  const std::unordered_map<std::string, uint32_t>& policy_slots() const { return policy_slot_by_name_; }
  const PolicyCounter& policy_counter(uint32_t slot) const { return policy_counters_[slot]; }
  // The kernel flow cache (kernel_cache.h): loads or adopts the pinned program and maps.
  // Before attach_tun (engine threads take their environment then); throws EngineError.
  void enable_fast_path(const KernelCacheOptions& o);
  KernelCache* kernel_cache() { return cache_.get(); }
  const KernelCache* kernel_cache() const { return cache_.get(); }
  // A pod on this node's bridge appeared (or changed): its addresses become cacheable ends,
  // its veth gets the program, and its anti-spoofing entry unless `antispoof` is false (a pod
  // whose CNI config opted out: cached, not policed). "" or what failed (the pod then stays on
  // the TUN path).
  std::string set_local_pod(const LocalPod& pod, const std::vector<std::pair<uint8_t, Addr>>& addrs, bool antispoof);
  // The pod's veth is gone: its cached flows, anti-spoofing entry and attachment go at once.
  std::string delete_local_pod(uint32_t ifindex);
  // The node's uplinks now (replacing the previous list): the program runs on each, and
  // service flows from off-node to local pods become cacheable. "" or what failed (the
  // uplinks that could not be attached are left out).
  std::string set_uplinks(const std::vector<Uplink>& uplinks);
  // The cluster's addresses off this node (PodTable::set_peers), replacing the previous ones.
  // Flows already cached stay. "" or why not (the fast path is off).
  std::string set_cluster_peers(std::vector<IpRange> v4, std::vector<IpRange> v6);
  std::shared_ptr<const PodTable> pods() const { return pods_.load(std::memory_order_acquire); }
  // New egress-masquerade sources (the node's address moved: DHCP, `ip addr`). A family
  // without one stops being masqueraded. Flows masqueraded to a source that is no longer one
  // are cut (their replies cannot come back: TCP gets a RST on its next segment, as conntrack
  // forgets them when the kernel's MASQUERADE address goes). Returns the flows cut.
  size_t set_masquerade_sources(const Addr* src4, const Addr* src6);
  std::shared_ptr<const MasqConfig> masquerade() const { return masq_.load(std::memory_order_acquire); }
  void attach_tun(const TunConfig& cfg);
  void detach_tun();
  const TunDevice* tun() const { return tun_.get(); }

  // Dry run of the first packet of a connection (podnetctl trace): a TCP SYN or a UDP
  // datagram from src:sport to dst:dport. Holds the tables it used in `table` and `policy`.
  struct TraceQuery {
    uint8_t family;
    Addr src, dst;
    uint8_t proto;
    uint16_t sport, dport;
  };
  void trace(const TraceQuery& q, TraceInfo& out, std::shared_ptr<const ServiceTable>& table,
             std::shared_ptr<const PolicyTable>& policy);

  // Test entry point: runs one packet on the calling thread.
  Result process(uint8_t* pkt, size_t len, VnetHdr* vh, uint64_t now_ms);

  std::shared_ptr<const ServiceTable> table() const { return table_.load(std::memory_order_acquire); }
  const FlowTable& flows() const { return flows_; }
  const EngineCounters& counters() const { return counters_; }
  // podnetctl monitor's event ring (events.h): attach, read, detach on the JS thread.
  Monitor& monitor() { return monitor_; }
  const Counter& svc_counter(uint32_t slot) const { return svc_counters_[slot]; }
  const Counter& be_counter(uint32_t slot) const { return be_counters_[slot]; }
  uint32_t svc_capacity() const { return cfg_.max_service_ports; }
  uint32_t be_capacity() const { return cfg_.max_service_ports * 4; }
  std::vector<const QueueCounters*> queue_counters() const;
  const EngineConfig& config() const { return cfg_; }

  // Test hook (podnetd exposes it only with PODNET_TEST_HOOKS=1): the engine threads stop
  // reading the TUN for `ms`, as a wedged thread would. False when no TUN is attached.
  bool pause_threads_for_test(uint32_t ms);

 private:
  // apply_mu_ held: the next pod table version is a copy of the current one changed by
  // `change`, published with one atomic store.
  template <typename F>
  void publish_pods(F&& change) {
    auto next = std::make_shared<PodTable>(*pods_.load(std::memory_order_acquire));
    change(*next);
    pods_.store(std::shared_ptr<const PodTable>(std::move(next)), std::memory_order_release);
    version_.fetch_add(1, std::memory_order_acq_rel);
  }

  PipelineEnv env();
  size_t rebind_restored_flows(const ServiceTable& t);
  void sweep_cache();
  void gc_loop();

  EngineConfig cfg_;
  FlowTable flows_;
  EngineCounters counters_;
  Monitor monitor_;
  std::unique_ptr<Counter[]> svc_counters_;
  std::unique_ptr<Counter[]> be_counters_;
  SlotPool svc_slots_;
  SlotPool be_slots_;
  std::atomic<std::shared_ptr<const ServiceTable>> table_;
  std::atomic<std::shared_ptr<const PolicyTable>> policy_;
  std::atomic<std::shared_ptr<const PodTable>> pods_;  // null while the fast path is off
  std::atomic<std::shared_ptr<const MasqConfig>> masq_;
  std::unique_ptr<KernelCache> cache_;
  std::atomic<uint64_t> version_{0};  // bumped after each publish (any table); engine threads poll it
  static constexpr uint32_t kPolicyCounters = 65536;
  std::unique_ptr<PolicyCounter[]> policy_counters_;
  std::unordered_map<std::string, uint32_t> policy_slot_by_name_;
  std::mutex apply_mu_;
  bool rebind_pending_ = false;  // restored flows wait for the first table to get their slots
  std::unique_ptr<uint8_t[]> scratch_;  // for process() on the JS thread

  std::unique_ptr<TunDevice> tun_;
  std::unique_ptr<TunWorkers> workers_;
  std::thread gc_;
  std::mutex gc_mu_;
  std::condition_variable gc_cv_;
  bool gc_stop_ = false;
};

}  // namespace podnet
