// Connection tracking: the flow table shared by all engine threads (see tables.h).
// Both directions of a flow are indexed so a reply found on any queue is reverse-NATed.
// Fixed arrays, no allocation after construction; a lookup copies what it needs under a
// stripe lock and releases it before any I/O.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <mutex>
#include <vector>

#include "events.h"
#include "net.h"

namespace podnet {

enum Dir : uint8_t { kForward = 0, kReverse = 1 };

// The state byte of a flow record. TCP: base state (TcpState) in the low nibble, FIN-seen
// bits above it. UDP: UdpState. Other protocols: always 0.
// kReset: the flow was cut (its backend left, or a policy no longer allows it) while the
// endpoints still think it is open. It stays indexed for tcp_close_ms from the cut so its
// next packet, from either side, is answered with a RST to both ends (pipeline.cc); the
// state is sticky: only the cut sets it and nothing but removal leaves it.
enum TcpState : uint8_t { kSynSent = 0, kEstablished = 1, kFinWait = 2, kTimeWait = 3, kClose = 4, kReset = 5 };
constexpr uint8_t kFinFwd = 0x10, kFinRev = 0x20, kStateMask = 0x0f;
enum UdpState : uint8_t { kUnreplied = 0, kReplied = 1 };

// conntrack-style name of a state byte ("ESTABLISHED", "REPLIED", ...), for podnetctl flows.
const char* flow_state_name(uint8_t proto, uint8_t state);

// Who owns a record (Record::in_use). Only kLive records are indexed and visible to scans.
//   kFree       on the free list
//   kLive       indexed; may be looked up, touched, released or cut
//   kReleasing  a release unlinks it; nothing else may touch it
//   kCutting    live but pinned while a cut marks it kReset: a release waits for kLive again
enum RecordUse : uint8_t { kFree = 0, kLive = 1, kReleasing = 2, kCutting = 3 };

struct Timeouts {
  uint32_t tcp_syn_ms = 60'000;
  uint32_t tcp_established_ms = 86'400'000;
  uint32_t tcp_fin_ms = 60'000;
  uint32_t tcp_time_wait_ms = 120'000;
  uint32_t tcp_close_ms = 10'000;
  uint32_t udp_ms = 30'000;
  uint32_t udp_stream_ms = 120'000;
  uint32_t icmp_ms = 30'000;
};

// What an entry writes into a matching packet: a new source and/or destination.
//   forward  dst -> backend (DNAT), plus src -> SNAT address when the flow is masqueraded
//   reverse  src -> VIP, plus dst -> the real client when the flow is masqueraded
struct Translation {
  Addr src;
  Addr dst;
  uint16_t sport;
  uint16_t dport;
  uint8_t rewrite;  // kRewriteSrc | kRewriteDst
};
constexpr uint8_t kRewriteSrc = 1, kRewriteDst = 2;

// A monitor event's backend (DNAT) and source NAT, from a flow's forward translation.
inline void event_translation(Event& e, const Translation& x) {
  if (x.rewrite & kRewriteDst) e.be = x.dst, e.be_port = x.dport, e.flags |= kEvBackend;
  if (x.rewrite & kRewriteSrc) e.snat = x.src, e.snat_port = x.sport, e.flags |= kEvSnat;
}

// What a lookup hands back: a private copy, valid after the lock is released.
struct FlowHit {
  Translation x;
  Dir dir;
  uint8_t state;
  uint8_t proto;
  uint32_t idx;
  uint32_t gen;
  uint32_t svc_slot;
  uint32_t be_slot;
  uint32_t extra_timeout_ms;  // affinity records: the service's timeout
  uint64_t last_ms;
};

struct NewFlow {
  FlowKey fwd;            // client -> VIP (or the affinity key)
  FlowKey rev;            // backend -> client, or -> the SNAT address (ignored when single)
  Translation fwd_x;
  Translation rev_x;
  uint32_t svc_slot;
  uint32_t be_slot;
  uint8_t state;
  bool single;            // only the forward key is indexed (affinity records)
  uint32_t extra_timeout_ms;
};

struct FlowTableStats {
  uint64_t active, capacity, created, expired, evicted;
};

class FlowTable {
 public:
  // Layout is public for for_each; treat as private.
  struct Entry {
    FlowKey key;
    Translation x;
    uint8_t linked;
    uint32_t next;
    uint64_t hash;
  };
  struct Record {
    std::atomic<uint64_t> last_ms;
    std::atomic<uint32_t> gen;
    std::atomic<uint8_t> state;
    std::atomic<uint8_t> in_use;  // RecordUse
    // Atomic (relaxed) because the GC and eviction scans read records that a queue may be
    // recycling at that moment; the gen check then discards what they read.
    std::atomic<uint8_t> proto;
    std::atomic<uint8_t> single;
    std::atomic<uint32_t> svc_slot;
    std::atomic<uint32_t> be_slot;
    std::atomic<uint32_t> extra_timeout_ms;
  };
  static_assert(sizeof(std::atomic<uint32_t>) == 4 && sizeof(std::atomic<uint8_t>) == 1, "Record is a file layout");
  // With a state_path the flow records live in that file (state_file.h), so they survive
  // the process: a restarted podnetd keeps every connection's backend and NAT state.
  FlowTable(uint32_t capacity, const Timeouts& t, const std::string& state_path = "");
  // True when the flows came from an existing state file.
  bool restored() const { return restored_; }
  // After a restart the counter slots of the new service table differ: fn maps a flow
  // (forward key, translation) to its new slots, or returns false to drop it.
  size_t rebind(const std::function<bool(const FlowKey&, const Translation&, uint32_t&, uint32_t&)>& fn);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Finds the entry for this exact key. Expired entries are reported as misses and removed.
  bool lookup(const FlowKey& k, uint64_t now_ms, FlowHit& out);
  // Inserts both directions. If another thread created the same forward key first, returns
  // that flow instead. False only when no record could be found even by eviction.
  bool insert(const NewFlow& f, uint64_t now_ms, FlowHit& out);
  // Records activity and advances the TCP/UDP state machine; ignored if the record was reused.
  // Never moves a flow out of kReset, even when the cut lands between lookup and touch.
  void touch(const FlowHit& h, uint8_t tcp_flags, uint64_t now_ms);
  // The record `idx` as a hit (dir kForward, no translation) if it is live with generation
  // `gen`; false once it was released or reused. For the kernel cache's sweep.
  bool peek(uint32_t idx, uint32_t gen, FlowHit& out) const;
  void remove(uint32_t idx, uint32_t gen, FlowEnd why = FlowEnd::expired);
  // Removes expired records; returns how many.
  size_t expire(uint64_t now_ms);
  // Cuts every flow whose backend slot is flagged in `be_slots` (size = slot capacity).
  // Cutting: a TCP flow is marked kReset (its endpoints get RSTs on its next packet, the GC
  // removes it tcp_close_ms after now_ms); any other flow is removed at once. Returns how many.
  size_t purge_backends(const std::vector<uint8_t>& be_slots, uint64_t now_ms);
  // Cuts (as above) every flow for which fn(forward key, forward translation) is true.
  size_t cut_if(const std::function<bool(const FlowKey&, const Translation&)>& fn, uint64_t now_ms);
  FlowTableStats stats() const;
  // Flows that end are reported to `m` while a monitor is attached (events.h).
  void set_monitor(Monitor* m) { monitor_ = m; }
  uint32_t timeout_ms(uint8_t proto, uint8_t state, uint32_t extra) const;

