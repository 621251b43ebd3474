// The CPUs each TUN queue's engine thread is pinned to under cpu steering: the queues split
// the CPUs this process may use by CPU number modulo the queue count, with none left out.
#include <gtest/gtest.h>

#include "../tun_steering.h"

namespace podnet {
namespace {

TEST(TunSteering, QueuesSplitTheAllowedCpus) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  const int ncpus = CPU_COUNT(&allowed);
  cpu_set_t one;
  ASSERT_TRUE(queue_cpus(0, 1, &one));
  EXPECT_TRUE(CPU_EQUAL(&one, &allowed)) << "one queue serves every CPU";
  for (uint32_t n : {2u, 3u, 4u}) {
    cpu_set_t seen;
    CPU_ZERO(&seen);
    int total = 0;
    for (uint32_t q = 0; q < n; q++) {
      cpu_set_t s;
      bool any = queue_cpus(q, n, &s);
      EXPECT_EQ(any, CPU_COUNT(&s) > 0);
      for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &s)) continue;
        EXPECT_EQ(uint32_t(c) % n, q) << "CPU " << c << " of queue " << q << "/" << n;
        EXPECT_TRUE(CPU_ISSET(c, &allowed));
        EXPECT_FALSE(CPU_ISSET(c, &seen)) << "CPU " << c << " in two queues";
        CPU_SET(c, &seen);
        total++;
      }
    }
    EXPECT_EQ(total, ncpus) << n << " queues cover every allowed CPU";
  }
  cpu_set_t none;
  EXPECT_FALSE(queue_cpus(0, 0, &none));
  EXPECT_FALSE(queue_cpus(CPU_SETSIZE, CPU_SETSIZE + 1, &none)) << "a queue with no CPU: left unpinned";
}

TEST(TunSteering, Names) {
  EXPECT_STREQ(steering_name(Steering::kCpu), "cpu");
  EXPECT_STREQ(steering_name(Steering::kFlow), "flow");
}

}  // namespace
}  // namespace podnet
