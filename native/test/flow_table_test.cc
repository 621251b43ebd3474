// The flow table (flow_table.h): insert and lookup of both directions, the TCP state machine,
// expiry by protocol timeout, eviction when full, cuts, and the state file surviving a
// restart. The clock is the now_ms every call takes, so the tests drive time themselves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "../flow_table.h"

using namespace podnet;

namespace {

Addr v4(uint32_t a) {
  Addr x{};
  store32(x.b, a);
  return x;
}

constexpr uint32_t kVip = 0x0a60000a, kBackend = 0x0af40107;

// Client c -> VIP:80, DNAT to backend:8080.
NewFlow flow(uint32_t c, uint8_t proto = kTCP, uint32_t be_slot = 3) {
  NewFlow f{};
  f.fwd.family = 4;
  f.fwd.proto = proto;
  f.fwd.src = v4(0x0a000000 + c);
  f.fwd.dst = v4(kVip);
  f.fwd.sport = uint16_t(1024 + c);
  f.fwd.dport = 80;
  f.rev = f.fwd;
  f.rev.src = v4(kBackend);
  f.rev.dst = f.fwd.src;
  f.rev.sport = 8080;
  f.rev.dport = f.fwd.sport;
  f.fwd_x.dst = v4(kBackend);
  f.fwd_x.dport = 8080;
  f.fwd_x.rewrite = kRewriteDst;
  f.rev_x.src = v4(kVip);
  f.rev_x.sport = 80;
  f.rev_x.rewrite = kRewriteSrc;
  f.svc_slot = 1;
  f.be_slot = be_slot;
  f.state = proto == kTCP ? uint8_t(kSynSent) : uint8_t(kUnreplied);
  return f;
}

Timeouts timeouts() {
  Timeouts t;
  t.tcp_syn_ms = 1000;
  t.tcp_established_ms = 100000;
  t.tcp_close_ms = 500;
  t.udp_ms = 2000;
  t.udp_stream_ms = 20000;
  return t;
}

}  // namespace

TEST(FlowTable, InsertIndexesBothDirections) {
  FlowTable ft(64, timeouts());
  FlowHit h;
  ASSERT_TRUE(ft.insert(flow(1), 1000, h));
  ASSERT_TRUE(ft.lookup(flow(1).fwd, 1001, h));
  EXPECT_EQ(h.dir, kForward);
  EXPECT_TRUE(h.x.dst == v4(kBackend));
  EXPECT_EQ(h.x.dport, 8080);
  ASSERT_TRUE(ft.lookup(flow(1).rev, 1001, h));
  EXPECT_EQ(h.dir, kReverse);
  EXPECT_TRUE(h.x.src == v4(kVip));
  EXPECT_FALSE(ft.lookup(flow(2).fwd, 1001, h));
  EXPECT_EQ(ft.stats().active, 1u);
  EXPECT_EQ(ft.stats().created, 1u);
}

TEST(FlowTable, SecondInsertOfTheSameKeyReturnsTheFirstFlow) {
  FlowTable ft(64, timeouts());
  FlowHit a, b;
  ASSERT_TRUE(ft.insert(flow(1), 1000, a));
  NewFlow other = flow(1);
  other.fwd_x.dport = 9999;
  ASSERT_TRUE(ft.insert(other, 1000, b));
  EXPECT_EQ(b.idx, a.idx);
  EXPECT_EQ(b.x.dport, 8080);
  EXPECT_EQ(ft.stats().active, 1u);
}

TEST(FlowTable, TcpStateMachine) {
  FlowTable ft(64, timeouts());
  FlowHit h;
  ft.insert(flow(1), 1000, h);
  auto state = [&] {
    FlowHit x;
    EXPECT_TRUE(ft.lookup(flow(1).fwd, 1000, x));
    return x;
  };
  FlowHit r;
  ASSERT_TRUE(ft.lookup(flow(1).rev, 1000, r));
  ft.touch(r, 0x12, 1000);  // SYN-ACK from the backend
  EXPECT_EQ(state().state & kStateMask, kEstablished);
  ft.touch(state(), 0x11, 1000);  // FIN from the client
  EXPECT_EQ(state().state & kStateMask, kFinWait);
  ASSERT_TRUE(ft.lookup(flow(1).rev, 1000, r));
  ft.touch(r, 0x11, 1000);  // FIN back
  EXPECT_EQ(state().state & kStateMask, kTimeWait);
  ft.touch(state(), 0x04, 1000);  // RST
  EXPECT_EQ(state().state & kStateMask, kClose);
  EXPECT_STREQ(flow_state_name(kTCP, state().state), "CLOSE");
}

