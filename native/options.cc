// Engine, TUN and trace options from a plain Input; see options.h. Paths in messages are
// the JS field names ("timeouts.udpSec"), so a bad option names what to fix.
#include "options.h"

#include <string>
#include <tuple>

#include "addr_text.h"

namespace podnet {

namespace {

constexpr const char* kBadOption = "ENGINE_BAD_OPTION";
constexpr const char* kBadSpec = "ENGINE_BAD_SPEC";

[[noreturn]] void fail(const char* code, const std::string& where, const std::string& why) {
  throw EngineError(code, where + ": " + why);
}

// v as an integer in [lo, hi], else "where: not a number" or "where: <range>".
double int_in(const Input& v, const std::string& where, double lo, double hi, const std::string& range,
              const char* code) {
  if (!v.is_number()) fail(code, where, "not a number");
  if (!int_within(v.number, lo, hi)) fail(code, where, range);
  return v.number;
}

// The optional integer field o[key] in [min, max], def when absent.
uint32_t get_uint(const Input& o, const char* key, uint32_t def, uint32_t min, uint32_t max, const std::string& where) {
  const Input& v = o[key];
  if (v.absent()) return def;
  return uint32_t(int_in(v, where + key, min, max,
                         "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]", kBadOption));
}

// The optional address field o[key] of the given family; false when absent.
bool get_ip(const Input& o, const char* key, const std::string& where, uint8_t want, Addr& out) {
  const Input& v = o[key];
  if (v.absent()) return false;
  uint8_t family = 0;
  if (!v.is_string() || !parse_ip(v.string, out, family) || family != want)
    fail(kBadOption, where + key, std::string("not an IPv") + (want == 4 ? "4" : "6") + " address");
  return true;
}

// A required string field of a trace query.
std::string trace_string(const Input& q, const char* key) {
  const Input& v = q[key];
  if (v.absent()) fail(kBadSpec, std::string("trace.") + key, "required");
  if (!v.is_string()) fail(kBadSpec, std::string("trace.") + key, "not a string");
  return v.string;
}

void masquerade(const Input& o, MasqConfig& m) {
  const std::string where = "egressMasquerade.";
  auto cidrs = [&](const char* key, std::vector<IpRange>& v4, std::vector<IpRange>& v6) {
    const Input& v = o[key];
    if (v.absent()) return;
    if (!v.is_array()) fail(kBadOption, where + key, "not an array");
    std::vector<std::string> text;
    for (const Input& item : v.items) text.push_back(item.is_string() ? item.string : "");
    long bad = cidr_list(text, v4, v6);
    if (bad >= 0) fail(kBadOption, where + key + "[" + std::to_string(bad) + "]", "not a CIDR: '" + text[size_t(bad)] + "'");
  };
  cidrs("podCIDRs", m.pods4, m.pods6);
  cidrs("exemptCIDRs", m.exempt4, m.exempt6);
  m.v4 = get_ip(o, "sourceIPv4", where, 4, m.src4);
  m.v6 = get_ip(o, "sourceIPv6", where, 6, m.src6);
  m.port_lo = uint16_t(get_uint(o, "portMin", m.port_lo, 1024, 65535, where));
  m.port_hi = uint16_t(get_uint(o, "portMax", m.port_hi, 1024, 65535, where));
  if (m.port_hi < m.port_lo) fail(kBadOption, where + "portMax", "below portMin");
}

void timeouts(const Input& t, Timeouts& out) {
  using T = Timeouts;
  static const std::pair<const char*, uint32_t T::*> kSec[] = {
      {"tcpSynSec", &T::tcp_syn_ms}, {"tcpEstablishedSec", &T::tcp_established_ms}, {"tcpFinSec", &T::tcp_fin_ms},
      {"tcpTimeWaitSec", &T::tcp_time_wait_ms}, {"tcpCloseSec", &T::tcp_close_ms}, {"udpSec", &T::udp_ms},
      {"udpStreamSec", &T::udp_stream_ms}, {"icmpSec", &T::icmp_ms}};
  for (auto [key, field] : kSec) out.*field = get_uint(t, key, out.*field / 1000, 1, 30 * 86400, "timeouts.") * 1000;
}

}  // namespace

EngineConfig engine_config(const Input& options) {
  static const Input kDefaults = Input::object({});
  const Input& o = options.is_object() ? options : kDefaults;
  EngineConfig c;
  c.flow_capacity = get_uint(o, "flowCapacity", c.flow_capacity, 16, 1u << 26, "");
  c.maglev_size = get_uint(o, "maglevSize", c.maglev_size, 3, 1000003, "");
  c.max_service_ports = get_uint(o, "maxServicePorts", c.max_service_ports, 1, 1u << 22, "");
  get_ip(o, "hairpinIPv4", "", 4, c.hairpin4);
  get_ip(o, "hairpinIPv6", "", 6, c.hairpin6);
  get_ip(o, "probeIPv4", "", 4, c.probe4);
  get_ip(o, "probeIPv6", "", 6, c.probe6);
  const Input& masq = o["egressMasquerade"];
  if (masq.is_object()) masquerade(masq, c.masq);
  else if (!masq.absent()) fail(kBadOption, "egressMasquerade", "not an object");
  const Input& state = o["stateFile"];
  if (state.is_string()) c.state_file = state.string;
  else if (!state.absent()) fail(kBadOption, "stateFile", "not a string");
  if (o["timeouts"].is_object()) timeouts(o["timeouts"], c.timeouts);
  return c;
}

MasqSources masquerade_sources(const Input& o) {
  if (!o.is_object()) throw EngineError(kBadOption, "setEgressSources: an object required");
  MasqSources s;
  s.v4 = get_ip(o, "sourceIPv4", "", 4, s.src4);
  s.v6 = get_ip(o, "sourceIPv6", "", 6, s.src6);
  return s;
}

TunConfig tun_config(const Input& o) {
  if (!o.is_object()) throw EngineError(kBadOption, "attachTun: options required");
  TunConfig c;
  if (!o["name"].is_string()) throw EngineError(kBadOption, "name: required string");
  c.name = o["name"].string;
  c.queues = get_uint(o, "queues", 1, 1, 64, "");
  c.batch = get_uint(o, "batch", 64, 1, 4096, "");
  c.busy_poll_us = get_uint(o, "busyPollUs", 0, 0, 10000, "");
  c.persist = o["persist"].truthy;
  const Input& st = o["steering"];
  if (!st.absent()) {
    if (st.is_string() && st.string == "cpu") c.steering = Steering::kCpu;
    else if (st.is_string() && st.string == "flow") c.steering = Steering::kFlow;
    else fail(kBadOption, "steering", "must be \"cpu\" or \"flow\"");
  }
  return c;
}

Engine::TraceQuery trace_query(const Input& o) {
  if (!o.is_object()) fail(kBadSpec, "trace", "options required");
  Engine::TraceQuery q{};
  uint8_t to_family = 0;
  std::string from = trace_string(o, "from"), to = trace_string(o, "to");
  if (!parse_ip(from, q.src, q.family)) fail(kBadSpec, "trace.from", "not an IP address: '" + from + "'");
  if (!parse_ip(to, q.dst, to_family)) fail(kBadSpec, "trace.to", "not an IP address: '" + to + "'");
  if (q.family != to_family) fail(kBadSpec, "trace.to", "family differs from trace.from");
  q.dport = uint16_t(int_in(o["port"], "trace.port", 1, 65535, "must be an integer in [1, 65535]", kBadSpec));
  std::string proto = trace_string(o, "protocol");
  q.proto = proto == "TCP" ? kTCP : proto == "UDP" ? kUDP : 0;
  if (!q.proto) fail(kBadSpec, "trace.protocol", "must be TCP or UDP, got '" + proto + "'");
  q.sport = uint16_t(get_uint(o, "sourcePort", 40000, 1, 65535, "trace."));
  return q;
}

}  // namespace podnet
