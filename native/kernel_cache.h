// The engine's side of the kernel flow cache (native/bpf/): the engine decides a flow on its
// first packet as always; when both ends are pods on this node, the commit also writes the
// decision, both directions, into the BPF flow map, and the tc program on the pods' host
// veths forwards the flow's later packets itself (rewrite + redirect_peer), never crossing
// the TUN. A flow with one end off-node is cached too while the engine knows the devices
// off-node traffic enters by (set_uplinks: the uplinks, and the VXLAN device of cross-node
// routing): a service flow from off-node (NodePort, LB IP, externalIP) or another node's pod
// to a pod here has its forward direction at the ingress of every uplink (redirect_peer into
// the pod) and its reverse on the pod's veth with off-node delivery by the kernel's FIB
// (flow_cache.h PODNET_ACT_REDIRECT_FIB); a pod's flow leaving the node (egress masquerade, a
// Service backend or a pod on another node) the other way round; a service flow passing
// through (a NodePort whose endpoint is on another node) has both directions at every uplink,
// both delivered by the FIB. The engine stays the authority:
//
//   install   engine thread, at commit_new_flow: the map entries (two, one per uplink plus
//             one, or two per uplink) tagged with the record's index, generation and
//             direction (flow_id)
//   sweep     GC thread every second, and the JS thread right after apply()/set_policy()
//             cut flows: reads every entry's stats tail (batched), moves last-seen and TCP
//             FINs into the engine's record, adds packets/bytes to the service and backend
//             counters, and deletes every entry whose record is gone, reused, cut (kReset) or
//             closing (both FINs seen). So a cut flow's next packet reaches the engine, which
//             resets both ends, and a closing flow is never cached again.
//   pods      the pods' anti-spoofing entries and program attachments follow set_pod /
//             delete_pod (a deleted pod's entries go at once: its ifindex may be reused); a
//             pod set without anti-spoofing has the attachment and no entry.
//   uplinks   the program is attached to each uplink set_uplinks names and detached from one
//             it drops (whose entries go at once); the sweep deletes entries entering by a
//             device that is neither a known pod veth nor a known uplink.
//
// Maps and attachments are pinned (the loader), so cached flows keep flowing while podnetd
// restarts; the restarted engine adopts entries whose records it restored from its state
// file and deletes the others at its first sweep.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fastpath/loader.h"
#include "fastpath/maps.h"
#include "flow_table.h"
#include "local_pods.h"

namespace podnet {

struct FlowPlan;
struct PipelineEnv;

struct KernelCacheOptions {
  std::string pin_root;        // a directory on a mounted bpffs
  uint32_t flows_max = 262144; // bound of the BPF flow map
  bool force_clsact = false;   // attach with clsact + cls_bpf even where tcx exists
  std::string object_path;     // the BPF object; empty = the one embedded in the addon
};

struct KernelCacheStats {
  uint64_t installs = 0, install_errors = 0, removed = 0, sweeps = 0, entries = 0, sweep_errors = 0;
  fastpath::StatCounters program{};  // the program's own counters (hits, misses, punts, spoofing)
  int program_error = 0;             // reading them failed (-errno)
};

class KernelCache {
 public:
  // Loads (or adopts the pinned) maps and program; throws EngineError ENGINE_FAST_PATH.
  KernelCache(const KernelCacheOptions& o, uint32_t flow_capacity);
  ~KernelCache();

  // Engine threads: caches an admitted flow whose route is known (plan.cache.ok()).
  void install(const FlowPlan& plan, const FlowHit& hit);
  // Engine threads: the record `hit` (found by its forward key `fwd`) is being replaced (a SYN
  // reopening a closed flow): its entries go now, before the new decision, so no packet of the
  // new connection can meet the old one's translation.
  void forget(const FlowKey& fwd, const FlowHit& hit, const PodTable& pods);
  // Sweep (see above); returns the entries deleted. Serialised internally.
  // An entry entering by a device that `pods` no longer lists (a pod veth or an uplink), or
  // leaving by a veth it no longer lists, is deleted too (a flow planned while its pod was
  // being deleted, an uplink dropped).
  size_t sweep(FlowTable& flows, const PipelineEnv& env, const PodTable& pods, uint64_t now_ms);

