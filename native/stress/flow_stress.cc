// Multi-thread stress test of the flow table (see flow_table.h): the two directions of a flow
// arrive on different TUN queues, the GC thread expires and the control plane purges/cuts
// while the queues insert, look up, touch and remove. Built with ThreadSanitizer (run.sh) and
// plain -O2; both must finish with no report and every invariant held.
//
// Each worker thread plays one queue. Client c (of kClients) always maps to backend c % 7, so
// any hit can be checked against the key it was found by: a forward hit must carry that
// client's backend, a reverse hit must restore the VIP. A wrong hit means a corrupted chain.
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

void worker(FlowTable* t, unsigned seed, std::chrono::steady_clock::time_point end, std::atomic<uint64_t>* ops) {
  std::mt19937 rng(seed);
  uint64_t n = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 256; i++, n++) {
      uint32_t c = rng() % kClients;
      uint64_t now = g_now.load(std::memory_order_relaxed);
      FlowHit h;
      switch (rng() % 8) {
        case 0: case 1: case 2:  // a SYN: find or create
          if (t->lookup(fwd_key(c), now, h)) check(h, c, kForward);
          else if (t->insert(new_flow(c), now, h)) check(h, c, kForward);
          if (h.idx < kCapacity) t->touch(h, 0x02, now);
          break;
        case 3: case 4: case 5:  // a reply, on whichever queue
          if (t->lookup(rev_key(c), now, h)) { check(h, c, kReverse); t->touch(h, 0x12, now); }
          break;
        case 6:  // a FIN from the client
          if (t->lookup(fwd_key(c), now, h)) { check(h, c, kForward); t->touch(h, 0x11, now); }
          break;
        case 7:  // an RST: the flow goes
          if (t->lookup(fwd_key(c), now, h)) { check(h, c, kForward); t->remove(h.idx, h.gen); }
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
    if (gc_rounds % 16 == 0) {
      std::vector<uint8_t> slots(8, 0);
      slots[rng() % 7] = 1;
      purged += table.purge_backends(slots);
    }
    if (gc_rounds % 16 == 8) {
      uint16_t port = uint16_t(1024 + rng() % 60000);
      cut += table.cut_if([&](const FlowKey& k, const Translation&) { return k.sport == port; });
    }
    gc_rounds++;
  }
  for (auto& t : ts) t.join();
  // Quiescent now: the index and the records must agree.
  uint64_t live = 0;
  table.for_each([&](const FlowKey& k, const Translation& x, uint8_t, uint64_t, uint8_t, bool) {
    live++;
    uint32_t c = uint32_t(k.sport - 1024);
    FlowHit h;
    if (!(x.dst == backend_ip(c))) fail("record with another flow's backend", c);
    if (!table.lookup(k, g_now.load(), h)) { /* may have expired just now */ }
  });
  FlowTableStats s = table.stats();
  if (s.active > s.capacity) fail("active above capacity", 0);
  if (live > s.active + 0) fail("for_each sees more flows than active", 0);
  std::printf("ops=%llu threads=%u gc_rounds=%llu created=%llu expired=%llu (gc %llu) evicted=%llu purged=%llu cut=%llu active=%llu live=%llu failures=%llu\n",
              (unsigned long long)ops.load(), threads, (unsigned long long)gc_rounds, (unsigned long long)s.created,
              (unsigned long long)s.expired, (unsigned long long)gc_expired, (unsigned long long)s.evicted, (unsigned long long)purged,
              (unsigned long long)cut, (unsigned long long)s.active, (unsigned long long)live,
              (unsigned long long)g_failures.load());
  return g_failures.load() == 0 ? 0 : 1;
}
