// The N-API binding, shared by its files: native/binding/ is the only place that includes
// napi.h. It converts and nothing else. JS values come in as the engine's plain C++ specs
// (a bad field is a coded error naming it, never a crash): the small inputs through an Input
// checked by options.cc, service specs and policy tables field by field here, as they scale
// with the cluster. Engine state goes out as plain JS objects. Engine threads never call into JS.
//
//   engine_wrap.cc    the Engine class: lifecycle, the method table, TUN, stats; sdNotify
//   service_specs.cc  apply()/replace() deltas -> ServicePortSpec / SvcKey
//   policy.cc         setPolicy() tables -> PolicySpec; policyStats()
//   trace.cc          process(), trace(), flows(): what the engine does with a packet
//   fast_path.cc      the kernel flow cache: enable, the node's pods, status, cleanup
//   events.cc         podnetctl monitor: attach to the event ring, drain it, detach
//   convert.cc        coded errors, field readers, JS value -> Input
#pragma once
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

#include "../engine.h"
#include "../input.h"

namespace podnet::binding {

Napi::Error coded(Napi::Env env, const std::string& code, const std::string& msg);
// Throws the coded error "where: why".
[[noreturn]] void bad(Napi::Env env, const std::string& where, const std::string& why,
                      const char* code = "ENGINE_BAD_SPEC");
// Runs fn; an EngineError becomes a JS error with its code and message.
template <typename F>
auto engine_call(Napi::Env env, F&& fn) {
  try {
    return fn();
  } catch (const EngineError& e) {
    throw coded(env, e.code, e.what());
  }
}

inline bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }
// v as an integer in [lo, hi], else a coded error "where: not a number" or "where: range".
double int_in(Napi::Value v, const std::string& where, double lo, double hi, const std::string& range,
              const char* code = "ENGINE_BAD_SPEC");
// v as a port, else a coded error naming where.port.
uint16_t port_of(Napi::Value v, const std::string& where);
// o[key] as a string ("" when absent and not required).
std::string get_string(Napi::Object o, const char* key, const std::string& where, bool required);
// o[key] as an array (empty when absent and not required).
Napi::Array get_array(Napi::Object o, const char* key, const std::string& where, bool required);
Napi::Object object_at(Napi::Array a, uint32_t i, const std::string& where);
std::string string_at(Napi::Array a, uint32_t i, const std::string& where);
// "where[i]".
std::string at(const std::string& where, uint32_t i);

// A plain copy of a small JS value for options.cc.
Input to_input(Napi::Value v);

// service_specs.cc: an upsert list (absent: none) and a remove list of keys.
std::vector<ServicePortSpec> parse_specs(Napi::Value v, const std::string& where);
std::vector<SvcKey> parse_keys(Napi::Value v, const std::string& where);

// policy.cc
PolicySpec parse_policy(Napi::Env env, Napi::Value v);
Napi::Object policy_stats(Napi::Env env, const Engine& e);

// trace.cc
Napi::Object process_packet(Napi::Env env, Engine& e, Napi::Value packet, Napi::Value options);
Napi::Object trace(Napi::Env env, Engine& e, const Engine::TraceQuery& q);
Napi::Array flows(Napi::Env env, const Engine& e, uint32_t limit);

// fast_path.cc
Napi::Value enable_fast_path(Engine& e, const Napi::CallbackInfo& info);
Napi::Value set_local_pod(Engine& e, const Napi::CallbackInfo& info);
Napi::Value set_uplinks(Engine& e, const Napi::CallbackInfo& info);
Napi::Value set_cluster_peers(Engine& e, const Napi::CallbackInfo& info);
Napi::Value delete_local_pod(Engine& e, const Napi::CallbackInfo& info);
Napi::Value local_pod_entry(const Engine& e, const Napi::CallbackInfo& info);
Napi::Value fast_path_status(const Engine& e, const Napi::CallbackInfo& info);
Napi::Value fast_path_remove_all(Engine& e, const Napi::CallbackInfo& info);

// events.cc
Napi::Value monitor_start(Engine& e, const Napi::CallbackInfo& info);
Napi::Value monitor_read(Engine& e, const Napi::CallbackInfo& info);
Napi::Value monitor_stop(Engine& e, const Napi::CallbackInfo& info);

}  // namespace podnet::binding