  // JS thread. Anti-spoofing entry (or, with `antispoof` false, none: a stale one is deleted
  // and the program lets the veth's frames through unpoliced) + attachment; "" or what failed.
  std::string set_pod(const LocalPod& pod, const std::vector<std::pair<uint8_t, Addr>>& addrs, bool antispoof);
  // Flushes every entry entering or leaving by the veth, the pod's entries, the attachment.
  std::string delete_pod(uint32_t ifindex);
  // JS thread. Attaches the program to every uplink of `want` (before any flow is cached at
  // it), detaches from those of `had` not wanted and flushes their entries. `attached`: the
  // uplinks of `want` now running the program. "" or what failed.
  std::string set_uplinks(const std::vector<Uplink>& want, const std::vector<Uplink>& had,
                          std::vector<Uplink>* attached);
  // The pod's anti-spoofing entry as the kernel holds it (CNI CHECK); 0 or -errno (-ENOENT: none).
  int pod_entry(uint32_t ifindex, podnet_pod_addrs* out) const { return maps_->GetPod(ifindex, out); }

  KernelCacheStats stats() const;
  // Whether the record idx/gen has entries in the map (installed, not yet deleted by a sweep).
  bool cached(uint32_t idx, uint32_t gen) const {
    return idx < capacity_ && cached_[idx].load(std::memory_order_relaxed) == gen + 1;
  }
  std::vector<fastpath::Attachment> attachments() const { return loader_->Attachments(); }
  const fastpath::LoadReport& load_report() const { return report_; }
  const char* attach_mode() const { return fastpath::AttachModeName(mode_.load()); }
  const std::string& pin_dir() const { return loader_->pin_dir(); }
  // Detaches everything and removes the pins (podnetd --cleanup).
  std::string remove_all();

 private:
  struct Mark {  // what the sweep already counted of one direction of a record
    uint32_t gen = 0;
    uint64_t packets = 0, bytes = 0;
  };
  std::unique_ptr<fastpath::Loader> loader_;
  std::unique_ptr<fastpath::FlowCacheMaps> maps_;  // install/delete: stateless calls, any thread
  fastpath::LoadReport report_;
  bool force_clsact_;
  std::atomic<fastpath::AttachMode> mode_{fastpath::AttachMode::kNone};

  std::mutex sweep_mu_;
  std::unique_ptr<fastpath::FlowCacheMaps> sweeper_;  // owns the sweep buffers
  std::vector<fastpath::SweptFlow> swept_;
  std::vector<podnet_flow_key> doomed_;  // the sweep's entries to delete
  std::unordered_set<uint32_t> veths_, uplinks_;
  struct UplinkSum {  // the forward entries of one flow from off-node, summed over the uplinks
    fastpath::SweptFlow sum{};
    bool taken = false;  // the record has been given the sum in this sweep
  };
  std::unordered_map<uint64_t, UplinkSum> by_uplink_;  // by flow_id
  std::unique_ptr<Mark[]> marks_;  // 2 per record
  std::unique_ptr<std::atomic<uint32_t>[]> cached_;  // per record: gen + 1 while cached, else 0
  uint32_t capacity_;

  std::atomic<uint64_t> installs_{0}, install_errors_{0}, removed_{0}, sweeps_{0}, entries_{0}, sweep_errors_{0};
};

// flow_id of a cached entry: record index, generation, direction.
inline uint64_t cache_flow_id(uint32_t idx, uint32_t gen, Dir d) {
  return (uint64_t(d) << 63) | (uint64_t(idx) << 32) | gen;
}

using CacheEntries = std::array<fastpath::FlowEntry, 2 * kMaxUplinks>;
// The map entries caching an admitted flow (plan.cache.ok()) recorded as `hit`: between local
// pods, the forward direction at the client's veth and the reverse at the server's, both
// redirect_peer; with one end off-node (a service flow from outside, a pod's flow to or from
// another node or the outside), the direction towards the pod at each uplink (redirect_peer
// into the pod) and the other at the pod's veth, delivered by the FIB within the smallest
// uplink MTU; with neither end here (a service flow passing through), both directions at each
// uplink, delivered by the FIB. Returns how many it wrote to `out`.
size_t cache_entries(const FlowPlan& plan, const FlowHit& hit, CacheEntries& out);

}  // namespace podnet
