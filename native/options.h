// The checks on the small inputs of the engine's JS API, in plain C++: engine options (with
// the egress-masquerade config and the flow timeouts), TUN options and trace queries. The
// binding copies the JS value into an Input (input.h) and calls these; each failure is an
// EngineError whose code and message ("egressMasquerade.portMax: below portMin") reach JS
// unchanged. Service specs and policy tables are checked where the binding converts them.
#pragma once
#include "engine.h"
#include "input.h"

namespace podnet {

// new Engine(options): every field optional; a non-object means all defaults.
// Codes: ENGINE_BAD_OPTION.
EngineConfig engine_config(const Input& options);

// setEgressSources({sourceIPv4?, sourceIPv6?}): the new egress-masquerade sources (absent:
// that family is no longer masqueraded). Codes: ENGINE_BAD_OPTION.
struct MasqSources {
  bool v4 = false, v6 = false;
  Addr src4{}, src6{};
};
MasqSources masquerade_sources(const Input& o);

// attachTun({name, queues?, batch?, busyPollUs?, persist?, steering?}). Codes: ENGINE_BAD_OPTION.
TunConfig tun_config(const Input& options);

// trace({from, to, port, protocol, sourcePort?}). Codes: ENGINE_BAD_SPEC, and
// ENGINE_BAD_OPTION for sourcePort.
Engine::TraceQuery trace_query(const Input& query);

}  // namespace podnet
