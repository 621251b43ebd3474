// Monitor events: what the data path just did (a drop, a new flow, a flow that ended), for
// `podnetctl monitor`. Engine threads, the GC pass and the control plane's cuts record into
// one fixed ring; the JS thread drains it while a monitor is attached (native/binding/events.cc,
// podnetd's /v1/monitor).
//
//   hot path   one relaxed load (Monitor::on) while nothing is attached; nothing else
//   recording  a token bucket per thread (rate_per_s, burst): an event over it is counted as
//              skipped, never waited for; a full ring counts the event as lost. Never blocks,
//              never allocates.
//   ring       bounded multi-producer single-consumer queue (one sequence number per cell):
//              a writer claims a cell with one CAS, the JS thread is the only reader
//   content    plain values only: addresses, ports, counter slots. Names (service port,
//              backend, pod, policy) are looked up by the binding when the event is read.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "net.h"
#include "stats.h"

namespace podnet {

enum class EventType : uint8_t { kDrop, kFlowNew, kFlowEnd };

// Why a flow ended (kFlowEnd). A TCP flow's state at removal tells closed from reset from
// expired; a cut is reported when it happens (a cut TCP flow lingers, then goes unreported).
#define PODNET_FLOW_ENDS(X)                                          \
  X(expired, "expired") /* idle past its protocol timeout */         \
  X(closed, "closed")   /* TCP: FIN seen (both ways or one) */       \
  X(reset, "reset")     /* TCP: RST seen */                          \
  X(cut, "cut")         /* backend gone or policy no longer allows */ \
  X(evicted, "evicted") /* table full: the oldest flow made room */

enum class FlowEnd : uint8_t {
#define X(id, name) id,
  PODNET_FLOW_ENDS(X)
#undef X
  count,
};
const char* flow_end_name(FlowEnd e);

// Event::flags
constexpr uint8_t kEvBackend = 1;      // be / be_port: the flow's DNAT target
constexpr uint8_t kEvSnat = 2;         // snat / snat_port: the flow's source NAT
constexpr uint8_t kEvCached = 4;       // the kernel flow cache took the new flow
constexpr uint8_t kEvParsed = 8;       // the packet parsed: family .. dport are valid
constexpr uint8_t kEvPolicyAllow = 16; // policies[0] allowed the new flow

struct Event {
  uint64_t time_ms;  // monotonic_ms() when recorded
  EventType type;
  uint8_t reason;    // kDrop: Drop; kFlowEnd: FlowEnd
  uint8_t flags;
  uint8_t kind;      // kFlowNew: FlowKind (new_flow.h)
  uint8_t family;
  uint8_t proto;
  uint8_t state;     // kFlowEnd: the flow's state byte (flow_state_name)
  uint8_t n_policies;
  uint16_t sport, dport;  // the packet as it arrived (the flow's forward key)
  uint32_t len;           // kDrop: packet length
  Addr src, dst;
  Addr be, snat;
  uint16_t be_port, snat_port;
  // Policy counter slots (stable per policy name, engine.h policy_slots): for a policy drop
  // the policies isolating the denied end, for a new flow the one that allowed it.
  static constexpr uint32_t kMaxPolicies = 4;
  uint32_t policies[kMaxPolicies];
  uint32_t more_policies;  // isolating policies beyond kMaxPolicies
};

class EventRing {
 public:
  static constexpr uint32_t kCapacity = 4096;  // a power of two
  EventRing();
  // Any thread; false when the ring is full.
  bool push(const Event& e);
  // The one reader; false when empty.
  bool pop(Event& e);

 private:
  struct Cell {
    std::atomic<uint64_t> seq;
    Event ev;
  };
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<uint64_t> head_{0};  // next cell to write
  alignas(64) uint64_t tail_ = 0;              // next cell to read (reader only)
};

struct MonitorCounts {
  uint64_t skipped;  // over a thread's rate
  uint64_t lost;     // the ring was full
};

class Monitor {
 public:
  static constexpr uint32_t kDefaultRate = 5000;   // events per second per thread
  static constexpr uint32_t kDefaultBurst = 1000;
  Monitor();

  // The hot path's one check.
  bool on() const { return attached_.load(std::memory_order_relaxed) != 0; }
  // JS thread. The first attach empties the ring (events from an earlier session) and
  // resets the counts; rate and burst apply to every thread from their next event.
  void attach(uint32_t rate_per_s = kDefaultRate, uint32_t burst = kDefaultBurst);
  void detach();
  uint32_t attached() const { return attached_.load(std::memory_order_relaxed); }

  // Any thread, only when on(): stamps e.time_ms and queues it, unless the calling thread is
  // over its rate (skipped) or the ring is full (lost).
  void record(Event& e);
  // JS thread: up to max events, oldest first.
  size_t read(Event* out, size_t max);
  // Counts since the first attach.
  MonitorCounts counts() const;

 private:
  std::atomic<uint32_t> attached_{0};
  std::atomic<uint32_t> rate_{kDefaultRate}, burst_{kDefaultBurst};
  std::atomic<uint64_t> epoch_;  // a new value per first attach: threads refill their bucket
  std::atomic<uint64_t> skipped_{0}, lost_{0};
  EventRing ring_;
};

// The summary every event starts from: the packet's flow key as parsed.
inline void event_key(Event& e, const FlowKey& k) {
  e.family = k.family;
  e.proto = k.proto;
  e.sport = k.sport;
  e.dport = k.dport;
  e.src = k.src;
  e.dst = k.dst;
  e.flags |= kEvParsed;
}

}  // namespace podnet
