// The TUN device: open (multi-queue, IFF_VNET_HDR, offloads) and the engine threads that
// move packets between it and the pipeline. One thread per queue; a flow's two directions
// may arrive on different queues, which the shared flow table absorbs.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "stats.h"
#include "tun_steering.h"

namespace podnet {

struct TunConfig {
  std::string name;
  uint32_t queues = 1;
  uint32_t batch = 64;
  // Keep reading for this long after the last packet before sleeping in poll (0 = never spin).
  uint32_t busy_poll_us = 0;
  bool persist = false;
  Steering steering = Steering::kCpu;  // with more than one queue (tun_steering.h)
};

// Opens every queue of the device; throws std::runtime_error with a message naming the step.
class TunDevice {
 public:
  explicit TunDevice(const TunConfig& cfg);
  ~TunDevice();
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;

  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }
  const std::vector<int>& fds() const { return fds_; }
  const std::vector<std::string>& offloads() const { return offloads_; }
  // The steering in force (kFlow when kCpu was asked for and could not be set, see steering_error()).
  Steering steering() const { return steering_; }
  // Why the steering asked for is not in force; "" when it is.
  const std::string& steering_error() const { return steering_error_; }

 private:
  std::string name_;
  int ifindex_ = 0;
  std::vector<int> fds_;
  std::vector<std::string> offloads_;
  Steering steering_ = Steering::kFlow;
  std::string steering_error_;
};

// Processes one packet in place. buf holds the virtio_net_hdr followed by the packet;
// returns the bytes to write back (0 = nothing) and may point *out at another buffer.
using PacketFn = std::function<size_t(uint8_t* buf, size_t n, const uint8_t** out, uint64_t now_ms)>;

class TunWorkers {
 public:
  // `make_fn` is called once per thread to get that thread's packet function (own scratch).
  // Under the device's cpu steering each thread is pinned to the CPUs its queue serves.
  TunWorkers(const TunDevice& dev, uint32_t batch, uint32_t busy_poll_us, const std::function<PacketFn()>& make_fn);
  ~TunWorkers();  // stops and joins
  const std::vector<std::unique_ptr<QueueCounters>>& counters() const { return counters_; }
  // Test hook: every thread stops reading its queue for `ms` (from now; a later call replaces
  // an earlier one). Packets wait in the queue meanwhile, or the kernel drops them when it is full.
  void pause_for(uint32_t ms);

 private:
  void run(size_t q, PacketFn fn);
  // Sleeps while a pause_for() is in force; false when stopping.
  bool wait_out_pause();
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<QueueCounters>> counters_;
  std::vector<int> fds_;
  Steering steering_;
  int stop_fd_ = -1;
  uint32_t batch_;
  uint64_t busy_poll_ns_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> paused_until_ns_{0};
};

uint64_t monotonic_ms();
uint64_t monotonic_ns();

}  // namespace podnet
