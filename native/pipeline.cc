// Stage 4 of the pipeline (existing flows), the dispatcher and the dry run; see pipeline.h
// for the order of the stages.
#include "pipeline.h"

#include "kernel_cache.h"
#include "new_flow.h"

namespace podnet {

namespace {

// Stage 4 for a cut TCP flow (kReset): both endpoints still believe in the connection, so
// instead of forwarding the packet from A to B (sequence S, acknowledging K), A gets a RST
// with sequence K, its own ack, and B a RST with sequence S, addressed as the flow would have
// translated the packet (a client sees the VIP). Each is what that end expects next, so both
// close at once instead of waiting out a timeout for replies that will never come right.
// A RST from either end is passed on translated and never answered.
Result reset_cut_flow(const PipelineEnv& env, uint8_t* pkt, const Parsed& p, VnetHdr* vh, const FlowHit& hit,
                      uint8_t* scratch) {
  if (p.tcp_flags & kTcpRst) {
    translate(pkt, p, vh, hit.x);
    return forward_packet(pkt, p.len);
  }
  env.counters->drop(Drop::reset_cut_flow);
  env.counters->reply(Reply::rst);
  env.counters->reply(Reply::rst);
  if (vh) *vh = VnetHdr{};
  uint8_t* onward = scratch + kScratchSize / 2;
  Result r{Verdict::kReply, Drop::reset_cut_flow, scratch, build_tcp_rst(pkt, p, scratch)};
  r.out2 = onward;
  r.out2_len = build_tcp_rst_onward(pkt, p, hit.x, onward);
  return r;
}

bool is_cut(const FlowHit& hit) { return hit.proto == kTCP && (hit.state & kStateMask) == kReset; }

// A closed TCP flow (both FINs, or a RST) whose record still waits out its timeout.
bool is_closed(const FlowHit& hit) {
  uint8_t base = hit.state & kStateMask;
  return hit.proto == kTCP && (base == kTimeWait || base == kClose);
}

// A client reusing the port of a cut or closed flow opens a new connection: it is judged
// afresh (today's backends and policy; a new record, so a new kernel cache entry) rather than
// reset or revived, as conntrack starts a new entry for a SYN in TIME_WAIT.
bool reopens(const FlowHit& hit, const Parsed& p) {
  return (is_cut(hit) || is_closed(hit)) && hit.dir == kForward && (p.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
}

// Packets that may belong to a flow of the table.
bool trackable(const Tables& t, const Parsed& p) {
  bool echo = p.icmp_echo_request || p.icmp_echo_reply;
  return !p.later_fragment && (p.proto == kTCP || p.proto == kUDP || (echo && t.policy.active));
}

// A drop or reject for the monitor. The packet is as it arrived (only forwarded packets are
// rewritten), parsed again: this runs only while a monitor is attached.
void report_drop(const PipelineEnv& env, const uint8_t* pkt, size_t len, Drop why) {
  Event e{};
  e.type = EventType::kDrop;
  e.reason = uint8_t(why);
  e.len = uint32_t(len);
  Parsed p;
  Drop ignored;
  if (parse_packet(pkt, len, p, &ignored)) event_key(e, p.key);
  else if (len) e.family = pkt[0] >> 4;
  env.monitor->record(e);
}

Result run_stages(const PipelineEnv& env, const Tables& t, uint8_t* pkt, size_t len, VnetHdr* vh, uint64_t now_ms,
                  uint8_t* scratch) {
  Parsed p;
  Drop why;
  if (!parse_packet(pkt, len, p, &why)) return count_drop(env, why);
  if (vh && !vnet_check(*vh, p)) return count_drop(env, Drop::bad_vnet_hdr);
  if (p.icmp_error) return translate_icmp_error(env, t.services, pkt, p, vh, now_ms);

  FlowHit hit;
  if (trackable(t, p) && env.flows->lookup(p.key, now_ms, hit)) {
    if (reopens(hit, p)) {
      if (env.cache && t.pods) env.cache->forget(p.key, hit, *t.pods);
      env.flows->remove(hit.idx, hit.gen, is_cut(hit) ? FlowEnd::cut : FlowEnd::closed);
    } else if (!is_cut(hit)) {
      translate(pkt, p, vh, hit.x);
      env.flows->touch(hit, p.tcp_flags, now_ms);
      count_packet(env, hit.svc_slot, hit.be_slot, p.len);
      return forward_packet(pkt, p.len);
    } else {
      // Not touched: the cut flow lives tcp_close_ms from the cut, however chatty its ends are.
      return reset_cut_flow(env, pkt, p, vh, hit, scratch);
    }
  }
  FlowPlan plan = plan_new_flow(env, t, p, now_ms);
  return commit_new_flow(env, t, plan, pkt, p, vh, now_ms, scratch);
}

}  // namespace

// A NetworkPolicy denial reports itself, with the policies that isolate the denied end (new_flow.cc).
Result process_packet(const PipelineEnv& env, const Tables& t, uint8_t* pkt, size_t len, VnetHdr* vh,
                      uint64_t now_ms, uint8_t* scratch) {
  Result r = run_stages(env, t, pkt, len, vh, now_ms, scratch);
  if (r.reason != Drop::none && r.reason != Drop::policy_ingress && r.reason != Drop::policy_egress &&
      env.monitoring())
    report_drop(env, pkt, len, r.reason);
  return r;
}

void trace_packet(const PipelineEnv& env, const Tables& t, const uint8_t* pkt, size_t len, uint64_t now_ms,
                  TraceInfo& out) {
  out = TraceInfo{Verdict::kForward, Drop::none, false, false, nullptr, {}, {}};
  Parsed p;
  Drop why;
  if (!parse_packet(pkt, len, p, &why)) {
    out.verdict = Verdict::kDrop;
    out.reason = why;
    return;
  }
  out.service = t.services.is_vip(p.family, p.key.dst);
  FlowHit hit;
  if (trackable(t, p) && env.flows->lookup(p.key, now_ms, hit) && !reopens(hit, p)) {
    out.existing_flow = true;
    out.x = hit.x;
    if (out.service) out.svc = t.services.find(p.family, p.proto, p.key.dst, p.key.dport);
    if (is_cut(hit) && !(p.tcp_flags & kTcpRst)) {
      out.verdict = Verdict::kReply;
      out.reason = Drop::reset_cut_flow;
    }
    return;
  }
  FlowPlan plan = plan_new_flow(env, t, p, now_ms);
  out.svc = plan.svc;
  out.policy = plan.policy;
  out.reason = plan.reason;
  switch (plan.action) {
    case PlanAction::kPass: break;
    case PlanAction::kDrop: out.verdict = Verdict::kDrop; break;
    case PlanAction::kReject:
    case PlanAction::kEcho: out.verdict = Verdict::kReply; break;
    case PlanAction::kAdmit:
      out.x = plan.flow.fwd_x;
      out.cached = plan.cache.ok();
      break;
  }
}

}  // namespace podnet
