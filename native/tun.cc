// TUN device and engine threads; see tun.h.
// Offload negotiation mirrors what wireguard-go's tun_linux.go and QEMU's tap do:
// TUN_F_CSUM|TSO4|TSO6 lets the kernel hand us GSO super-packets (one rewrite per ~64 KiB);
// USO4/USO6 (kernel >= 6.2) are added when accepted.
#include "tun.h"

#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>


#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "vnet.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define PODNET_CPU_RELAX() _mm_pause()
#else
#define PODNET_CPU_RELAX() ((void)0)
#endif

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

namespace podnet {

namespace {

[[noreturn]] void fail(const std::string& step, const std::string& name) {
  throw std::runtime_error(step + " " + name + ": " + std::strerror(errno));
}

constexpr size_t kBufSize = sizeof(VnetHdr) + 65535 + 256;

}  // namespace

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

uint64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

TunDevice::TunDevice(const TunConfig& cfg) : name_(cfg.name) {
  if (cfg.name.empty() || cfg.name.size() >= IFNAMSIZ) throw std::runtime_error("bad TUN name '" + cfg.name + "'");
  for (uint32_t q = 0; q < cfg.queues; q++) {
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      for (int f : fds_) ::close(f);
      fail("open /dev/net/tun for", name_);
    }
    fds_.push_back(fd);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, cfg.name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      int e = errno;
      for (int f : fds_) ::close(f);
      errno = e;
      fail("TUNSETIFF", name_);
    }
    if (q == 0) {
      name_ = ifr.ifr_name;
      int hdr = sizeof(VnetHdr);
      if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) fail("TUNSETVNETHDRSZ", name_);
      unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
      if (ioctl(fd, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) == 0) {
        offloads_ = {"csum", "tso4", "tso6", "ecn", "uso4", "uso6"};
      } else if (ioctl(fd, TUNSETOFFLOAD, base) == 0) {
        offloads_ = {"csum", "tso4", "tso6", "ecn"};
      } else {
        fail("TUNSETOFFLOAD", name_);
      }
      if (ioctl(fd, TUNSETPERSIST, cfg.persist ? 1 : 0) < 0) fail("TUNSETPERSIST", name_);
    }
  }
  ifindex_ = int(if_nametoindex(name_.c_str()));
  steering_ = set_steering(fds_[0], cfg.steering, cfg.queues, name_, &steering_error_);
}

TunDevice::~TunDevice() {
  for (int fd : fds_) ::close(fd);
}

TunWorkers::TunWorkers(const TunDevice& dev, uint32_t batch, uint32_t busy_poll_us, const std::function<PacketFn()>& make_fn)
    : fds_(dev.fds()), steering_(dev.steering()), batch_(batch ? batch : 1), busy_poll_ns_(uint64_t(busy_poll_us) * 1000) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  for (size_t q = 0; q < fds_.size(); q++) counters_.push_back(std::make_unique<QueueCounters>());
  for (size_t q = 0; q < fds_.size(); q++) threads_.emplace_back(&TunWorkers::run, this, q, make_fn());
}

TunWorkers::~TunWorkers() {
  stop_.store(true, std::memory_order_relaxed);
  uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof one) < 0) { /* threads also stop on their poll timeout check */ }
  for (auto& t : threads_) t.join();
  ::close(stop_fd_);
}

