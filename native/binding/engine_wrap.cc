// The addon's entry: the Engine class JS constructs (lifecycle, the method table, TUN attach,
// stats) and sdNotify. Each method reads as: check the engine is open, convert the input
// (binding.h), call the engine, convert the result.
#include <cstring>
#include <memory>

#include "../addr_text.h"
#include "../options.h"
#include "../sd_notify.h"
#include "binding.h"

namespace podnet::binding {

namespace {

Napi::Object apply_result(Napi::Env env, const ApplyResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", double(r.version));
  o.Set("servicePorts", double(r.service_ports));
  o.Set("flowsPurged", double(r.flows_purged));
  return o;
}

Napi::Object tun_info(Napi::Env env, const TunDevice& t) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("name", t.name());
  r.Set("ifindex", t.ifindex());
  r.Set("queues", double(t.fds().size()));
  r.Set("steering", steering_name(t.steering()));
  if (!t.steering_error().empty()) r.Set("steeringError", t.steering_error());
  Napi::Array off = Napi::Array::New(env);
  for (size_t i = 0; i < t.offloads().size(); i++) off.Set(uint32_t(i), t.offloads()[i]);
  r.Set("offloads", off);
  return r;
}

void set_counters(const Counter& c, Napi::Object o) {
  o.Set("packets", double(c.packets.load(std::memory_order_relaxed)));
  o.Set("bytes", double(c.bytes.load(std::memory_order_relaxed)));
  o.Set("flows", double(c.flows.load(std::memory_order_relaxed)));
}

// One service port of stats().services, with its backends.
Napi::Object service_stats(Napi::Env env, const Engine& e, const SvcKey& k, const ServicePort& sp) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("vip", format_ip(k.family, k.vip));
  o.Set("port", k.port);
  o.Set("protocol", k.proto == kTCP ? "TCP" : "UDP");
  o.Set("name", sp.name);
  set_counters(e.svc_counter(sp.slot), o);
  Napi::Array bs = Napi::Array::New(env);
  for (uint32_t j = 0; j < sp.backends.size(); j++) {
    const Backend& b = sp.backends[j];
    Napi::Object bo = Napi::Object::New(env);
    bo.Set("ip", format_ip(k.family, b.addr));
    bo.Set("port", b.port);
    bo.Set("terminating", b.terminating);
    if (!b.name.empty()) bo.Set("name", b.name);
    set_counters(e.be_counter(b.slot), bo);
    bs.Set(j, bo);
  }
  o.Set("backends", bs);
  return o;
}

Napi::Array queue_stats(Napi::Env env, const Engine& e) {
  Napi::Array qs = Napi::Array::New(env);
  auto qc = e.queue_counters();
  for (uint32_t q = 0; q < qc.size(); q++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("queue", q);
    using Q = QueueCounters;
    static const std::pair<const char*, std::atomic<uint64_t> Q::*> kQueue[] = {
        {"packetsIn", &Q::packets_in}, {"packetsOut", &Q::packets_out}, {"bytesIn", &Q::bytes_in},
        {"wakeups", &Q::wakeups}, {"gsoPackets", &Q::gso_packets}, {"readErrors", &Q::read_errors},
        {"writeErrors", &Q::write_errors}, {"busyPolled", &Q::busy_polled}};
    for (auto [k, field] : kQueue) o.Set(k, double((qc[q]->*field).load()));
    qs.Set(q, o);
  }
  return qs;
}

