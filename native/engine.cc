// The engine; see engine.h. apply() runs on the JS thread only; engine threads read the
// published table and never wait for apply().
#include "engine.h"

#include <pthread.h>
#include <sys/uio.h>

#include <chrono>
#include <unordered_set>

#include "maglev.h"

namespace podnet {

namespace {

uint64_t backend_id(const Addr& a, uint16_t port) {
  uint8_t buf[18];
  std::memcpy(buf, a.b, 16);
  buf[16] = uint8_t(port >> 8);
  buf[17] = uint8_t(port);
  return hash_bytes(buf, sizeof buf, 0x6d61676c6576ULL);
}

}  // namespace

// Maglev wants M well above the backend count (the paper's disruption bound: M >= 100 N).
// Small services get a small ring, which keeps 30k services affordable; the size only
// depends on the active backend count, so it stays deterministic across restarts.
uint32_t maglev_size_for(uint32_t active, uint32_t max_size) {
  static const uint32_t kLadder[] = {251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139, 524287, 1000003};
  for (uint32_t m : kLadder) {
    if (m >= max_size) return max_size;
    if (m >= uint64_t(active) * 100) return m;
  }
  return max_size;
}

Engine::Engine(const EngineConfig& cfg)
    : cfg_(cfg),
      flows_(cfg.flow_capacity, cfg.timeouts, cfg.state_file),
      svc_counters_(new Counter[cfg.max_service_ports]),
      be_counters_(new Counter[size_t(cfg.max_service_ports) * 4]),
      svc_slots_(cfg.max_service_ports),
      be_slots_(cfg.max_service_ports * 4),
      table_(std::make_shared<const ServiceTable>()),
      policy_(std::make_shared<const PolicyTable>()),
      masq_(std::make_shared<const MasqConfig>(cfg.masq)),
      policy_counters_(new PolicyCounter[kPolicyCounters]),
      scratch_(new uint8_t[kScratchSize]) {
  if (!is_prime(cfg.maglev_size) || cfg.maglev_size < 3)
    throw EngineError("ENGINE_BAD_OPTION", "maglevSize must be a prime >= 3, got " + std::to_string(cfg.maglev_size));
  rebind_pending_ = flows_.restored();
  flows_.set_monitor(&monitor_);
}

Engine::~Engine() { detach_tun(); }

PipelineEnv Engine::env() {
  PipelineEnv e{&flows_,          cfg_.hairpin4,         cfg_.hairpin6,   &counters_,
                svc_counters_.get(), svc_capacity(),        be_counters_.get(), be_capacity(),
                policy_counters_.get(), kPolicyCounters, cache_.get()};
  e.probe4 = cfg_.probe4;
  e.probe6 = cfg_.probe6;
  e.monitor = &monitor_;
  return e;
}

ApplyResult Engine::apply(const std::vector<ServicePortSpec>& upsert, const std::vector<SvcKey>& remove,
                          bool replace_all) {
  std::lock_guard<std::mutex> g(apply_mu_);
  auto cur = table_.load(std::memory_order_acquire);
  auto next = std::make_shared<ServiceTable>(*cur);
  next->version = cur->version + 1;
  ShardedMap<SvcKey, std::shared_ptr<const ServicePort>, SvcKeyHash>::Editor ports{next->ports};
  ShardedMap<VipKey, VipUse, VipKeyHash>::Editor vips{next->vips};

  std::vector<uint32_t> taken_svc, taken_be, freed_svc, freed_be;
  auto release_port = [&](const ServicePort& sp) {
    freed_svc.push_back(sp.slot);
    for (const Backend& b : sp.backends) freed_be.push_back(b.slot);
  };
  auto drop_vip = [&](const SvcKey& k, bool shared) {
    VipKey vk{k.vip, k.family};
    VipUse* u = vips.get(vk);
    if (!u) return;
    uint32_t& n = shared ? u->shared : u->owned;
    if (n) n--;
    if (u->owned == 0 && u->shared == 0) vips.erase(vk);
  };

  try {
    std::vector<SvcKey> removals = remove;
    if (replace_all) {
      std::unordered_set<SvcKey, SvcKeyHash> keep;
      keep.reserve(upsert.size());
      for (const auto& s : upsert) keep.insert(s.key);
      cur->ports.for_each([&](const SvcKey& k, const auto&) {
        if (!keep.count(k)) removals.push_back(k);
      });
    }
    for (const SvcKey& k : removals) {
      auto* old = next->ports.find(k);
      if (!old) continue;
      bool shared = (*old)->shared_address;
      release_port(**old);
      ports.erase(k);
      drop_vip(k, shared);
    }
    for (const ServicePortSpec& s : upsert) {
      auto* oldp = next->ports.find(s.key);
      const ServicePort* old = oldp ? oldp->get() : nullptr;
      auto sp = std::make_shared<ServicePort>();
      sp->key = s.key;
      sp->name = s.name;
      sp->affinity_timeout_ms = s.affinity_timeout_s * 1000;
      sp->shared_address = s.shared_address;
      sp->masquerade = s.masquerade;
      sp->masquerade_addr = s.masquerade_addr;
      sp->drop_without_backends = s.drop_without_backends;
      sp->source4 = s.source4;
      sp->source6 = s.source6;
      if (old) {
        sp->slot = old->slot;
      } else {
        sp->slot = svc_slots_.take();
        if (sp->slot == UINT32_MAX) throw EngineError("ENGINE_TABLE_FULL", "more than maxServicePorts service ports");
        taken_svc.push_back(sp->slot);
        svc_counters_[sp->slot].reset();
      }
      sp->backends.reserve(s.backends.size());
      for (int pass = 0; pass < 2; pass++) {
        for (const BackendSpec& b : s.backends) {
          if (b.terminating != (pass == 1)) continue;
          if (sp->find(b.addr, b.port)) continue;  // duplicates collapse
          const Backend* ob = old ? old->find(b.addr, b.port) : nullptr;
          uint32_t slot = ob ? ob->slot : be_slots_.take();
          if (slot == UINT32_MAX) throw EngineError("ENGINE_TABLE_FULL", "too many backends in total");
          if (!ob) {
            taken_be.push_back(slot);
            be_counters_[slot].reset();
          }
          sp->backends.push_back(Backend{b.addr, b.port, b.terminating, slot, b.name});
          if (!b.terminating) sp->active++;
        }
      }
      if (sp->active >= cfg_.maglev_size || sp->backends.size() > 65535)
        throw EngineError("ENGINE_BAD_SPEC", "service port " + s.name + " has more backends than maglevSize allows");
      if (sp->active > 1) {
        // Reuse the old ring when the active set did not change (a terminating flag or a
        // name moved): rebuilding would cost O(M) for nothing.
        bool same = old && old->active == sp->active;
        for (uint32_t i = 0; same && i < sp->active; i++)
          same = old->backends[i].addr == sp->backends[i].addr && old->backends[i].port == sp->backends[i].port;
        if (same) {
          sp->maglev = old->maglev;
        } else {
          std::vector<MaglevBackend> mb;
          mb.reserve(sp->active);
          for (uint32_t i = 0; i < sp->active; i++)
            mb.push_back({backend_id(sp->backends[i].addr, sp->backends[i].port), 1});
          sp->maglev = maglev_build(mb, maglev_size_for(sp->active, cfg_.maglev_size));
        }
      }
      if (old) {
        for (const Backend& ob : old->backends)
          if (!sp->find(ob.addr, ob.port)) freed_be.push_back(ob.slot);
        if (old->shared_address != s.shared_address) drop_vip(s.key, old->shared_address);
      }
      if (!old || old->shared_address != s.shared_address) {
        VipKey vk{s.key.vip, s.key.family};
        VipUse* u = vips.get(vk);
        if (!u) {
          vips.put(vk, VipUse{});
          u = vips.get(vk);
        }
        (s.shared_address ? u->shared : u->owned)++;
      }
      ports.put(s.key, std::move(sp));
    }
  } catch (...) {
    for (uint32_t s : taken_svc) svc_slots_.give(s);
    for (uint32_t s : taken_be) be_slots_.give(s);
    throw;
  }

  table_.store(std::shared_ptr<const ServiceTable>(std::move(next)), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_acq_rel);
  // Flows whose backend left its service are cut: UDP ones removed (clients re-balance at
  // once instead of black-holing), TCP ones marked so their next segment, either way, turns
  // into a RST to both ends (the client sees it from the VIP and fails fast).
  size_t purged = 0;
  if (!freed_be.empty()) {
    std::vector<uint8_t> purge(be_capacity(), 0);
    for (uint32_t s : freed_be) purge[s] = 1;
    purged = flows_.purge_backends(purge, monotonic_ms());
  }
  if (rebind_pending_) {
    rebind_pending_ = false;
    purged += rebind_restored_flows(*table_.load(std::memory_order_acquire));
  }
  if (purged) sweep_cache();  // a cut flow's next packet must reach the engine
  for (uint32_t s : freed_svc) svc_slots_.give(s);
  for (uint32_t s : freed_be) be_slots_.give(s);
  auto now = table_.load(std::memory_order_acquire);
  return ApplyResult{now->version, now->ports.size(), purged};
}

// Flows restored from the state file point at counter slots of the previous process.
// Give each its slots in the new table; a flow whose service or backend is gone is dropped.
size_t Engine::rebind_restored_flows(const ServiceTable& t) {
  return flows_.rebind([&](const FlowKey& k, const Translation& x, uint32_t& svc, uint32_t& be) {
    if (!(x.rewrite & kRewriteDst)) {  // policy-tracked or egress-masqueraded: no service to rebind
      svc = be = UINT32_MAX;
      return true;
    }
    uint8_t proto = k.proto == kAffinity ? uint8_t(k.pad) : k.proto;
    const ServicePort* sp = t.find(k.family, proto, k.dst, k.dport);
    if (!sp) return false;
    const Backend* b = sp->find(x.dst, x.dport);
    if (!b) return false;
    svc = sp->slot;
    be = b->slot;
    return true;
  });
}

void Engine::trace(const TraceQuery& q, TraceInfo& out, std::shared_ptr<const ServiceTable>& table,
                   std::shared_ptr<const PolicyTable>& policy) {
  uint8_t pkt[64];
  size_t len = build_first_packet(q.family, q.src, q.dst, q.proto, q.sport, q.dport, pkt);
  table = table_.load(std::memory_order_acquire);
  policy = policy_.load(std::memory_order_acquire);
  auto pods = pods_.load(std::memory_order_acquire);
  auto masq = masq_.load(std::memory_order_acquire);
  trace_packet(env(), Tables{*table, *policy, pods.get(), masq.get()}, pkt, len, monotonic_ms(), out);
}

std::pair<uint64_t, size_t> Engine::set_policy(PolicyTable&& t) {
  std::lock_guard<std::mutex> g(apply_mu_);
  auto cur = policy_.load(std::memory_order_acquire);
  t.version = cur->version + 1;
  t.policy_slot.clear();
  for (const std::string& name : t.policies) {
    auto it = policy_slot_by_name_.find(name);
    uint32_t slot;
    if (it != policy_slot_by_name_.end()) {
      slot = it->second;
    } else {
      slot = policy_slot_by_name_.size() < kPolicyCounters ? uint32_t(policy_slot_by_name_.size()) : UINT32_MAX;
      if (slot != UINT32_MAX) policy_slot_by_name_.emplace(name, slot);
    }
    t.policy_slot.push_back(slot);
  }
  auto next = std::make_shared<const PolicyTable>(std::move(t));
  policy_.store(next, std::memory_order_release);
  version_.fetch_add(1, std::memory_order_acq_rel);
  // Established flows are judged again: one the new policy would not start is cut (TCP: RST
  // to both ends on its next segment), so a policy added mid-connection takes effect at once,
  // not at the connection's end.
  size_t cut = 0;
  if (next->active) {
    cut = flows_.cut_if([&](const FlowKey& k, const Translation& x) {
      if (k.proto == kAffinity) return false;
      const Addr& server = (x.rewrite & kRewriteDst) ? x.dst : k.dst;
      uint16_t port = (x.rewrite & kRewriteDst) ? x.dport : k.dport;
      return !policy_decide(*next, k.family, k.src, server, k.proto, port).allow;
    }, monotonic_ms());
  }
  if (cut) sweep_cache();
  return {next->version, cut};
}

Result Engine::process(uint8_t* pkt, size_t len, VnetHdr* vh, uint64_t now_ms) {
  auto t = table_.load(std::memory_order_acquire);
  auto pol = policy_.load(std::memory_order_acquire);
  auto pods = pods_.load(std::memory_order_acquire);
  auto masq = masq_.load(std::memory_order_acquire);
  return process_packet(env(), Tables{*t, *pol, pods.get(), masq.get()}, pkt, len, vh, now_ms, scratch_.get());
}

void Engine::attach_tun(const TunConfig& cfg) {
  if (tun_) throw EngineError("ENGINE_TUN_ATTACHED", "a TUN device is already attached");
  try {
    tun_ = std::make_unique<TunDevice>(cfg);
  } catch (const std::exception& e) {
    throw EngineError("ENGINE_TUN_OPEN", e.what());
  }
  // make_fn runs once per queue, in queue order; `q` picks the fd a thread writes its
  // second packets to (any queue's fd would do: a TUN write just enters the kernel).
  auto make_fn = [this, q = size_t(0)]() mutable -> PacketFn {
    auto scratch = std::shared_ptr<uint8_t[]>(new uint8_t[kScratchSize]);
    int extra_fd = tun_->fds()[q++ % tun_->fds().size()];
    struct Cached {
      std::shared_ptr<const ServiceTable> table;
      std::shared_ptr<const PolicyTable> policy;
      std::shared_ptr<const PodTable> pods;
      std::shared_ptr<const MasqConfig> masq;
      uint64_t version = UINT64_MAX;
    };
    auto local = std::make_shared<Cached>();
    PipelineEnv e = env();
    return [this, e, scratch, local, extra_fd](uint8_t* buf, size_t n, const uint8_t** out, uint64_t now) -> size_t {
      if (n < sizeof(VnetHdr)) {
        counters_.drop(Drop::empty);
        return 0;
      }
      VnetHdr* vh = reinterpret_cast<VnetHdr*>(buf);
      // Re-read the published table only when its version moved: one plain atomic load per
      // packet instead of a shared_ptr copy (two contended read-modify-writes).
      uint64_t v = version_.load(std::memory_order_acquire);
      if (v != local->version || !local->table) {
        local->table = table_.load(std::memory_order_acquire);
        local->policy = policy_.load(std::memory_order_acquire);
        local->pods = pods_.load(std::memory_order_acquire);
        local->masq = masq_.load(std::memory_order_acquire);
        local->version = v;
      }
      Tables t{*local->table, *local->policy, local->pods.get(), local->masq.get()};
      Result r = process_packet(e, t, buf + sizeof(VnetHdr), n - sizeof(VnetHdr),
                                vh, now, scratch.get());
      if (r.verdict == Verdict::kDrop) return 0;
      if (r.out2_len) {
        // The one-packet-out PacketFn carries the first; the second (the RST towards the other
        // end of a cut flow) is written here. Rare, so one extra syscall is fine.
        VnetHdr none{};
        iovec iov[2] = {{&none, sizeof none}, {const_cast<uint8_t*>(r.out2), r.out2_len}};
        if (writev(extra_fd, iov, 2) < 0) counters_.drop(Drop::write_error);
      }
      *out = r.out == buf + sizeof(VnetHdr) ? buf : r.out;
      return r.out_len + sizeof(VnetHdr);
    };
  };
  workers_ = std::make_unique<TunWorkers>(*tun_, cfg.batch, cfg.busy_poll_us, make_fn);
  gc_stop_ = false;
  gc_ = std::thread(&Engine::gc_loop, this);
}

void Engine::detach_tun() {
  if (gc_.joinable()) {
    {
      std::lock_guard<std::mutex> g(gc_mu_);
      gc_stop_ = true;
    }
    gc_cv_.notify_all();
    gc_.join();
  }
  workers_.reset();
  tun_.reset();
}

// Expired flows are also removed lazily on lookup; this pass returns idle records
// to the free list so eviction rarely has to pick a live one.
void Engine::gc_loop() {
  pthread_setname_np(pthread_self(), "podnet-gc");
  std::unique_lock<std::mutex> lk(gc_mu_);
  while (!gc_cv_.wait_for(lk, std::chrono::seconds(1), [this] { return gc_stop_; })) {
    lk.unlock();
    sweep_cache();
    flows_.expire(monotonic_ms());
    lk.lock();
  }
}

void Engine::sweep_cache() {
  if (cache_) cache_->sweep(flows_, env(), *pods_.load(std::memory_order_acquire), monotonic_ms());
}

void Engine::enable_fast_path(const KernelCacheOptions& o) {
  std::lock_guard<std::mutex> g(apply_mu_);
  if (tun_) throw EngineError("ENGINE_TUN_ATTACHED", "enable the fast path before attaching the TUN");
  if (cache_) throw EngineError("ENGINE_FAST_PATH", "the fast path is already enabled");
  cache_ = std::make_unique<KernelCache>(o, cfg_.flow_capacity);
  pods_.store(std::make_shared<const PodTable>(), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

std::string Engine::set_local_pod(const LocalPod& pod, const std::vector<std::pair<uint8_t, Addr>>& addrs,
                                  bool antispoof) {
  std::lock_guard<std::mutex> g(apply_mu_);
  if (!cache_) return "the fast path is off";
  // Anti-spoofing entry and attachment first: the pod's flows are cached only once its
  // veth runs the program.
  std::string err = cache_->set_pod(pod, addrs, antispoof);
  publish_pods([&](PodTable& next) {
    next.erase_ifindex(pod.ifindex);
    if (err.empty())
      for (const auto& [family, a] : addrs) next.put(family, a, pod);
  });
  return err;
}

std::string Engine::delete_local_pod(uint32_t ifindex) {
  std::lock_guard<std::mutex> g(apply_mu_);
  if (!cache_) return "the fast path is off";
  publish_pods([&](PodTable& next) { next.erase_ifindex(ifindex); });
  return cache_->delete_pod(ifindex);
}

size_t Engine::set_masquerade_sources(const Addr* src4, const Addr* src6) {
  std::lock_guard<std::mutex> g(apply_mu_);
  auto cur = masq_.load(std::memory_order_acquire);
  auto next = std::make_shared<MasqConfig>(*cur);
  next->v4 = src4 != nullptr;
  next->src4 = src4 ? *src4 : Addr{};
  next->v6 = src6 != nullptr;
  next->src6 = src6 ? *src6 : Addr{};
  masq_.store(std::shared_ptr<const MasqConfig>(next), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_acq_rel);
  bool gone4 = cur->v4 && (!next->v4 || next->src4 != cur->src4);
  bool gone6 = cur->v6 && (!next->v6 || next->src6 != cur->src6);
  if (!gone4 && !gone6) return 0;
  // Egress-masqueraded flows: the source rewritten, the destination not (service flows
  // rewrite it; tracked flows rewrite nothing).
  size_t cut = flows_.cut_if([&](const FlowKey& k, const Translation& x) {
    if (k.proto == kAffinity || (x.rewrite & kRewriteDst) || !(x.rewrite & kRewriteSrc)) return false;
    return k.family == 4 ? gone4 && x.src == cur->src4 : gone6 && x.src == cur->src6;
  }, monotonic_ms());
  if (cut) sweep_cache();
  return cut;
}

std::string Engine::set_uplinks(const std::vector<Uplink>& uplinks) {
  std::lock_guard<std::mutex> g(apply_mu_);
  if (!cache_) return "the fast path is off";
  std::string err;
  publish_pods([&](PodTable& next) {
    std::vector<Uplink> attached;
    err = cache_->set_uplinks(uplinks, next.uplinks(), &attached);
    next.set_uplinks(std::move(attached));
  });
  return err;
}

std::string Engine::set_cluster_peers(std::vector<IpRange> v4, std::vector<IpRange> v6) {
  std::lock_guard<std::mutex> g(apply_mu_);
  if (!cache_) return "the fast path is off";
  publish_pods([&](PodTable& next) { next.set_peers(std::move(v4), std::move(v6)); });
  return "";
}

std::vector<const QueueCounters*> Engine::queue_counters() const {
  std::vector<const QueueCounters*> v;
  if (workers_)
    for (const auto& c : workers_->counters()) v.push_back(c.get());
  return v;
}

bool Engine::pause_threads_for_test(uint32_t ms) {
  if (!workers_) return false;
  workers_->pause_for(ms);
  return true;
}

}  // namespace podnet
