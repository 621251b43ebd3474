// The monitor's event ring and rate limit (events.h): order, a full ring, the token bucket's
// skips, and many writers against one reader losing or duplicating nothing.
#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "../events.h"

using namespace podnet;

namespace {

Event numbered(uint16_t writer, uint16_t seq) {
  Event e{};
  e.type = EventType::kDrop;
  e.sport = writer;
  e.dport = seq;
  return e;
}

}  // namespace

TEST(EventRing, FirstInFirstOutUntilFull) {
  EventRing r;
  for (uint32_t i = 0; i < EventRing::kCapacity; i++) ASSERT_TRUE(r.push(numbered(0, uint16_t(i))));
  EXPECT_FALSE(r.push(numbered(0, 0))) << "full";
  Event e;
  ASSERT_TRUE(r.pop(e));
  EXPECT_EQ(e.dport, 0);
  EXPECT_TRUE(r.push(numbered(1, 1))) << "one cell freed";
  for (uint32_t i = 1; i < EventRing::kCapacity; i++) {
    ASSERT_TRUE(r.pop(e));
    ASSERT_EQ(e.dport, uint16_t(i));
  }
  ASSERT_TRUE(r.pop(e));
  EXPECT_EQ(e.sport, 1);
  EXPECT_FALSE(r.pop(e)) << "empty";
}

TEST(Monitor, OffUntilAttachedAndCountsPerAttach) {
  Monitor m;
  EXPECT_FALSE(m.on());
  m.attach();
  m.attach();
  EXPECT_TRUE(m.on());
  m.detach();
  EXPECT_TRUE(m.on()) << "one monitor still attached";
  m.detach();
  m.detach();  // one too many is harmless
  EXPECT_FALSE(m.on());
  EXPECT_EQ(m.attached(), 0u);
}

TEST(Monitor, RateLimitSkipsAndCountsNeverBlocks) {
  Monitor m;
  m.attach(1, 50);  // one event per second after a burst of 50
  for (int i = 0; i < 200; i++) {
    Event e = numbered(0, uint16_t(i));
    m.record(e);
  }
  std::vector<Event> out(500);
  size_t n = m.read(out.data(), out.size());
  EXPECT_GE(n, 50u);
  EXPECT_LE(n, 52u) << "a second may pass in the loop, not more";
  EXPECT_EQ(m.counts().skipped, 200 - n);
  EXPECT_EQ(m.counts().lost, 0u);
  EXPECT_EQ(out[0].dport, 0) << "the first events pass, the rest are skipped";
  EXPECT_GT(out[0].time_ms, 0u) << "stamped";
}

TEST(Monitor, FullRingLosesAndCountsAndANewSessionStartsEmpty) {
  Monitor m;
  m.attach(1000000, 1000000);
  for (uint32_t i = 0; i < EventRing::kCapacity + 10; i++) {
    Event e = numbered(0, uint16_t(i));
    m.record(e);
  }
  EXPECT_EQ(m.counts().lost, 10u);
  m.detach();
  m.attach();
  EXPECT_EQ(m.counts().lost, 0u) << "counts are per session";
  Event e;
  EXPECT_EQ(m.read(&e, 1), 0u) << "the earlier session's events are gone";
}

TEST(Monitor, ManyWritersOneReaderNothingLostOrDuplicated) {
  Monitor m;
  m.attach(1000000000, 1000000);
  constexpr int kWriters = 4, kEach = 20000;
  std::atomic<int> done{0};
  std::vector<std::thread> ws;
  for (int w = 0; w < kWriters; w++) {
    ws.emplace_back([&, w] {
      for (int i = 0; i < kEach; i++) {
        Event e = numbered(uint16_t(w), uint16_t(i));
        m.record(e);
      }
      done++;
    });
  }
  std::set<std::pair<int, int>> seen;
  std::vector<int> last(kWriters, -1);
  std::vector<Event> buf(256);
  bool ordered = true;
  for (;;) {
    bool finished = done.load() == kWriters;
    size_t n = m.read(buf.data(), buf.size());
    for (size_t i = 0; i < n; i++) {
      EXPECT_TRUE(seen.insert({buf[i].sport, buf[i].dport}).second) << "duplicate";
      if (buf[i].dport <= last[buf[i].sport]) ordered = false;
      last[buf[i].sport] = buf[i].dport;
    }
    if (finished && n == 0) break;
  }
  for (auto& t : ws) t.join();
  EXPECT_TRUE(ordered) << "each writer's events in its order";
  EXPECT_EQ(seen.size() + m.counts().lost + m.counts().skipped, size_t(kWriters) * kEach);
}