Napi::Object stats(Napi::Env env, const Engine& e) {
  auto t = e.table();
  Napi::Object s = Napi::Object::New(env);
  s.Set("version", double(t->version));
  s.Set("restoredFlows", e.flows().restored());
  FlowTableStats fs = e.flows().stats();
  Napi::Object f = Napi::Object::New(env);
  f.Set("active", double(fs.active));
  f.Set("capacity", double(fs.capacity));
  f.Set("created", double(fs.created));
  f.Set("expired", double(fs.expired));
  f.Set("evicted", double(fs.evicted));
  s.Set("flows", f);
  Napi::Object drops = Napi::Object::New(env);
  for (int i = 0; i < int(Drop::count); i++)
    drops.Set(drop_name(Drop(i)), double(e.counters().drops[i].load(std::memory_order_relaxed)));
  s.Set("drops", drops);
  Napi::Object replies = Napi::Object::New(env);
  for (int i = 0; i < int(Reply::count); i++)
    replies.Set(reply_name(Reply(i)), double(e.counters().replies[i].load(std::memory_order_relaxed)));
  s.Set("replies", replies);
  s.Set("passthrough", double(e.counters().passthrough.load(std::memory_order_relaxed)));
  Napi::Array svcs = Napi::Array::New(env);
  uint32_t i = 0;
  t->ports.for_each([&](const SvcKey& k, const std::shared_ptr<const ServicePort>& sp) {
    svcs.Set(i++, service_stats(env, e, k, *sp));
  });
  s.Set("services", svcs);
  s.Set("queues", queue_stats(env, e));
  return s;
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod("apply", &EngineWrap::Apply), InstanceMethod("replace", &EngineWrap::Replace),
                        InstanceMethod("attachTun", &EngineWrap::AttachTun),
                        InstanceMethod("detachTun", &EngineWrap::DetachTun), InstanceMethod("stats", &EngineWrap::Stats),
                        InstanceMethod("flows", &EngineWrap::Flows), InstanceMethod("process", &EngineWrap::Process),
                        InstanceMethod("trace", &EngineWrap::Trace), InstanceMethod("setPolicy", &EngineWrap::SetPolicy),
                        InstanceMethod("policyStats", &EngineWrap::PolicyStats),
                        InstanceMethod("setEgressSources", &EngineWrap::SetEgressSources),
                        InstanceMethod("enableFastPath", &EngineWrap::EnableFastPath),
                        InstanceMethod("setLocalPod", &EngineWrap::SetLocalPod),
                        InstanceMethod("setUplinks", &EngineWrap::SetUplinks),
                        InstanceMethod("setClusterPeers", &EngineWrap::SetClusterPeers),
                        InstanceMethod("deleteLocalPod", &EngineWrap::DeleteLocalPod),
                        InstanceMethod("localPodEntry", &EngineWrap::LocalPodEntry),
                        InstanceMethod("fastPathStatus", &EngineWrap::FastPathStatus),
                        InstanceMethod("fastPathRemoveAll", &EngineWrap::FastPathRemoveAll),
                        InstanceMethod("monitorStart", &EngineWrap::MonitorStart),
                        InstanceMethod("monitorRead", &EngineWrap::MonitorRead),
                        InstanceMethod("monitorStop", &EngineWrap::MonitorStop),
                        InstanceMethod("close", &EngineWrap::Close),
                        InstanceMethod("pauseThreadsForTest", &EngineWrap::PauseThreadsForTest)});
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    EngineConfig c = engine_call(env, [&] { return engine_config(to_input(info[0])); });
    try {
      engine_ = std::make_unique<Engine>(c);
    } catch (const EngineError& e) {
      throw coded(env, e.code, e.what());
    } catch (const std::bad_alloc&) {
      throw coded(env, "ENGINE_NO_MEMORY", "cannot allocate the engine tables");
    } catch (const std::exception& e) {
      throw coded(env, "ENGINE_STATE_FILE", e.what());
    }
  }

 private:
  Engine& engine(Napi::Env env) {
    if (!engine_) throw coded(env, "ENGINE_CLOSED", "the engine is closed");
    return *engine_;
  }

  Napi::Value Apply(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) bad(env, "delta", "not an object");
    Napi::Object d = info[0].As<Napi::Object>();
    auto upsert = parse_specs(d.Get("upsert"), "upsert");
    auto remove = parse_keys(d.Get("remove"), "remove");
    return Run(env, upsert, remove, false);
  }

  Napi::Value Replace(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) bad(env, "specs", "required");
    return Run(env, parse_specs(info[0], "specs"), {}, true);
  }

  Napi::Value Run(Napi::Env env, const std::vector<ServicePortSpec>& upsert, const std::vector<SvcKey>& remove,
                  bool all) {
    return apply_result(env, engine_call(env, [&] { return engine(env).apply(upsert, remove, all); }));
  }

  Napi::Value AttachTun(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    TunConfig c = engine_call(env, [&] { return tun_config(to_input(info[0])); });
    engine_call(env, [&] { engine(env).attach_tun(c); });
    return tun_info(env, *engine_->tun());
  }

  Napi::Value DetachTun(const Napi::CallbackInfo& info) {
    engine(info.Env()).detach_tun();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) { return stats(info.Env(), engine(info.Env())); }

  Napi::Value Flows(const Napi::CallbackInfo& info) {
    Engine& e = engine(info.Env());
    uint32_t limit = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 1000;
    return flows(info.Env(), e, limit);
  }

  Napi::Value Process(const Napi::CallbackInfo& info) {
    return process_packet(info.Env(), engine(info.Env()), info[0], info[1]);
  }

  // trace({from, to, port, protocol, sourcePort?}): what the engine would do with the first
  // packet of such a connection (a TCP SYN or a UDP datagram), without creating anything.
  Napi::Value Trace(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = engine(env);
    Engine::TraceQuery q = engine_call(env, [&] { return trace_query(to_input(info[0])); });
    return trace(env, e, q);
  }

  Napi::Value SetPolicy(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = engine(env);
    if (info.Length() < 1) bad(env, "policy", "required");
    auto [version, cut] = e.set_policy(build_policy_table(parse_policy(env, info[0])));
    Napi::Object r = Napi::Object::New(env);
    r.Set("version", double(version));
    r.Set("flowsCut", double(cut));
    return r;
  }

  Napi::Value PolicyStats(const Napi::CallbackInfo& info) { return policy_stats(info.Env(), engine(info.Env())); }

  // setEgressSources({sourceIPv4?, sourceIPv6?}) -> {flowsCut}: the egress masquerade's node
  // address per family follows the uplinks (a family without one is not masqueraded).
  Napi::Value SetEgressSources(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = engine(env);
    MasqSources s = engine_call(env, [&] { return masquerade_sources(to_input(info[0])); });
    size_t cut = e.set_masquerade_sources(s.v4 ? &s.src4 : nullptr, s.v6 ? &s.src6 : nullptr);
    Napi::Object r = Napi::Object::New(env);
    r.Set("flowsCut", double(cut));
    return r;
  }

  Napi::Value EnableFastPath(const Napi::CallbackInfo& info) { return enable_fast_path(engine(info.Env()), info); }
  Napi::Value SetLocalPod(const Napi::CallbackInfo& info) { return set_local_pod(engine(info.Env()), info); }
  Napi::Value SetUplinks(const Napi::CallbackInfo& info) { return set_uplinks(engine(info.Env()), info); }
  Napi::Value SetClusterPeers(const Napi::CallbackInfo& info) { return set_cluster_peers(engine(info.Env()), info); }
  Napi::Value DeleteLocalPod(const Napi::CallbackInfo& info) { return delete_local_pod(engine(info.Env()), info); }
  Napi::Value LocalPodEntry(const Napi::CallbackInfo& info) { return local_pod_entry(engine(info.Env()), info); }
  Napi::Value FastPathStatus(const Napi::CallbackInfo& info) { return fast_path_status(engine(info.Env()), info); }
  Napi::Value FastPathRemoveAll(const Napi::CallbackInfo& info) { return fast_path_remove_all(engine(info.Env()), info); }

  Napi::Value MonitorStart(const Napi::CallbackInfo& info) { return monitor_start(engine(info.Env()), info); }
  Napi::Value MonitorRead(const Napi::CallbackInfo& info) { return monitor_read(engine(info.Env()), info); }
  Napi::Value MonitorStop(const Napi::CallbackInfo& info) { return monitor_stop(engine(info.Env()), info); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    engine_.reset();
    return info.Env().Undefined();
  }

  // pauseThreadsForTest(ms) -> false when no TUN is attached. A test hook: podnetd reaches it
  // only with PODNET_TEST_HOOKS=1.
  Napi::Value PauseThreadsForTest(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = engine(env);
    uint32_t ms = uint32_t(int_in(info[0], "pauseThreadsForTest.ms", 0, 600000, "must be an integer in [0, 600000]"));
    return Napi::Boolean::New(env, e.pause_threads_for_test(ms));
  }

  std::unique_ptr<Engine> engine_;
};

// sdNotify("READY=1") -> 0 sent, 1 not under systemd; throws ENGINE_NOTIFY on a socket error.
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw coded(env, "ENGINE_BAD_ARGUMENT", "sdNotify: message string required");
  int r = sd_notify_send(info[0].As<Napi::String>().Utf8Value());
  if (r < 0) throw coded(env, "ENGINE_NOTIFY", std::string("sd_notify: ") + std::strerror(-r));
  return Napi::Number::New(env, r);
}

Napi::Object Exports(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Init(env));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
  exports.Set("version", Napi::String::New(env, "0.1.0"));
  return exports;
}

}  // namespace

}  // namespace podnet::binding

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return podnet::binding::Exports(env, exports); }

NODE_API_MODULE(podnet_engine, Init)
