// The binding's conversion primitives (see binding.h): coded errors, readers of one field
// that name it when it is wrong, and the plain copy of a small JS value that options.cc checks.
#include "binding.h"

namespace podnet::binding {

Napi::Error coded(Napi::Env env, const std::string& code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

void bad(Napi::Env env, const std::string& where, const std::string& why, const char* code) {
  throw coded(env, code, where + ": " + why);
}

double int_in(Napi::Value v, const std::string& where, double lo, double hi, const std::string& range,
              const char* code) {
  if (!v.IsNumber()) bad(v.Env(), where, "not a number", code);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!int_within(d, lo, hi)) bad(v.Env(), where, range, code);
  return d;
}

uint16_t port_of(Napi::Value v, const std::string& where) {
  return uint16_t(int_in(v, where + ".port", 1, 65535, "must be an integer in [1, 65535]"));
}

std::string get_string(Napi::Object o, const char* key, const std::string& where, bool required) {
  Napi::Value v = o.Get(key);
  if (absent(v)) {
    if (required) bad(o.Env(), where + "." + key, "required");
    return "";
  }
  if (!v.IsString()) bad(o.Env(), where + "." + key, "not a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Array get_array(Napi::Object o, const char* key, const std::string& where, bool required) {
  Napi::Value v = o.Get(key);
  if (absent(v)) {
    if (required) bad(o.Env(), where + "." + key, "required");
    return Napi::Array::New(o.Env());
  }
  if (!v.IsArray()) bad(o.Env(), where + "." + key, "not an array");
  return v.As<Napi::Array>();
}

Napi::Object object_at(Napi::Array a, uint32_t i, const std::string& where) {
  Napi::Value v = a.Get(i);
  if (!v.IsObject()) bad(a.Env(), where, "not an object");
  return v.As<Napi::Object>();
}

std::string string_at(Napi::Array a, uint32_t i, const std::string& where) {
  Napi::Value v = a.Get(i);
  if (!v.IsString()) bad(a.Env(), where, "not a string");
  return v.As<Napi::String>().Utf8Value();
}

std::string at(const std::string& where, uint32_t i) { return where + "[" + std::to_string(i) + "]"; }

namespace {

// Deeper than any field options.cc reads (egressMasquerade.podCIDRs[i] is 3): below it,
// objects and arrays are kept empty, so an unrelated deep or cyclic field costs nothing.
constexpr int kInputDepth = 4;

Input to_input(Napi::Value v, int depth) {
  Input in;
  switch (v.Type()) {
    case napi_undefined:
    case napi_null:
      return in;
    case napi_boolean:
      return Input::boolean(v.As<Napi::Boolean>().Value());
    case napi_number:
      return Input::num(v.As<Napi::Number>().DoubleValue());
    case napi_string:
      return Input::str(v.As<Napi::String>().Utf8Value());
    case napi_object:
    case napi_function:
      break;
    default:  // symbol, bigint
      in.kind = Input::Kind::kOther;
      in.truthy = v.ToBoolean().Value();
      return in;
  }
  if (v.IsArray()) {
    in = Input::array({});
    if (depth >= kInputDepth) return in;
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) in.items.push_back(to_input(a.Get(i), depth + 1));
    return in;
  }
  in = Input::object({});
  if (depth >= kInputDepth) return in;
  // Enumerable string keys, inherited ones included: what Get(key) would find.
  Napi::Object o = v.As<Napi::Object>();
  Napi::Array names = o.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    Napi::Value name = names.Get(i);
    in.fields.emplace_back(name.ToString().Utf8Value(), to_input(o.Get(name), depth + 1));
  }
  return in;
}

}  // namespace

Input to_input(Napi::Value v) { return to_input(v, 0); }

}  // namespace podnet::binding
