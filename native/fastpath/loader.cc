// Loader: open the object, size the flow map, reuse compatible pinned maps, load, pin the
// rest, then hand over to Resume (attach.cc) so pinned attachments run the new program.
#include "loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "../bpf/flow_cache.h"

namespace podnet::fastpath {

namespace {

const char* const kMapNames[kMapCount] = {PODNET_MAP_FLOWS_NAME, PODNET_MAP_PODS_NAME, PODNET_MAP_STATS_NAME,
                                          PODNET_MAP_SPOOF_NAME};

/** mkdir -p for the few levels below the pin root; the root itself must exist. */
Status MakeDirs(const std::string& root, const std::string& rel) {
  struct stat st;
  if (stat(root.c_str(), &st) != 0) return Status::Errno(errno, "pin root " + root);
  std::string path = root;
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    path += "/" + rel.substr(start, slash - start);
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Status::Errno(errno, "mkdir " + path);
    start = slash + 1;
  }
  return Status::Ok();
}

bool Compatible(const struct bpf_map_info& have, const struct bpf_map* want) {
  return have.type == static_cast<uint32_t>(bpf_map__type(want)) && have.key_size == bpf_map__key_size(want) &&
         have.value_size == bpf_map__value_size(want) && have.max_entries == bpf_map__max_entries(want) &&
         have.map_flags == bpf_map__map_flags(want);
}

}  // namespace

uint32_t BpfObjectId(int fd) {
  // bpf_prog_info, bpf_map_info and bpf_link_info all start with {type, id}.
  uint32_t head[2] = {0, 0};
  uint32_t len = sizeof(head);
  if (fd < 0 || bpf_obj_get_info_by_fd(fd, head, &len) != 0) return 0;
  return head[1];
}

const char* AttachModeName(AttachMode m) {
  switch (m) {
    case AttachMode::kTcx: return "tcx";
    case AttachMode::kClsact: return "clsact";
    default: return "none";
  }
}

Status Loader::Open(const LoaderOptions& options, std::unique_ptr<Loader>* out, LoadReport* report) {
  LoadReport scratch;
  if (!report) report = &scratch;
  *report = LoadReport{};
  std::unique_ptr<Loader> l(new Loader());
  Status s = l->Load(options, report);
  if (!s.ok()) return s;
  s = l->Resume(report);
  if (!s.ok()) return s;
  *out = std::move(l);
  return Status::Ok();
}

Loader::~Loader() {
  for (int& fd : map_fds_)
    if (fd >= 0) close(fd);
  // The object owns the program fd; the pins and attachments keep everything alive.
  if (obj_) bpf_object__close(obj_);
}

Status Loader::Load(const LoaderOptions& o, LoadReport* report) {
  if (o.pin_root.empty()) return Status::Invalid("no pin root: the flow cache lives on a bpffs");
  if (o.flows_max == 0) return Status::Invalid("flows_max must be > 0");
  const std::string rel = "podnet/v" PODNET_FC_STR(PODNET_FC_VERSION);
  Status s = MakeDirs(o.pin_root, rel);
  if (!s.ok()) return s;
  pin_dir_ = o.pin_root + "/" + rel;
  flows_max_ = o.flows_max;

  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .object_name = "podnet_flow_cache");
  if (o.object.data)
    obj_ = bpf_object__open_mem(o.object.data, o.object.size, &open_opts);
  else if (!o.object.path.empty())
    obj_ = bpf_object__open_file(o.object.path.c_str(), &open_opts);
  else
    return Status::Invalid("no BPF object given");
  if (!obj_) return Status::Errno(errno, "open BPF object " + o.object.path);

  struct bpf_map* maps[kMapCount];
  for (int i = 0; i < kMapCount; i++) {
    maps[i] = bpf_object__find_map_by_name(obj_, kMapNames[i]);
    if (!maps[i]) return Status::Invalid(std::string("BPF object has no map ") + kMapNames[i]);
  }
  int err = bpf_map__set_max_entries(maps[kFlowsMap], o.flows_max);
  if (err) return Status::Errno(err, "size the flow map");
  for (int i = 0; i < kMapCount; i++) {
    s = ReuseOrReplace(static_cast<MapId>(i), maps[i], pin_dir_ + "/" + kMapNames[i], report);
    if (!s.ok()) return s;
  }

  err = bpf_object__load(obj_);
  if (err) return Status::Errno(err, "load the flow cache program");
  struct bpf_program* prog = bpf_object__find_program_by_name(obj_, PODNET_PROG_NAME);
  if (!prog) return Status::Invalid("BPF object has no program " PODNET_PROG_NAME);
  prog_fd_ = bpf_program__fd(prog);
  prog_id_ = BpfObjectId(prog_fd_);

  for (int i = 0; i < kMapCount; i++) {
    map_fds_[i] = dup(bpf_map__fd(maps[i]));
    if (map_fds_[i] < 0) return Status::Errno(errno, "dup map fd");
    if (report->reused[i]) continue;
    const std::string path = pin_dir_ + "/" + kMapNames[i];
    unlink(path.c_str());  // an incompatible pin of the same name (reported by ReuseOrReplace)
    if (bpf_obj_pin(map_fds_[i], path.c_str()) != 0) return Status::Errno(errno, "pin " + path);
  }
  return Status::Ok();
}

/** Takes over the pinned map at `path` when its shape matches the object's; otherwise the
 * map is created fresh at load and its pin replaced afterwards. */
Status Loader::ReuseOrReplace(MapId id, struct bpf_map* map, const std::string& path, LoadReport* report) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Errno(errno, "open pinned map " + path);
  }
  struct bpf_map_info info = {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
    int e = errno;
    close(fd);
    return Status::Errno(e, "inspect pinned map " + path);
  }
  if (!Compatible(info, map)) {
    close(fd);
    if (id == kFlowsMap) report->flows_replaced = true;
    return Status::Ok();
  }
  int err = bpf_map__reuse_fd(map, fd);
  close(fd);  // reuse_fd dups it
  if (err) return Status::Errno(err, "reuse pinned map " + path);
  report->reused[id] = true;
  return Status::Ok();
}

}  // namespace podnet::fastpath
