// The monitor's event ring and rate limit; see events.h.
#include "events.h"

#include <time.h>

namespace podnet {

namespace {

uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

std::atomic<uint64_t> g_epoch{1};

// One thread's token bucket, in thousandths of an event so that refilling by elapsed
// milliseconds (rate_per_s per 1000 ms) stays integer arithmetic. It belongs to one monitor
// session (owner, epoch); a thread meeting another starts full.
struct Bucket {
  const Monitor* owner = nullptr;
  uint64_t epoch = 0;
  uint64_t last_ms = 0;
  uint64_t milli = 0;
};
thread_local Bucket t_bucket;

}  // namespace

const char* flow_end_name(FlowEnd e) {
  static const char* names[] = {
#define X(id, name) name,
      PODNET_FLOW_ENDS(X)
#undef X
  };
  return names[static_cast<int>(e)];
}

EventRing::EventRing() : cells_(new Cell[kCapacity]) {
  for (uint32_t i = 0; i < kCapacity; i++) cells_[i].seq.store(i, std::memory_order_relaxed);
}

// A cell is free for the writer of position p when its seq is p, and holds an event for the
// reader of p when its seq is p + 1; the reader hands it back as p + kCapacity.
bool EventRing::push(const Event& e) {
  uint64_t pos = head_.load(std::memory_order_relaxed);
  for (;;) {
    Cell& c = cells_[pos & (kCapacity - 1)];
    uint64_t seq = c.seq.load(std::memory_order_acquire);
    int64_t diff = int64_t(seq) - int64_t(pos);
    if (diff == 0) {
      if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
        c.ev = e;
        c.seq.store(pos + 1, std::memory_order_release);
        return true;
      }
    } else if (diff < 0) {
      return false;  // the reader has not freed this cell yet: full
    } else {
      pos = head_.load(std::memory_order_relaxed);
    }
  }
}

bool EventRing::pop(Event& e) {
  Cell& c = cells_[tail_ & (kCapacity - 1)];
  if (c.seq.load(std::memory_order_acquire) != tail_ + 1) return false;
  e = c.ev;
  c.seq.store(tail_ + kCapacity, std::memory_order_release);
  tail_++;
  return true;
}

Monitor::Monitor() : epoch_(g_epoch.fetch_add(1, std::memory_order_relaxed)) {}

void Monitor::attach(uint32_t rate_per_s, uint32_t burst) {
  rate_.store(rate_per_s, std::memory_order_relaxed);
  burst_.store(burst ? burst : 1, std::memory_order_relaxed);
  if (attached_.load(std::memory_order_relaxed) == 0) {
    Event stale;
    while (ring_.pop(stale)) {
    }
    skipped_.store(0, std::memory_order_relaxed);
    lost_.store(0, std::memory_order_relaxed);
    epoch_.store(g_epoch.fetch_add(1, std::memory_order_relaxed), std::memory_order_relaxed);
  }
  attached_.fetch_add(1, std::memory_order_relaxed);
}

void Monitor::detach() {
  uint32_t n = attached_.load(std::memory_order_relaxed);
  while (n && !attached_.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
}

void Monitor::record(Event& e) {
  uint64_t now = now_ms();
  uint64_t rate = rate_.load(std::memory_order_relaxed);
  uint64_t cap = uint64_t(burst_.load(std::memory_order_relaxed)) * 1000;
  uint64_t epoch = epoch_.load(std::memory_order_relaxed);
  Bucket& b = t_bucket;
  if (b.owner != this || b.epoch != epoch) b = Bucket{this, epoch, now, cap};
  if (b.milli > cap) b.milli = cap;  // the burst shrank
  if (now > b.last_ms) {
    uint64_t add = (now - b.last_ms) * rate;
    b.milli = add >= cap - b.milli ? cap : b.milli + add;
    b.last_ms = now;
  }
  if (b.milli < 1000) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  b.milli -= 1000;
  e.time_ms = now;
  if (!ring_.push(e)) lost_.fetch_add(1, std::memory_order_relaxed);
}

size_t Monitor::read(Event* out, size_t max) {
  size_t n = 0;
  while (n < max && ring_.pop(out[n])) n++;
  return n;
}

MonitorCounts Monitor::counts() const {
  return {skipped_.load(std::memory_order_relaxed), lost_.load(std::memory_order_relaxed)};
}

}  // namespace podnet
