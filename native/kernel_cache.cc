// The engine's side of the kernel flow cache; see kernel_cache.h.
#include "kernel_cache.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "engine.h"
#include "fastpath/embedded.h"
#include "new_flow.h"
#include "pipeline.h"

namespace podnet {

namespace {

std::string failed(const fastpath::Status& s) { return s.ok() ? std::string() : s.message; }

podnet_flow_key cache_key(const FlowKey& k, uint32_t ifindex) {
  return fastpath::MakeFlowKey(k.family, k.proto, k.src.b, k.dst.b, htons(k.sport), htons(k.dport), ifindex);
}

// One direction entering at `in`, translated by `x`; its delivery is set by the caller.
fastpath::FlowEntry translated(const FlowKey& k, const Translation& x, uint32_t in, uint64_t flow_id) {
  fastpath::FlowEntry e;
  e.key = cache_key(k, in);
  std::memset(&e.value, 0, sizeof e.value);
  podnet_flow_value& v = e.value;
  if (x.rewrite & kRewriteSrc) {
    std::memcpy(v.new_saddr, x.src.b, 16);
    v.new_sport = htons(x.sport);
    v.rewrite |= PODNET_RW_SADDR | PODNET_RW_SPORT;
  }
  if (x.rewrite & kRewriteDst) {
    std::memcpy(v.new_daddr, x.dst.b, 16);
    v.new_dport = htons(x.dport);
    v.rewrite |= PODNET_RW_DADDR | PODNET_RW_DPORT;
  }
  v.flow_id = flow_id;
  return e;
}

// Delivery straight into the pod `to` (redirect_peer), addressed from its gateway.
void to_pod(podnet_flow_value& v, const LocalPod& to) {
  v.rewrite |= PODNET_RW_MACS;
  std::memcpy(v.dst_mac, to.mac, 6);
  std::memcpy(v.src_mac, to.gw_mac, 6);
  v.action = PODNET_ACT_REDIRECT_PEER;
  v.target_ifindex = to.ifindex;
}

// Off-node delivery wherever the kernel's FIB routes the translated packet, within `mtu`.
void off_node(podnet_flow_value& v, uint32_t mtu) {
  v.action = PODNET_ACT_REDIRECT_FIB;
  v.target_ifindex = 0;
  v.mtu = uint16_t(std::min<uint32_t>(mtu, 0xffff));
}

// A TCP flow that is over or both of whose ends sent FIN: never cached again.
bool closing(const FlowHit& h) {
  uint8_t base = h.state & kStateMask;
  return h.proto == kTCP && (base == kReset || base == kTimeWait || base == kClose ||
                             (h.state & (kFinFwd | kFinRev)) == (kFinFwd | kFinRev));
}

bool same_translation(const Translation& a, const Translation& b) {
  return a.rewrite == b.rewrite && a.src == b.src && a.dst == b.dst && a.sport == b.sport && a.dport == b.dport;
}

}  // namespace

KernelCache::KernelCache(const KernelCacheOptions& o, uint32_t flow_capacity)
    : force_clsact_(o.force_clsact),
      marks_(new Mark[size_t(flow_capacity) * 2]),
      cached_(new std::atomic<uint32_t>[flow_capacity]()),
      capacity_(flow_capacity) {
  fastpath::LoaderOptions lo;
  if (o.object_path.empty()) {
    lo.object.data = fastpath::kEmbeddedObject;
    lo.object.size = fastpath::kEmbeddedObjectSize;
  } else {
    lo.object.path = o.object_path;
  }
  lo.pin_root = o.pin_root;
  lo.flows_max = o.flows_max;
  fastpath::Status s = fastpath::Loader::Open(lo, &loader_, &report_);
  if (!s.ok()) throw EngineError("ENGINE_FAST_PATH", "kernel flow cache: " + s.message);
  maps_ = std::make_unique<fastpath::FlowCacheMaps>(*loader_);
  sweeper_ = std::make_unique<fastpath::FlowCacheMaps>(*loader_);
}

KernelCache::~KernelCache() = default;

size_t cache_entries(const FlowPlan& plan, const FlowHit& hit, CacheEntries& e) {
  const CacheRoute& r = plan.cache;
  uint64_t fwd_id = cache_flow_id(hit.idx, hit.gen, kForward), rev_id = cache_flow_id(hit.idx, hit.gen, kReverse);
  size_t n = 0;
  if (r.client && r.server) {
    e[n] = translated(plan.flow.fwd, plan.flow.fwd_x, r.client->ifindex, fwd_id);
    to_pod(e[n++].value, *r.server);
    e[n] = translated(plan.flow.rev, plan.flow.rev_x, r.server->ifindex, rev_id);
    to_pod(e[n++].value, *r.client);
    return n;
  }
  if (r.passing_through()) {
    // Neither end here: each direction may enter by any uplink and leaves by the FIB's route,
    // possibly by the uplink it came in on.
    auto through = [&](const FlowKey& k, const Translation& x, uint32_t in, uint64_t id) {
      e[n] = translated(k, x, in, id);
      off_node(e[n].value, r.uplinks->uplink_mtu());
      e[n++].value.flags |= PODNET_FLOW_HAIRPIN;
    };
    for (const Uplink& u : r.uplinks->uplinks()) {
      if (n + 2 > e.size()) break;
      through(plan.flow.fwd, plan.flow.fwd_x, u.ifindex, fwd_id);
      through(plan.flow.rev, plan.flow.rev_x, u.ifindex, rev_id);
    }
    return n;
  }
  // One end off-node: the direction towards this node's pod may enter by any uplink, so one
  // entry each; the other leaves the pod's veth for the FIB's route.
  const LocalPod& pod = r.server ? *r.server : *r.client;
  const FlowKey& in_key = r.server ? plan.flow.fwd : plan.flow.rev;
  const FlowKey& out_key = r.server ? plan.flow.rev : plan.flow.fwd;
  const Translation& in_x = r.server ? plan.flow.fwd_x : plan.flow.rev_x;
  const Translation& out_x = r.server ? plan.flow.rev_x : plan.flow.fwd_x;
  uint64_t in_id = r.server ? fwd_id : rev_id, out_id = r.server ? rev_id : fwd_id;
  for (const Uplink& u : r.uplinks->uplinks()) {
    if (n == kMaxUplinks) break;
    e[n] = translated(in_key, in_x, u.ifindex, in_id);
    to_pod(e[n++].value, pod);
  }
  e[n] = translated(out_key, out_x, pod.ifindex, out_id);
  off_node(e[n++].value, r.uplinks->uplink_mtu());
  return n;
}

static_assert(std::tuple_size_v<CacheEntries> <= fastpath::FlowCacheMaps::kMaxInstall, "one flow, one batch");

void KernelCache::install(const FlowPlan& plan, const FlowHit& hit) {
  // Another thread created this flow first (a retransmitted first packet on another queue):
  // its own commit caches it.
  if (hit.dir != kForward || !same_translation(hit.x, plan.flow.fwd_x)) return;
  CacheEntries e;
  size_t n = cache_entries(plan, hit, e);
  if (maps_->InstallFlows(e.data(), n) == 0) {
    installs_.fetch_add(1, std::memory_order_relaxed);
    if (hit.idx < capacity_) cached_[hit.idx].store(hit.gen + 1, std::memory_order_relaxed);
  } else {
    install_errors_.fetch_add(1, std::memory_order_relaxed);  // map full: the TUN path carries it
  }
}

void KernelCache::forget(const FlowKey& fwd, const FlowHit& hit, const PodTable& pods) {
  if (!cached(hit.idx, hit.gen)) return;
  // The reverse key as commit_new_flow indexed it: from the server to the client, or to the
  // SNAT address when the source was translated.
  FlowKey rev = fwd;
  rev.src = (hit.x.rewrite & kRewriteDst) ? hit.x.dst : fwd.dst;
  rev.sport = (hit.x.rewrite & kRewriteDst) ? hit.x.dport : fwd.dport;
  rev.dst = (hit.x.rewrite & kRewriteSrc) ? hit.x.src : fwd.src;
  rev.dport = (hit.x.rewrite & kRewriteSrc) ? hit.x.sport : fwd.sport;
  // Where cache_entries put each direction: at its pod's veth, or with that end off-node at
  // every uplink.
  size_t n = 0;
  auto drop = [&](const FlowKey& k, const LocalPod* pod) {
    if (pod) {
      if (maps_->DeleteKey(cache_key(k, pod->ifindex)) == 0) n++;
      return;
    }
    for (const Uplink& u : pods.uplinks())
      if (maps_->DeleteKey(cache_key(k, u.ifindex)) == 0) n++;
  };
  drop(fwd, pods.find(fwd.family, fwd.src));
  drop(rev, pods.find(fwd.family, rev.src));
  removed_.fetch_add(n, std::memory_order_relaxed);
  uint32_t want = hit.gen + 1;
  cached_[hit.idx].compare_exchange_strong(want, 0, std::memory_order_relaxed);
}

size_t KernelCache::sweep(FlowTable& flows, const PipelineEnv& env, const PodTable& pods, uint64_t now_ms) {
  std::lock_guard<std::mutex> g(sweep_mu_);
  if (sweeper_->Sweep(&swept_) != 0) {
    sweep_errors_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  veths_.clear();
  pods.for_each([&](uint8_t, const Addr&, const LocalPod& pod) { veths_.insert(pod.ifindex); });
  uplinks_.clear();
  for (const Uplink& u : pods.uplinks()) uplinks_.insert(u.ifindex);
  // The forward direction of a flow from off-node has one entry per uplink under one flow id:
  // their stats are summed, and the record takes the sum once.
  by_uplink_.clear();
  for (const fastpath::SweptFlow& s : swept_) {
    if (!uplinks_.count(s.key.ifindex)) continue;
    auto [it, fresh] = by_uplink_.try_emplace(s.flow_id);
    fastpath::SweptFlow& sum = it->second.sum;
    if (fresh) {
      sum = s;
      continue;
    }
    sum.packets += s.packets;
    sum.bytes += s.bytes;
    sum.tcp_flags |= s.tcp_flags;
    sum.last_seen_ns = std::max(sum.last_seen_ns, s.last_seen_ns);
  }
  size_t deleted = 0;
  for (const fastpath::SweptFlow& entry : swept_) {
    Dir dir = (entry.flow_id >> 63) ? kReverse : kForward;
    uint32_t idx = uint32_t(entry.flow_id >> 32) & 0x7fffffffu;
    uint32_t gen = uint32_t(entry.flow_id);
    FlowHit h;
    // An entry lives while it enters by a known veth or uplink and goes to a known veth (or
    // off-node: target 0) and its record lives.
    bool in_known = veths_.count(entry.key.ifindex) || uplinks_.count(entry.key.ifindex);
    bool out_known = entry.target_ifindex == 0 || veths_.count(entry.target_ifindex);
    bool keep = idx < capacity_ && in_known && out_known && flows.peek(idx, gen, h);
    const fastpath::SweptFlow* sp = &entry;
    bool account = true;
    if (keep && uplinks_.count(entry.key.ifindex)) {
      UplinkSum& u = by_uplink_[entry.flow_id];
      account = !u.taken;
      u.taken = true;
      sp = &u.sum;
    }
    const fastpath::SweptFlow& s = *sp;
    if (keep && account) {
      h.dir = dir;
      Mark& m = marks_[size_t(idx) * 2 + dir];
      if (m.gen != gen || s.packets < m.packets) m = Mark{gen, 0, 0};
      uint64_t dp = s.packets - m.packets, db = s.bytes - m.bytes;
      // A FIN this direction's entry forwarded that the record has not taken yet: taken even
      // when the other direction's later packets already moved the record's clock past this
      // entry's last hit (the last ACK after both FINs), or the close would never be seen.
      bool fin = (s.tcp_flags & kTcpFin) && !(h.state & (dir == kForward ? kFinFwd : kFinRev));
      if (dp || fin) {
        // Hits since the last sweep: the record's clock follows the cache's traffic (never
        // backwards: a whole short connection can fit in the millisecond of its SYN), and
        // what the program forwarded advances the TCP state like packets the engine saw: a
        // reverse hit (the SYN-ACK) establishes, a FIN closes.
        uint64_t seen_ms = std::min(s.last_seen_ns / 1'000'000, now_ms);
        flows.touch(h, fin ? kTcpFin : 0, std::max(seen_ms, h.last_ms));
        flows.peek(idx, gen, h);
        h.dir = dir;
      }
      if (dp) {
        if (h.svc_slot < env.svc_capacity) env.svc_counters[h.svc_slot].add_n(dp, db);
        if (h.be_slot < env.be_capacity) env.be_counters[h.be_slot].add_n(dp, db);
        m.packets = s.packets;
        m.bytes = s.bytes;
      }
    }
    if (keep && !closing(h)) continue;
    doomed_.push_back(entry.key);
    if (idx < capacity_) {
      uint32_t want = gen + 1;
      cached_[idx].compare_exchange_strong(want, 0, std::memory_order_relaxed);
    }
  }
  // In one batch: a connection-rate load closes thousands of flows a second.
  if (maps_->DeleteKeys(doomed_.data(), doomed_.size(), &deleted) != 0) sweep_errors_.fetch_add(1, std::memory_order_relaxed);
  doomed_.clear();
  sweeps_.fetch_add(1, std::memory_order_relaxed);
  entries_.store(swept_.size() - deleted, std::memory_order_relaxed);
  removed_.fetch_add(deleted, std::memory_order_relaxed);
  return deleted;
}

std::string KernelCache::set_pod(const LocalPod& pod, const std::vector<std::pair<uint8_t, Addr>>& addrs,
                                 bool antispoof) {
  // Anti-spoofing before the program can see the pod's packets; without it, no entry (the
  // program polices only veths that have one), and none left from an earlier set_pod.
  if (antispoof) {
    podnet_pod_addrs pa;
    std::memset(&pa, 0, sizeof pa);
    std::memcpy(pa.mac, pod.mac, 6);
    for (const auto& [family, a] : addrs) {
      if (family == 4 && pa.n_v4 < PODNET_POD_MAX_V4) std::memcpy(pa.v4[pa.n_v4++], a.b, 4);
      else if (family == 6 && pa.n_v6 < PODNET_POD_MAX_V6) std::memcpy(pa.v6[pa.n_v6++], a.b, 16);
      else return "more addresses of one family than the kernel cache holds";
    }
    if (int rc = maps_->SetPod(pod.ifindex, pa); rc != 0)
      return failed(fastpath::Status::Errno(rc, "anti-spoofing entry of ifindex " + std::to_string(pod.ifindex)));
  } else if (int rc = maps_->DeletePod(pod.ifindex); rc != 0) {
    return failed(fastpath::Status::Errno(rc, "stale anti-spoofing entry of ifindex " + std::to_string(pod.ifindex)));
  }
  fastpath::AttachOptions ao;
  ao.force_clsact = force_clsact_;
  fastpath::AttachMode mode = fastpath::AttachMode::kNone;
  std::string err = failed(loader_->Attach(pod.ifindex, ao, &mode));
  if (err.empty()) mode_.store(mode);
  return err;
}

std::string KernelCache::delete_pod(uint32_t ifindex) {
  size_t n = 0;
  int rc = maps_->FlushIfindex(ifindex, &n);
  removed_.fetch_add(n, std::memory_order_relaxed);
  std::string err = failed(loader_->Detach(ifindex));
  if (rc != 0 && err.empty()) err = failed(fastpath::Status::Errno(rc, "flush of ifindex " + std::to_string(ifindex)));
  return err;
}

std::string KernelCache::set_uplinks(const std::vector<Uplink>& want, const std::vector<Uplink>& had,
                                     std::vector<Uplink>* attached) {
  std::string err;
  auto note = [&](const std::string& e) {
    if (err.empty()) err = e;
  };
  for (const Uplink& u : had) {
    if (std::any_of(want.begin(), want.end(), [&](const Uplink& w) { return w.ifindex == u.ifindex; })) continue;
    size_t n = 0;
    if (int rc = maps_->FlushIfindex(u.ifindex, &n); rc != 0)
      note(failed(fastpath::Status::Errno(rc, "flush of uplink ifindex " + std::to_string(u.ifindex))));
    removed_.fetch_add(n, std::memory_order_relaxed);
    note(failed(loader_->Detach(u.ifindex)));
  }
  fastpath::AttachOptions ao;
  ao.force_clsact = force_clsact_;
  for (const Uplink& u : want) {
    if (attached->size() == kMaxUplinks) {
      note("more than " + std::to_string(kMaxUplinks) + " uplinks: the others stay on the TUN path");
      break;
    }
    fastpath::AttachMode mode = fastpath::AttachMode::kNone;
    std::string e = failed(loader_->Attach(u.ifindex, ao, &mode));
    if (!e.empty()) {
      note("uplink ifindex " + std::to_string(u.ifindex) + ": " + e);
      continue;
    }
    mode_.store(mode);
    attached->push_back(u);
  }
  return err;
}

std::string KernelCache::remove_all() { return failed(loader_->RemoveAll()); }

KernelCacheStats KernelCache::stats() const {
  KernelCacheStats s;
  s.installs = installs_.load(std::memory_order_relaxed);
  s.install_errors = install_errors_.load(std::memory_order_relaxed);
  s.removed = removed_.load(std::memory_order_relaxed);
  s.sweeps = sweeps_.load(std::memory_order_relaxed);
  s.entries = entries_.load(std::memory_order_relaxed);
  s.sweep_errors = sweep_errors_.load(std::memory_order_relaxed);
  s.program_error = maps_->ReadStats(&s.program);
  return s;
}

}  // namespace podnet