TEST(FlowTable, UdpBecomesRepliedOnAReverseHit) {
  FlowTable ft(64, timeouts());
  FlowHit h;
  ft.insert(flow(1, kUDP), 1000, h);
  EXPECT_EQ(ft.timeout_ms(kUDP, kUnreplied, 0), 2000u);
  ASSERT_TRUE(ft.lookup(flow(1, kUDP).rev, 1500, h));
  ft.touch(h, 0, 1500);
  ASSERT_TRUE(ft.lookup(flow(1, kUDP).fwd, 1500, h));
  EXPECT_EQ(h.state, kReplied);
  EXPECT_STREQ(flow_state_name(kUDP, h.state), "REPLIED");
  // Now on the stream timeout: alive well after the unreplied timeout.
  EXPECT_TRUE(ft.lookup(flow(1, kUDP).fwd, 1500 + 10000, h));
}

TEST(FlowTable, LookupExpiresByProtocolTimeout) {
  FlowTable ft(64, timeouts());
  FlowHit h;
  ft.insert(flow(1), 1000, h);  // SYN_SENT: 1000 ms
  EXPECT_TRUE(ft.lookup(flow(1).fwd, 2000, h)) << "exactly at the timeout it still lives";
  EXPECT_FALSE(ft.lookup(flow(1).fwd, 2001, h));
  EXPECT_FALSE(ft.lookup(flow(1).rev, 2001, h));
  EXPECT_EQ(ft.stats().active, 0u);
  EXPECT_EQ(ft.stats().expired, 1u);
}

TEST(FlowTable, TouchKeepsAFlowAlive) {
  FlowTable ft(64, timeouts());
  FlowHit h;
  ft.insert(flow(1), 1000, h);
  for (uint64_t t = 1500; t < 5000; t += 500) {
    ASSERT_TRUE(ft.lookup(flow(1).fwd, t, h)) << t;
    ft.touch(h, 0x02, t);
  }
}

TEST(FlowTable, ExpirePassRemovesOnlyIdleFlows) {
  FlowTable ft(64, timeouts());
  FlowHit h;
  ft.insert(flow(1), 1000, h);
  ft.insert(flow(2), 1900, h);
  ft.insert(flow(3, kUDP), 1000, h);
  EXPECT_EQ(ft.expire(2500), 1u);  // flow 1's SYN timed out; flow 2 and the UDP flow live
  EXPECT_EQ(ft.stats().active, 2u);
  EXPECT_EQ(ft.expire(3001), 2u);
  EXPECT_EQ(ft.stats().active, 0u);
}

TEST(FlowTable, FullTableEvictsTheOldest) {
  constexpr uint32_t kCap = 16;
  FlowTable ft(kCap, timeouts());
  FlowHit h;
  for (uint32_t c = 0; c < kCap; c++) ASSERT_TRUE(ft.insert(flow(c), 1000 + c, h));
  ASSERT_TRUE(ft.insert(flow(100), 1100, h));
  EXPECT_EQ(ft.stats().evicted, 1u);
  EXPECT_EQ(ft.stats().active, uint64_t(kCap));
  EXPECT_FALSE(ft.lookup(flow(0).fwd, 1100, h)) << "the least recently seen flow went";
  EXPECT_TRUE(ft.lookup(flow(100).fwd, 1100, h));
  for (uint32_t c = 1; c < kCap; c++) EXPECT_TRUE(ft.lookup(flow(c).fwd, 1100, h)) << c;
}

TEST(FlowTable, FullTablePrefersAnExpiredVictim) {
  constexpr uint32_t kCap = 16;
  FlowTable ft(kCap, timeouts());
  FlowHit h;
  for (uint32_t c = 0; c < kCap; c++) ft.insert(flow(c), 1000, h);
  for (uint32_t c = 0; c < kCap; c++) {
    if (c == 7) continue;
    ASSERT_TRUE(ft.lookup(flow(c).fwd, 1500, h));
    ft.touch(h, 0, 1500);  // refreshed
  }
  ASSERT_TRUE(ft.insert(flow(100), 2100, h));  // flow 7 expired at 2000
  EXPECT_EQ(ft.stats().evicted, 0u);
  EXPECT_EQ(ft.stats().expired, 1u);
  EXPECT_FALSE(ft.lookup(flow(7).fwd, 2100, h));
}

