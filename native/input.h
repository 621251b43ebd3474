// A JavaScript value as plain C++, for the rarely called, small inputs (engine options, TUN
// options, trace queries): the binding copies the JS value into an Input, and options.cc
// validates it without Node, so every check and error message is unit-testable. The inputs
// that scale with the cluster (service specs, policy tables) are converted field by field in
// the binding instead, never copied twice.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace podnet {

struct Input {
  // kAbsent is undefined or null; kOther a symbol or bigint (a function counts as an object).
  enum class Kind : uint8_t { kAbsent, kBool, kNumber, kString, kArray, kObject, kOther };
  Kind kind = Kind::kAbsent;
  bool truthy = false;  // JavaScript's Boolean(value)
  double number = 0;
  std::string string;
  std::vector<Input> items;                           // kArray
  std::vector<std::pair<std::string, Input>> fields;  // kObject

  bool absent() const { return kind == Kind::kAbsent; }
  bool is_number() const { return kind == Kind::kNumber; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_array() const { return kind == Kind::kArray; }
  // Arrays are objects too, as in JavaScript (they have no named fields here).
  bool is_object() const { return kind == Kind::kObject || kind == Kind::kArray; }

  // The field `key`, or an absent Input.
  const Input& operator[](std::string_view key) const {
    static const Input kNone;
    for (const auto& [k, v] : fields)
      if (k == key) return v;
    return kNone;
  }

  // Builders, mostly for tests: Input::object({{"port", Input::num(80)}}).
  static Input num(double d) {
    Input v;
    v.kind = Kind::kNumber;
    v.number = d;
    v.truthy = d != 0 && d == d;
    return v;
  }
  static Input str(std::string s) {
    Input v;
    v.kind = Kind::kString;
    v.truthy = !s.empty();
    v.string = std::move(s);
    return v;
  }
  static Input boolean(bool b) {
    Input v;
    v.kind = Kind::kBool;
    v.truthy = b;
    return v;
  }
  static Input array(std::vector<Input> items) {
    Input v;
    v.kind = Kind::kArray;
    v.truthy = true;
    v.items = std::move(items);
    return v;
  }
  static Input object(std::vector<std::pair<std::string, Input>> fields) {
    Input v;
    v.kind = Kind::kObject;
    v.truthy = true;
    v.fields = std::move(fields);
    return v;
  }
};

// d is an integer in [lo, hi] (false for NaN).
inline bool int_within(double d, double lo, double hi) { return d >= lo && d <= hi && d == std::floor(d); }

}  // namespace podnet
