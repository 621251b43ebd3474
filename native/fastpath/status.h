// Result of a fast-path control operation (load, pin, attach, detach): an errno and the
// step that failed. Control-path only; the per-flow map calls return -errno directly.
#ifndef PODNET_FASTPATH_STATUS_H
#define PODNET_FASTPATH_STATUS_H

#include <cstring>
#include <string>
#include <utility>

namespace podnet::fastpath {

struct Status {
  int err = 0;          // positive errno, 0 = success
  std::string message;  // "what failed: strerror"; empty on success

  bool ok() const { return err == 0; }
  static Status Ok() { return {}; }
  /** `e` may be negative (libbpf's -errno) or positive. */
  static Status Errno(int e, const std::string& what) {
    if (e < 0) e = -e;
    if (e == 0) e = EINVAL;
    return {e, what + ": " + std::strerror(e)};
  }
  static Status Invalid(std::string what) { return {EINVAL, std::move(what)}; }
};

}  // namespace podnet::fastpath

#endif  // PODNET_FASTPATH_STATUS_H
