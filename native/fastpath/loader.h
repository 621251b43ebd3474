// Loader of the kernel flow cache (native/bpf/flow_cache.bpf.c): opens the BPF object from a
// file or from bytes embedded in the addon, sizes the flow map, loads the program, pins the
// maps on a bpffs and attaches the program to pod host veths (tcx, or clsact + cls_bpf).
//
// Restart story: everything lives under <pin root>/podnet/v<layout version>/. A second Open
// on the same root reuses the pinned maps (cached flows keep flowing and are not lost) and
// swaps its freshly loaded program into every pinned attachment atomically: tcx links get
// bpf_link_update, clsact filters are replaced at the same handle and priority. Nothing
// here detaches on close: attachments and maps outlive the daemon by design.
//
// Pins under <pin root>/podnet/v<N>/ (N = PODNET_FC_VERSION):
//   podnet_flows_v2 ...          the four maps (names from flow_cache.h)
//   tcx_<ifindex>                the tcx ingress link on that device
//   clsact_<ifindex>_<h>_<prio>  the program of a clsact ingress filter (handle h in hex),
//                                kept as the record that the filter is ours
//
// ifindexes are those of the network namespace the loader runs in.
#ifndef PODNET_FASTPATH_LOADER_H
#define PODNET_FASTPATH_LOADER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "status.h"

struct bpf_object;
struct bpf_map;

namespace podnet::fastpath {

enum MapId { kFlowsMap = 0, kPodsMap = 1, kStatsMap = 2, kSpoofMap = 3, kMapCount = 4 };

/** The object file: `path`, or `data`/`size` (bytes that must stay valid during Open). */
struct ObjectSource {
  std::string path;
  const void* data = nullptr;
  size_t size = 0;
};

struct LoaderOptions {
  ObjectSource object;
  /** A directory on a mounted bpffs; the loader creates podnet/v<N>/ below it. Required. */
  std::string pin_root;
  /** Bound of the flow map. A pinned flow map of another size is replaced (flows lost). */
  uint32_t flows_max = 262144;
};

/** What Open found and did. */
struct LoadReport {
  bool reused[kMapCount] = {};  // the pinned map was taken over
  bool flows_replaced = false;  // a pinned flow map of another size or layout was dropped
  unsigned links_updated = 0;   // tcx links now running the new program
  unsigned filters_replaced = 0;  // clsact filters now running the new program
  unsigned stale_removed = 0;   // pins of devices that are gone (or no longer ours)
};

enum class AttachMode { kNone = 0, kTcx = 1, kClsact = 2 };
const char* AttachModeName(AttachMode m);

struct AttachOptions {
  /** Use clsact + cls_bpf even where tcx exists (tests; kernels with broken tcx). */
  bool force_clsact = false;
  /** clsact filter identity. Priority 1 runs before any other filter on the device. */
  uint32_t tc_handle = 1;
  uint32_t tc_priority = 1;
};

struct Attachment {
  uint32_t ifindex = 0;
  AttachMode mode = AttachMode::kNone;
  uint32_t prog_id = 0;  // the program the attachment runs now
};

class Loader {
 public:
  /** Opens, loads and pins; resumes pinned attachments with the new program. */
  static Status Open(const LoaderOptions& options, std::unique_ptr<Loader>* out, LoadReport* report = nullptr);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int prog_fd() const { return prog_fd_; }
  uint32_t prog_id() const { return prog_id_; }
  int map_fd(MapId id) const { return map_fds_[id]; }
  uint32_t flows_max() const { return flows_max_; }
  /** <pin root>/podnet/v<N> */
  const std::string& pin_dir() const { return pin_dir_; }

  // attach.cc
  /** Attaches (or re-points) the program at the device's ingress; idempotent. Where tcx
   * is refused as unknown (older kernels), falls back to clsact. */
  Status Attach(uint32_t ifindex, const AttachOptions& options, AttachMode* mode = nullptr);
  /** Removes our attachment of the device, whichever mode, and its pin. No attachment: ok. */
  Status Detach(uint32_t ifindex);
  /** Our attachments as the pins record them (stale ones included, prog_id 0). */
  std::vector<Attachment> Attachments() const;
  /** Detaches everything and removes every pin of this layout version (podnetd --cleanup). */
  Status RemoveAll();

 private:
  Loader() = default;
  Status Load(const LoaderOptions& options, LoadReport* report);
  Status ReuseOrReplace(MapId id, ::bpf_map* map, const std::string& path, LoadReport* report);
  Status Resume(LoadReport* report);  // attach.cc

  struct bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
  uint32_t prog_id_ = 0;
  int map_fds_[kMapCount] = {-1, -1, -1, -1};
  uint32_t flows_max_ = 0;
  std::string pin_dir_;
};

/** Program/map/link id of a BPF fd, 0 when the fd is not one. */
uint32_t BpfObjectId(int fd);

}  // namespace podnet::fastpath

#endif  // PODNET_FASTPATH_LOADER_H