TEST(FlowTable, PurgeCutsTcpAndRemovesUdp) {
  FlowTable ft(64, timeouts());
  FlowHit h;
  ft.insert(flow(1, kTCP, 3), 1000, h);
  ft.insert(flow(2, kUDP, 3), 1000, h);
  ft.insert(flow(3, kTCP, 4), 1000, h);
  std::vector<uint8_t> gone(8, 0);
  gone[3] = 1;
  EXPECT_EQ(ft.purge_backends(gone, 1200), 2u);
  ASSERT_TRUE(ft.lookup(flow(1).fwd, 1300, h));
  EXPECT_EQ(h.state & kStateMask, kReset);
  EXPECT_FALSE(ft.lookup(flow(2, kUDP).fwd, 1300, h));
  ASSERT_TRUE(ft.lookup(flow(3).fwd, 1300, h));
  EXPECT_EQ(h.state & kStateMask, kSynSent);
  EXPECT_FALSE(ft.lookup(flow(1).fwd, 1200 + 501, h)) << "a cut flow lives tcp_close_ms from the cut";
  ASSERT_TRUE(ft.insert(flow(1), 1800, h));
  ft.purge_backends(gone, 1800);
  ASSERT_TRUE(ft.lookup(flow(1).fwd, 1800, h));
  ft.touch(h, 0x12, 1800);
  ASSERT_TRUE(ft.lookup(flow(1).fwd, 1800, h));
  EXPECT_EQ(h.state & kStateMask, kReset) << "only removal ends a cut flow";
}

TEST(FlowTable, CutIfJudgesForwardKeys) {
  FlowTable ft(64, timeouts());
  FlowHit h;
  for (uint32_t c = 0; c < 10; c++) ft.insert(flow(c, kUDP), 1000, h);
  size_t n = ft.cut_if([](const FlowKey& k, const Translation&) { return k.sport % 2 == 0; }, 1000);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(ft.stats().active, 5u);
}

TEST(FlowTable, StateFileSurvivesARestart) {
  char dir[] = "/tmp/podnet-flowtable-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/flows";
  FlowHit h;
  {
    FlowTable ft(64, timeouts(), path);
    EXPECT_FALSE(ft.restored());
    ft.insert(flow(1), 1000, h);
    ft.insert(flow(2, kUDP), 1000, h);
  }
  {
    FlowTable ft(64, timeouts(), path);
    EXPECT_TRUE(ft.restored());
    EXPECT_EQ(ft.stats().active, 2u);
    ASSERT_TRUE(ft.lookup(flow(1).rev, 1100, h));
    EXPECT_TRUE(h.x.src == v4(kVip));
    size_t dropped = ft.rebind([](const FlowKey& k, const Translation&, uint32_t& svc, uint32_t& be) {
      svc = 9;
      be = 10;
      return k.proto == kTCP;
    });
    EXPECT_EQ(dropped, 1u);
    ASSERT_TRUE(ft.lookup(flow(1).fwd, 1100, h));
    EXPECT_EQ(h.be_slot, 10u);
  }
  {
    FlowTable ft(32, timeouts(), path);  // another capacity: started afresh
    EXPECT_FALSE(ft.restored());
    EXPECT_EQ(ft.stats().active, 0u);
  }
  unlink(path.c_str());
  rmdir(dir);
}

namespace {

std::vector<Event> drain(Monitor& m) {
  std::vector<Event> v(64);
  v.resize(m.read(v.data(), v.size()));
  return v;
}

}  // namespace

TEST(FlowTable, EndedFlowsReportWhyWhileAMonitorIsAttached) {
  FlowTable ft(64, timeouts());
  Monitor m;
  ft.set_monitor(&m);
  FlowHit h;
  ft.insert(flow(1), 1000, h);
  ft.expire(5000);  // SYN_SENT past tcp_syn_ms, nobody watching
  m.attach();
  EXPECT_TRUE(drain(m).empty()) << "nothing recorded while detached";

  ft.insert(flow(2), 1000, h);
  ft.touch(h, 0x04, 1000);  // RST
  ft.insert(flow(3, kUDP), 1000, h);
  ft.insert(flow(4), 1000, h);
  ft.expire(3500);
  auto ev = drain(m);
  ASSERT_EQ(ev.size(), 3u);
  std::set<std::pair<uint16_t, std::string>> got;
  for (const Event& e : ev) {
    EXPECT_EQ(e.type, EventType::kFlowEnd);
    EXPECT_TRUE(e.flags & kEvBackend);
    EXPECT_TRUE(e.be == v4(kBackend));
    EXPECT_EQ(e.be_port, 8080);
    got.insert({e.sport, flow_end_name(FlowEnd(e.reason))});
  }
  EXPECT_EQ(got, (std::set<std::pair<uint16_t, std::string>>{{1026, "reset"}, {1027, "expired"}, {1028, "expired"}}));

  // A cut is reported when it happens; the cut TCP flow's later removal is not reported again.
  ft.insert(flow(5), 4000, h);
  ft.insert(flow(6, kUDP), 4000, h);
  std::vector<uint8_t> purge(8, 0);
  purge[3] = 1;
  EXPECT_EQ(ft.purge_backends(purge, 4000), 2u);
  ev = drain(m);
  ASSERT_EQ(ev.size(), 2u);
  for (const Event& e : ev) EXPECT_STREQ(flow_end_name(FlowEnd(e.reason)), "cut");
  ft.expire(5000);
  EXPECT_TRUE(drain(m).empty());
}