  template <typename F>
  void for_each(F&& fn) const;  // fn(const FlowKey& fwd, const Translation& fx, state, last_ms, proto, single, idx, gen)

 private:
  void rebuild_index();
  uint32_t alloc(uint64_t now_ms);
  void link(uint32_t e);
  void unlink(uint32_t e);
  bool expired(const Record& r, uint64_t now_ms) const;
  // The record's state, protocol, slots, timeout and last-seen into a hit.
  static void read_record(const Record& r, FlowHit& out);
  bool try_release(uint32_t idx, uint32_t gen, FlowEnd why = FlowEnd::expired);
  // The record is pinned (kReleasing, kCutting) by the caller.
  void report_end(uint32_t idx, FlowEnd why) const;
  bool cut(uint32_t idx, uint32_t gen, uint64_t now_ms);
  void lock(uint32_t stripe);
  void unlock(uint32_t stripe);
  // The lock must follow the bucket: every entry of one chain takes the same stripe, or two
  // threads could relink one chain under different locks.
  uint32_t stripe_of(uint64_t h) const { return uint32_t(h & bucket_mask_) & (kStripes - 1); }

  static constexpr uint32_t kStripes = 4096;
  static constexpr uint32_t kNil = 0xffffffffu;

  uint32_t capacity_;
  uint64_t bucket_mask_;
  Timeouts t_;
  Entry* entries_;
  Record* records_;
  std::atomic<uint32_t>* buckets_;
  std::atomic<uint8_t>* locks_;
  std::mutex alloc_mu_;
  std::vector<uint32_t> free_;
  uint32_t clock_hand_ = 0;
  std::atomic<uint64_t> active_{0}, created_{0}, expired_{0}, evicted_{0};
  void* state_map_ = nullptr;
  size_t state_bytes_ = 0;
  bool restored_ = false;
  Monitor* monitor_ = nullptr;

};

template <typename F>
void FlowTable::for_each(F&& fn) const {
  for (uint32_t i = 0; i < capacity_; i++) {
    const Record& r = records_[i];
    if (r.in_use.load(std::memory_order_acquire) != kLive) continue;
    const Entry& e = entries_[2 * i];
    fn(e.key, e.x, r.state.load(std::memory_order_relaxed), r.last_ms.load(std::memory_order_relaxed),
       r.proto.load(std::memory_order_relaxed), r.single.load(std::memory_order_relaxed) != 0, i,
       r.gen.load(std::memory_order_relaxed));
  }
}

}  // namespace podnet