// The loop of one queue: sleep in poll, then drain up to `batch` packets per wake-up,
// writing each result back before reading the next (TUN has no batched write).
// With busy_poll_us > 0, a queue that just carried traffic keeps reading for that long
// before it sleeps again: the next packet of a busy flow usually arrives within tens of
// µs, and catching it without a sleep/wake-up round saves the sender's wake-up cost and
// the scheduler's latency (the same trade as SO_BUSY_POLL). An idle queue still sleeps, and
// spinning backs off by itself: after 4 spins in a row that caught nothing (traffic sparser
// than the window) the queue skips spinning for the next 64 wake-ups, so a trickle of
// packets costs at most ~1/16 of the window per packet instead of a spinning core.
void TunWorkers::run(size_t q, PacketFn fn) {
  // "podnet-q0", "podnet-q1", ...: what perf, top -H and /proc/PID/task show for this thread.
  char name[16];
  std::snprintf(name, sizeof name, "podnet-q%zu", q);
  pthread_setname_np(pthread_self(), name);
  int fd = fds_[q];
  cpu_set_t cpus;
  if (steering_ == Steering::kCpu && fds_.size() > 1 && queue_cpus(uint32_t(q), uint32_t(fds_.size()), &cpus))
    pthread_setaffinity_np(pthread_self(), sizeof cpus, &cpus);
  QueueCounters& c = *counters_[q];
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kBufSize]);
  pollfd pfd[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  // One packet: read, run the pipeline, write back. False when the queue is empty.
  auto one = [&](uint64_t now) {
    ssize_t n = read(fd, buf.get(), kBufSize);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) c.read_errors.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    c.packets_in.fetch_add(1, std::memory_order_relaxed);
    c.bytes_in.fetch_add(uint64_t(n), std::memory_order_relaxed);
    if (n > ssize_t(sizeof(VnetHdr)) && buf[1] != kGsoNone) c.gso_packets.fetch_add(1, std::memory_order_relaxed);
    const uint8_t* out = nullptr;
    size_t len = fn(buf.get(), size_t(n), &out, now);
    if (len == 0) return true;
    ssize_t w;
    if (out == buf.get()) {
      w = write(fd, out, len);
    } else {
      iovec iov[2] = {{buf.get(), sizeof(VnetHdr)}, {const_cast<uint8_t*>(out), len - sizeof(VnetHdr)}};
      w = writev(fd, iov, 2);
    }
    if (w < 0) c.write_errors.fetch_add(1, std::memory_order_relaxed);
    else c.packets_out.fetch_add(1, std::memory_order_relaxed);
    return true;
  };
  uint32_t misses = 0, cooldown = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    int r = poll(pfd, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      c.read_errors.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (pfd[1].revents) return;
    if (!wait_out_pause()) return;
    c.wakeups.fetch_add(1, std::memory_order_relaxed);
    uint64_t now = monotonic_ms();
    uint32_t got = 0;
    while (got < batch_ && one(now)) got++;
    if (got == batch_ || got == 0 || busy_poll_ns_ == 0) continue;
    if (cooldown) {
      cooldown--;
      continue;
    }
    // Busy poll: keep draining until the queue stays empty for busy_poll_ns_.
    uint64_t idle_since = monotonic_ns();
    uint32_t spun = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      uint64_t t = monotonic_ns();
      if (one(t / 1'000'000)) {
        idle_since = t;
        c.busy_polled.fetch_add(1, std::memory_order_relaxed);
        if (++spun >= batch_ * 16) break;  // let poll() see the stop fd now and then
        continue;
      }
      if (t - idle_since > busy_poll_ns_) break;
      PODNET_CPU_RELAX();
    }
    if (spun) {
      misses = 0;
    } else if (++misses >= 4) {
      misses = 0;
      cooldown = 64;
    }
  }
}

void TunWorkers::pause_for(uint32_t ms) {
  paused_until_ns_.store(monotonic_ns() + uint64_t(ms) * 1'000'000, std::memory_order_relaxed);
}

bool TunWorkers::wait_out_pause() {
  for (;;) {
    if (stop_.load(std::memory_order_relaxed)) return false;
    uint64_t until = paused_until_ns_.load(std::memory_order_relaxed), now = monotonic_ns();
    if (now >= until) return true;
    // In slices, so a stop (or a shorter pause replacing this one) is seen within 20 ms.
    uint64_t ns = std::min<uint64_t>(until - now, 20'000'000);
    timespec ts{time_t(ns / 1'000'000'000), long(ns % 1'000'000'000)};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace podnet
