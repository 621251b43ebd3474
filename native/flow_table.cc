// Connection tracking; see flow_table.h and tables.h.
#include "flow_table.h"

#include "state_file.h"

#include <sys/mman.h>

#include <cstring>

#include <new>
#include <stdexcept>

#if defined(__x86_64__)
#include <immintrin.h>
#define PODNET_PAUSE() _mm_pause()
#else
#define PODNET_PAUSE() ((void)0)
#endif

namespace podnet {

namespace {

// Zeroed pages from the kernel, touched lazily: a 1M-flow table costs nothing until used.
template <typename T>
T* map_array(size_t n) {
  void* p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<T*>(p);
}

template <typename T>
void unmap_array(T* p, size_t n) {
  if (p) munmap(p, n * sizeof(T));
}

uint64_t round_pow2(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

uint8_t next_tcp_state(uint8_t s, Dir dir, uint8_t flags) {
  constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
  uint8_t base = s & kStateMask;
  uint8_t fins = s & (kFinFwd | kFinRev);
  if (base == kReset) return s;  // only removal ends a cut flow
  if (flags & kRst) return kClose;
  if ((flags & kSyn) && !(flags & kAck) && dir == kForward && (base == kTimeWait || base == kClose))
    return kSynSent;  // port reuse after close
  if (flags & kFin) fins |= dir == kForward ? kFinFwd : kFinRev;
  if (base == kSynSent && dir == kReverse) base = kEstablished;
  if (base == kClose) return s;
  if (fins == (kFinFwd | kFinRev)) base = kTimeWait;
  else if (fins) base = kFinWait;
  return uint8_t(base | fins);
}

}  // namespace

const char* flow_state_name(uint8_t proto, uint8_t s) {
  if (proto != kTCP) return s == kReplied ? "REPLIED" : "UNREPLIED";
  switch (s & kStateMask) {
    case kSynSent: return "SYN_SENT";
    case kEstablished: return "ESTABLISHED";
    case kFinWait: return "FIN_WAIT";
    case kTimeWait: return "TIME_WAIT";
    case kReset: return "RESET";
    default: return "CLOSE";
  }
}

FlowTable::FlowTable(uint32_t capacity, const Timeouts& t, const std::string& state_path)
    : capacity_(capacity), t_(t) {
  if (capacity == 0 || capacity > (1u << 30)) throw std::invalid_argument("flowCapacity out of range");
  uint64_t nb = round_pow2(uint64_t(capacity) * 2);
  bucket_mask_ = nb - 1;
  if (state_path.empty()) {
    entries_ = map_array<Entry>(size_t(capacity) * 2);
    records_ = map_array<Record>(capacity);
  } else {
    StateFile f = map_state_file(state_path, capacity, sizeof(Record), sizeof(Entry));
    state_map_ = f.base;
    state_bytes_ = f.bytes;
    records_ = static_cast<Record*>(f.records);
    entries_ = static_cast<Entry*>(f.entries);
    restored_ = f.restored;
  }
  buckets_ = map_array<std::atomic<uint32_t>>(nb);
  locks_ = map_array<std::atomic<uint8_t>>(kStripes);
  for (uint64_t i = 0; i < nb; i++) buckets_[i].store(kNil, std::memory_order_relaxed);
  free_.reserve(capacity);
  rebuild_index();
}

void FlowTable::rebuild_index() {
  for (uint32_t i = capacity_; i-- > 0;) {
    Record& r = records_[i];
    uint8_t in_use = r.in_use.load(std::memory_order_relaxed);
    if (in_use == kLive || in_use == kCutting) {  // kCutting: killed while marking a cut, which is complete or moot
      r.in_use.store(kLive, std::memory_order_relaxed);
      entries_[2 * i].linked = 0;
      entries_[2 * i + 1].linked = 0;
      link(2 * i);
      if (!r.single.load(std::memory_order_relaxed)) link(2 * i + 1);
      active_.fetch_add(1, std::memory_order_relaxed);
    } else {
      r.in_use.store(kFree, std::memory_order_relaxed);
      free_.push_back(i);
    }
  }
}

size_t FlowTable::rebind(const std::function<bool(const FlowKey&, const Translation&, uint32_t&, uint32_t&)>& fn) {
  size_t dropped = 0;
  for (uint32_t i = 0; i < capacity_; i++) {
    Record& r = records_[i];
    if (r.in_use.load(std::memory_order_acquire) != kLive) continue;
    uint32_t svc = 0, be = 0;
    if (fn(entries_[2 * i].key, entries_[2 * i].x, svc, be)) {
      r.svc_slot.store(svc, std::memory_order_relaxed);
      r.be_slot.store(be, std::memory_order_relaxed);
    } else if (try_release(i, r.gen.load(std::memory_order_acquire), FlowEnd::cut)) {
      dropped++;
    }
  }
  return dropped;
}

FlowTable::~FlowTable() {
  if (state_map_) {
    munmap(state_map_, state_bytes_);
  } else {
    unmap_array(entries_, size_t(capacity_) * 2);
    unmap_array(records_, capacity_);
  }
  unmap_array(buckets_, bucket_mask_ + 1);
  unmap_array(locks_, kStripes);
}

void FlowTable::lock(uint32_t s) {
  while (locks_[s].exchange(1, std::memory_order_acquire)) {
    while (locks_[s].load(std::memory_order_relaxed)) PODNET_PAUSE();
  }
}

void FlowTable::unlock(uint32_t s) { locks_[s].store(0, std::memory_order_release); }

uint32_t FlowTable::timeout_ms(uint8_t proto, uint8_t state, uint32_t extra) const {
  switch (proto) {
    case kTCP:
      switch (state & kStateMask) {
        case kSynSent: return t_.tcp_syn_ms;
        case kEstablished: return t_.tcp_established_ms;
        case kFinWait: return t_.tcp_fin_ms;
        case kTimeWait: return t_.tcp_time_wait_ms;
        default: return t_.tcp_close_ms;
      }
    case kUDP: return state == kReplied ? t_.udp_stream_ms : t_.udp_ms;
    case kAffinity: return extra;
    default: return t_.icmp_ms;
  }
}

bool FlowTable::expired(const Record& r, uint64_t now_ms) const {
  // State first (acquire, paired with the cut's release): a reader that sees kReset also
  // sees the cut's last_ms, so the GC never judges a fresh cut by the flow's old idle time.
  uint8_t state = r.state.load(std::memory_order_acquire);
  uint64_t last = r.last_ms.load(std::memory_order_relaxed);
  return now_ms > last &&
         now_ms - last > timeout_ms(r.proto.load(std::memory_order_relaxed), state,
                                       r.extra_timeout_ms.load(std::memory_order_relaxed));
}

void FlowTable::link(uint32_t e) {
  Entry& en = entries_[e];
  uint64_t b = en.hash & bucket_mask_;
  en.next = buckets_[b].load(std::memory_order_relaxed);
  en.linked = 1;
  buckets_[b].store(e, std::memory_order_release);
}

void FlowTable::unlink(uint32_t e) {
  Entry& en = entries_[e];
  if (!en.linked) return;
  uint64_t b = en.hash & bucket_mask_;
  uint32_t cur = buckets_[b].load(std::memory_order_relaxed);
  if (cur == e) {
    buckets_[b].store(en.next, std::memory_order_release);
  } else {
    while (cur != kNil && entries_[cur].next != e) cur = entries_[cur].next;
    if (cur != kNil) entries_[cur].next = en.next;
  }
  en.linked = 0;
}

bool FlowTable::lookup(const FlowKey& k, uint64_t now_ms, FlowHit& out) {
  uint64_t h = hash_key(k);
  uint32_t s = stripe_of(h);
  lock(s);
  uint32_t e = buckets_[h & bucket_mask_].load(std::memory_order_acquire);
  while (e != kNil && !(entries_[e].hash == h && entries_[e].key == k)) e = entries_[e].next;
  if (e == kNil) {
    unlock(s);
    return false;
  }
  // The record is read under the stripe lock: it cannot be released (which unlinks this entry
  // under the same lock first) and reused meanwhile, so translation, gen and slots agree.
  uint32_t idx = e >> 1;
  const Record& r = records_[idx];
  out.x = entries_[e].x;
  out.dir = Dir(e & 1);
  out.idx = idx;
  out.gen = r.gen.load(std::memory_order_acquire);
  read_record(r, out);
  bool gone = expired(r, now_ms);
  unlock(s);
  if (gone) {
    if (try_release(idx, out.gen)) expired_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

// Takes a record off the free list, or evicts one: the first expired record the clock
// hand meets, else the least recently seen of the records it scanned.
uint32_t FlowTable::alloc(uint64_t now_ms) {
  {
    std::lock_guard<std::mutex> g(alloc_mu_);
    if (!free_.empty()) {
      uint32_t idx = free_.back();
      free_.pop_back();
      return idx;
    }
  }
  constexpr int kScan = 64;
  for (int attempt = 0; attempt < 4; attempt++) {
    uint32_t victim = kNil;
    uint64_t oldest = UINT64_MAX;
    bool victim_expired = false;
    {
      std::lock_guard<std::mutex> g(alloc_mu_);
      for (int i = 0; i < kScan; i++) {
        uint32_t idx = clock_hand_;
        clock_hand_ = (clock_hand_ + 1) % capacity_;
        const Record& r = records_[idx];
        if (r.in_use.load(std::memory_order_acquire) != kLive) continue;
        if (expired(r, now_ms)) { victim = idx; victim_expired = true; break; }
        uint64_t last = r.last_ms.load(std::memory_order_relaxed);
        if (last < oldest) { oldest = last; victim = idx; }
      }
    }
    if (victim == kNil) continue;
    if (try_release(victim, records_[victim].gen.load(std::memory_order_acquire),
                    victim_expired ? FlowEnd::expired : FlowEnd::evicted)) {
      (victim_expired ? expired_ : evicted_).fetch_add(1, std::memory_order_relaxed);
      std::lock_guard<std::mutex> g(alloc_mu_);
      // try_release pushed it on the free list; take it back.
      if (!free_.empty()) {
        uint32_t idx = free_.back();
        free_.pop_back();
        return idx;
      }
    }
  }
  return kNil;
}

bool FlowTable::insert(const NewFlow& f, uint64_t now_ms, FlowHit& out) {
  uint32_t idx = alloc(now_ms);
  if (idx == kNil) return false;
  Record& r = records_[idx];
  Entry& ef = entries_[2 * idx];
  Entry& er = entries_[2 * idx + 1];
  ef.key = f.fwd;
  ef.x = f.fwd_x;
  ef.hash = hash_key(f.fwd);
  ef.linked = 0;
  er.key = f.rev;
  er.x = f.rev_x;
  er.hash = hash_key(f.rev);
  er.linked = 0;
  r.proto.store(f.fwd.proto, std::memory_order_relaxed);
  r.single.store(f.single, std::memory_order_relaxed);
  r.svc_slot.store(f.svc_slot, std::memory_order_relaxed);
  r.be_slot.store(f.be_slot, std::memory_order_relaxed);
  r.extra_timeout_ms.store(f.extra_timeout_ms, std::memory_order_relaxed);
  r.state.store(f.state, std::memory_order_relaxed);
  r.last_ms.store(now_ms, std::memory_order_relaxed);
  uint32_t gen = r.gen.load(std::memory_order_relaxed);

  uint32_t s = stripe_of(ef.hash);
  lock(s);
  uint32_t e = buckets_[ef.hash & bucket_mask_].load(std::memory_order_relaxed);
  while (e != kNil && !(entries_[e].hash == ef.hash && entries_[e].key == ef.key)) e = entries_[e].next;
  if (e != kNil) {
    // Another queue created this flow first (e.g. a retransmitted SYN): use theirs.
    unlock(s);
    {
      std::lock_guard<std::mutex> g(alloc_mu_);
      free_.push_back(idx);
    }
    return lookup(f.fwd, now_ms, out);
  }
  link(2 * idx);
  if (!f.single) {
    uint32_t s2 = stripe_of(er.hash);
    if (s2 != s) {
      unlock(s);
      lock(s2);
    }
    link(2 * idx + 1);
    s = s2;
  }
  unlock(s);
  // Published only now that both directions are linked: a record can be released (expiry,
  // eviction, purge) only when in_use is kLive, and a release between the two links would leave
  // the reverse entry linked in a chain while its record is recycled — a corrupted chain.
  r.in_use.store(kLive, std::memory_order_release);
  active_.fetch_add(1, std::memory_order_relaxed);
  created_.fetch_add(1, std::memory_order_relaxed);
  out.x = f.fwd_x;
  out.dir = kForward;
  out.idx = idx;
  out.gen = gen;
  out.state = f.state;
  out.proto = f.fwd.proto;
  out.svc_slot = f.svc_slot;
  out.be_slot = f.be_slot;
  out.extra_timeout_ms = f.extra_timeout_ms;
  out.last_ms = now_ms;
  return true;
}

void FlowTable::read_record(const Record& r, FlowHit& out) {
  out.state = r.state.load(std::memory_order_relaxed);
  out.proto = r.proto.load(std::memory_order_relaxed);
  out.svc_slot = r.svc_slot.load(std::memory_order_relaxed);
  out.be_slot = r.be_slot.load(std::memory_order_relaxed);
  out.extra_timeout_ms = r.extra_timeout_ms.load(std::memory_order_relaxed);
  out.last_ms = r.last_ms.load(std::memory_order_relaxed);
}

bool FlowTable::peek(uint32_t idx, uint32_t gen, FlowHit& out) const {
  if (idx >= capacity_) return false;
  const Record& r = records_[idx];
  if (r.in_use.load(std::memory_order_acquire) != kLive || r.gen.load(std::memory_order_acquire) != gen) return false;
  out = FlowHit{};
  out.dir = kForward;
  out.idx = idx;
  out.gen = gen;
  read_record(r, out);
  // Read gen again: a release between the loads would have bumped it.
  return r.gen.load(std::memory_order_acquire) == gen;
}

void FlowTable::touch(const FlowHit& h, uint8_t tcp_flags, uint64_t now_ms) {
  Record& r = records_[h.idx];
  if (r.gen.load(std::memory_order_relaxed) != h.gen) return;
  if (h.last_ms != now_ms) r.last_ms.store(now_ms, std::memory_order_relaxed);
  uint8_t s = h.state, ns = s;
  if (h.proto == kTCP) ns = next_tcp_state(s, h.dir, tcp_flags);
  else if (h.proto == kUDP && h.dir == kReverse) ns = kReplied;
  // A CAS, not a store: a cut (kReset) landing after our lookup must not be overwritten by
  // the state this packet computed from the older one. Losing a race with another touch
  // costs one transition, which that packet's flow will see again on its next segment.
  if (ns != s) r.state.compare_exchange_strong(s, ns, std::memory_order_relaxed);
}

bool FlowTable::try_release(uint32_t idx, uint32_t gen, FlowEnd why) {
  Record& r = records_[idx];
  uint8_t live = kLive;
  if (r.gen.load(std::memory_order_acquire) != gen) return false;
  if (!r.in_use.compare_exchange_strong(live, kReleasing, std::memory_order_acq_rel)) return false;
  if (monitor_ && monitor_->on()) report_end(idx, why);
  for (uint32_t e = 2 * idx; e < 2 * idx + 2; e++) {
    uint32_t s = stripe_of(entries_[e].hash);
    lock(s);
    unlink(e);
    unlock(s);
  }
  r.gen.fetch_add(1, std::memory_order_acq_rel);
  r.in_use.store(kFree, std::memory_order_release);
  active_.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> g(alloc_mu_);
  free_.push_back(idx);
  return true;
}

void FlowTable::remove(uint32_t idx, uint32_t gen, FlowEnd why) {
  if (idx < capacity_) try_release(idx, gen, why);
}

size_t FlowTable::expire(uint64_t now_ms) {
  size_t n = 0;
  for (uint32_t i = 0; i < capacity_; i++) {
    Record& r = records_[i];
    // gen first: if the record is recycled after we judged it, try_release refuses.
    uint32_t gen = r.gen.load(std::memory_order_acquire);
    if (r.in_use.load(std::memory_order_acquire) != kLive || !expired(r, now_ms)) continue;
    if (try_release(i, gen)) n++;
  }
  expired_.fetch_add(n, std::memory_order_relaxed);
  return n;
}

// Cuts one flow a control-plane scan picked: a TCP flow is marked kReset, any other removed.
// kLive -> kCutting pins the record while it is marked: a release needs kLive, so nothing
// recycles it under us and the gen check stays true; scans skip kCutting as they skip kReleasing. Marking in place
// (not unlinking) is what lets the flow's next packet find it. False if the record was
// recycled since the scan, is being removed, or was cut already (its clock keeps running).
bool FlowTable::cut(uint32_t idx, uint32_t gen, uint64_t now_ms) {
  Record& r = records_[idx];
  uint8_t live = kLive;
  if (!r.in_use.compare_exchange_strong(live, kCutting, std::memory_order_acq_rel)) return false;
  bool ok = r.gen.load(std::memory_order_acquire) == gen;
  bool tcp = r.proto.load(std::memory_order_relaxed) == kTCP;
  if (ok && tcp) {
    ok = (r.state.load(std::memory_order_relaxed) & kStateMask) != kReset;
    if (ok) {
      if (monitor_ && monitor_->on()) report_end(idx, FlowEnd::cut);
      r.last_ms.store(now_ms, std::memory_order_relaxed);
      r.state.store(kReset, std::memory_order_release);  // see expired()
    }
  }
  r.in_use.store(kLive, std::memory_order_release);
  if (ok && !tcp) return try_release(idx, gen, FlowEnd::cut);
  return ok;
}

size_t FlowTable::purge_backends(const std::vector<uint8_t>& be_slots, uint64_t now_ms) {
  size_t n = 0;
  for (uint32_t i = 0; i < capacity_; i++) {
    Record& r = records_[i];
    uint32_t gen = r.gen.load(std::memory_order_acquire);
    if (r.in_use.load(std::memory_order_acquire) != kLive) continue;
    uint32_t be = r.be_slot.load(std::memory_order_relaxed);
    if (be >= be_slots.size() || !be_slots[be]) continue;
    if (cut(i, gen, now_ms)) n++;
  }
  return n;
}

size_t FlowTable::cut_if(const std::function<bool(const FlowKey&, const Translation&)>& fn, uint64_t now_ms) {
  // Walks the index, not the records: a linked entry's key is stable under its stripe lock,
  // whereas a record may be recycled (its entries rewritten) by a queue at any moment. The
  // candidates are copied out and judged after the lock is dropped; a record recycled since
  // then fails cut's gen check. Control-plane only (policy changes), so the vector is fine.
  struct Candidate { FlowKey k; Translation x; uint32_t idx, gen; };
  std::vector<Candidate> batch;
  size_t n = 0;
  for (uint64_t b = 0; b <= bucket_mask_; b++) {
    uint32_t s = uint32_t(b) & (kStripes - 1);
    lock(s);
    for (uint32_t e = buckets_[b].load(std::memory_order_relaxed); e != kNil; e = entries_[e].next) {
      if (e & 1) continue;  // forward entries only: one per flow
      batch.push_back({entries_[e].key, entries_[e].x, e >> 1, records_[e >> 1].gen.load(std::memory_order_acquire)});
    }
    unlock(s);
    for (const Candidate& c : batch) {
      if (fn(c.k, c.x) && cut(c.idx, c.gen, now_ms)) n++;
    }
    batch.clear();
  }
  return n;
}

// A TCP flow's state says how it ended better than the path that removed it: a flow found
// expired after a FIN was closed, after a RST reset. A cut one (kReset) was reported by the cut.
void FlowTable::report_end(uint32_t idx, FlowEnd why) const {
  const Record& r = records_[idx];
  if (r.single.load(std::memory_order_relaxed)) return;  // an affinity record, not a flow
  uint8_t state = r.state.load(std::memory_order_acquire);
  if (r.proto.load(std::memory_order_relaxed) == kTCP && why != FlowEnd::cut) {
    uint8_t base = state & kStateMask;
    if (base == kReset) return;
    if (why == FlowEnd::expired && base == kClose) why = FlowEnd::reset;
    if (why == FlowEnd::expired && (base == kTimeWait || base == kFinWait)) why = FlowEnd::closed;
  }
  const Entry& f = entries_[2 * idx];
  Event e{};
  e.type = EventType::kFlowEnd;
  e.reason = uint8_t(why);
  e.state = state;
  event_key(e, f.key);
  event_translation(e, f.x);
  monitor_->record(e);
}

FlowTableStats FlowTable::stats() const {
  return {active_.load(std::memory_order_relaxed), capacity_, created_.load(std::memory_order_relaxed),
          expired_.load(std::memory_order_relaxed), evicted_.load(std::memory_order_relaxed)};
}

}  // namespace podnet
