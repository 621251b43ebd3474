// Multi-thread stress test of the flow table (see flow_table.h): the two directions of a flow
// arrive on different TUN queues, the GC thread expires and the control plane purges/cuts
// while the queues insert, look up, touch and remove. Built with ThreadSanitizer (run.sh) and
// plain -O2; both must finish with no report and every invariant held.
//
// Each worker thread plays one queue. Client c (of kClients) always maps to backend c % 7, so
// any hit can be checked against the key it was found by: a forward hit must carry that
// client's backend, a reverse hit must restore the VIP. A wrong hit means a corrupted chain.
//
// Purges and cuts mark these TCP flows kReset in place (under a stripe lock, while the
// queues touch them with hits taken before the cut). A worker that finds a reset flow does
// what the pipeline does: leaves it alone (its packet becomes RSTs), or, for a SYN, removes
// it and inserts a fresh flow. Invariant: once any thread has seen a record generation in
// kReset, no later lookup may see that generation in another state (a touch racing the cut
// must not undo it).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "../flow_table.h"

using namespace podnet;

namespace {

constexpr uint32_t kClients = 20000;  // more live flows than capacity: eviction runs constantly
constexpr uint32_t kCapacity = 8192;
constexpr uint16_t kVipPort = 80;
std::atomic<uint64_t> g_failures{0};
std::atomic<uint64_t> g_now{1000};
std::atomic<uint64_t> g_reset_hits{0}, g_reset_reopened{0};
// Per client: (record index << 32 | gen) + 1 of the last generation seen in kReset, 0 = none.
std::atomic<uint64_t> g_reset_seen[kClients];

Addr v4(uint32_t a) {
  Addr x{};
  store32(x.b, a);
  return x;
}
const Addr kVip = v4(0x0a600001);                                   // 10.96.0.1
Addr client_ip(uint32_t c) { return v4(0x0af40000 | (c / 60000)); }  // 10.244.0.x
uint16_t client_port(uint32_t c) { return uint16_t(1024 + c % 60000); }
Addr backend_ip(uint32_t c) { return v4(0x0af40100 | (c % 7 + 1)); }

FlowKey fwd_key(uint32_t c) {
  FlowKey k{};
  k.family = 4; k.proto = kTCP; k.sport = client_port(c); k.dport = kVipPort;
  k.src = client_ip(c); k.dst = kVip;
  return k;
}
FlowKey rev_key(uint32_t c) {
  FlowKey k{};
  k.family = 4; k.proto = kTCP; k.sport = 8080; k.dport = client_port(c);
  k.src = backend_ip(c); k.dst = client_ip(c);
  return k;
}
NewFlow new_flow(uint32_t c) {
  NewFlow f{};
  f.fwd = fwd_key(c);
  f.rev = rev_key(c);
  f.fwd_x = Translation{{}, backend_ip(c), 0, 8080, kRewriteDst};
  f.rev_x = Translation{kVip, {}, kVipPort, 0, kRewriteSrc};
  f.svc_slot = 1;
  f.be_slot = c % 7;
  f.state = kSynSent;
  return f;
}

void fail(const char* what, uint32_t c) {
  if (g_failures.fetch_add(1) < 10) std::fprintf(stderr, "FAIL %s (client %u)\n", what, c);
}

void check(const FlowHit& h, uint32_t c, Dir expect) {
  if (h.dir != expect) return fail("hit in the wrong direction", c);
  if (expect == kForward && !(h.x.dst == backend_ip(c) && h.x.dport == 8080)) fail("forward hit with another flow's backend", c);
  if (expect == kReverse && !(h.x.src == kVip && h.x.sport == kVipPort)) fail("reverse hit without the VIP", c);
}

uint64_t tag(const FlowHit& h) { return (uint64_t(h.idx) << 32 | h.gen) + 1; }
bool is_reset(const FlowHit& h) { return (h.state & kStateMask) == kReset; }

// A lookup that also checks the reset invariant: the tag is read before the lookup, so a
// kReset observation it reports happened before this lookup took the stripe lock.
bool lookup_checked(FlowTable* t, const FlowKey& k, uint32_t c, uint64_t now, FlowHit& h) {
  uint64_t seen = g_reset_seen[c].load(std::memory_order_acquire);
  if (!t->lookup(k, now, h)) return false;
  if (is_reset(h)) {
    g_reset_hits.fetch_add(1, std::memory_order_relaxed);
    g_reset_seen[c].store(tag(h), std::memory_order_release);
  } else if (seen == tag(h)) {
    fail("a reset flow came back to life", c);
  }
  return true;
}

void worker(FlowTable* t, unsigned seed, std::chrono::steady_clock::time_point end, std::atomic<uint64_t>* ops) {
  std::mt19937 rng(seed);
  uint64_t n = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 256; i++, n++) {
      uint32_t c = rng() % kClients;
      uint64_t now = g_now.load(std::memory_order_relaxed);
      FlowHit h;
      switch (rng() % 8) {
        case 0: case 1: case 2: {  // a SYN: find or create; a SYN on a cut flow's port reopens it
          bool found = lookup_checked(t, fwd_key(c), c, now, h);
          if (found) check(h, c, kForward);
          if (found && is_reset(h)) {
            t->remove(h.idx, h.gen);
            found = false;
            g_reset_reopened.fetch_add(1, std::memory_order_relaxed);
          }
          if (!found && t->insert(new_flow(c), now, h)) check(h, c, kForward);
          if (h.idx < kCapacity) t->touch(h, 0x02, now);
          break;
        }
        case 3: case 4: case 5:  // a reply, on whichever queue; a cut flow's is not touched
          if (lookup_checked(t, rev_key(c), c, now, h)) {
            check(h, c, kReverse);
            // Now and then the queue is descheduled between lookup and touch: the window in
            // which a cut lands and the touch must not undo it.
            if ((n & 15) == 0) std::this_thread::yield();
            if (!is_reset(h)) t->touch(h, 0x12, now);
          }
          break;
        case 6:  // a FIN from the client
          if (lookup_checked(t, fwd_key(c), c, now, h)) { check(h, c, kForward); t->touch(h, 0x11, now); }
          break;
        case 7:  // an RST: the flow goes
          if (lookup_checked(t, fwd_key(c), c, now, h)) { check(h, c, kForward); t->remove(h.idx, h.gen); }
          break;
      }
    }
  }
  ops->fetch_add(n);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 5;
  unsigned threads = argc > 2 ? unsigned(std::atoi(argv[2])) : 4;
  Timeouts to;
  to.tcp_syn_ms = 50; to.tcp_established_ms = 400; to.tcp_fin_ms = 100; to.tcp_close_ms = 20;
  FlowTable table(kCapacity, to);
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(seconds * 1000));
  std::atomic<uint64_t> ops{0};
  std::vector<std::thread> ts;
  for (unsigned i = 0; i < threads; i++) ts.emplace_back(worker, &table, 12345 + i, end, &ops);
  // The GC thread and the control plane: expire, purge a backend, cut by key, as podnet-gc does.
  uint64_t gc_rounds = 0, purged = 0, cut = 0, gc_expired = 0;
  std::mt19937 rng(7);
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    uint64_t now = g_now.fetch_add(5) + 5;
    gc_expired += table.expire(now);
    if (gc_rounds % 4 == 0) {
      std::vector<uint8_t> slots(8, 0);
      uint32_t slot = rng() % 7;
      slots[slot] = 1;
      purged += table.purge_backends(slots, now);
      // Observe the cut at once, as the first packet after it would: every flow of that
      // backend is now kReset, and queues still holding older hits must not revert it.
      for (uint32_t c = slot; c < kClients; c += 7) {
        FlowHit h;
        lookup_checked(&table, fwd_key(c), c, now, h);
      }
    }
    if (gc_rounds % 16 == 8) {
      uint16_t port = uint16_t(1024 + rng() % 60000);
      cut += table.cut_if([&](const FlowKey& k, const Translation&) { return k.sport == port; }, now);
    }
    gc_rounds++;
  }
  for (auto& t : ts) t.join();
  // Quiescent now: the index and the records must agree.
  uint64_t live = 0;
  table.for_each([&](const FlowKey& k, const Translation& x, uint8_t, uint64_t, uint8_t, bool, uint32_t, uint32_t) {
    live++;
    uint32_t c = uint32_t(k.sport - 1024);
    FlowHit h;
    if (!(x.dst == backend_ip(c))) fail("record with another flow's backend", c);
    if (!table.lookup(k, g_now.load(), h)) { /* may have expired just now */ }
  });
  FlowTableStats s = table.stats();
  if (s.active > s.capacity) fail("active above capacity", 0);
  if (live > s.active + 0) fail("for_each sees more flows than active", 0);
  std::printf("ops=%llu threads=%u gc_rounds=%llu created=%llu expired=%llu (gc %llu) evicted=%llu purged=%llu cut=%llu reset_hits=%llu reopened=%llu active=%llu live=%llu failures=%llu\n",
              (unsigned long long)ops.load(), threads, (unsigned long long)gc_rounds, (unsigned long long)s.created,
              (unsigned long long)s.expired, (unsigned long long)gc_expired, (unsigned long long)s.evicted, (unsigned long long)purged,
              (unsigned long long)cut, (unsigned long long)g_reset_hits.load(), (unsigned long long)g_reset_reopened.load(),
              (unsigned long long)s.active, (unsigned long long)live, (unsigned long long)g_failures.load());
  return g_failures.load() == 0 ? 0 : 1;
}
