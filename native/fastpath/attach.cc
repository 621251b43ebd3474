// Attachments of the flow cache program to device ingress, recorded as pins so a restarted
// loader finds them: tcx links (kernel 6.6+) pinned as tcx_<ifindex>, or a direct-action
// cls_bpf filter on the clsact qdisc whose program is pinned as clsact_<ifindex>_<h>_<prio>.
// Resume points every live attachment at the newly loaded program without a gap: tcx by
// bpf_link_update, clsact by replacing the filter at its handle and priority.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "loader.h"

namespace podnet::fastpath {

namespace {

// Newer than the UAPI headers of this build machine (6.1).
constexpr int kAttachTcxIngress = 46;  // BPF_TCX_INGRESS
constexpr uint32_t kLinkTypeTcx = 11;  // BPF_LINK_TYPE_TCX

/** The head of struct bpf_link_info with its tcx member (the union starts 8-aligned). */
struct TcxLinkInfo {
  uint32_t type, id, prog_id, pad;
  uint32_t ifindex, attach_type;
};

/** ifindex of a live tcx link, 0 when its device is gone or the fd is not a tcx link. */
uint32_t TcxLinkIfindex(int fd, uint32_t* prog_id) {
  TcxLinkInfo info = {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || info.type != kLinkTypeTcx) return 0;
  if (prog_id) *prog_id = info.prog_id;
  return info.ifindex;
}

std::string TcxPin(const std::string& dir, uint32_t ifindex) { return dir + "/tcx_" + std::to_string(ifindex); }

std::string ClsactPin(const std::string& dir, uint32_t ifindex, uint32_t handle, uint32_t prio) {
  char name[64];
  snprintf(name, sizeof(name), "/clsact_%u_%x_%u", ifindex, handle, prio);
  return dir + name;
}

struct PinName {
  AttachMode mode = AttachMode::kNone;
  uint32_t ifindex = 0, handle = 0, prio = 0;
};

PinName ParsePin(const char* name) {
  PinName p;
  int used = 0;
  if (sscanf(name, "tcx_%u%n", &p.ifindex, &used) == 1 && name[used] == 0)
    p.mode = AttachMode::kTcx;
  else if (sscanf(name, "clsact_%u_%x_%u%n", &p.ifindex, &p.handle, &p.prio, &used) == 3 && name[used] == 0)
    p.mode = AttachMode::kClsact;
  return p;
}

std::vector<std::pair<std::string, PinName>> ListPins(const std::string& dir) {
  std::vector<std::pair<std::string, PinName>> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = readdir(d)) {
    PinName p = ParsePin(e->d_name);
    if (p.mode != AttachMode::kNone) out.emplace_back(dir + "/" + e->d_name, p);
  }
  closedir(d);
  return out;
}

/** The program id of our clsact filter if it is still installed, else 0. */
uint32_t ClsactFilterProg(uint32_t ifindex, uint32_t handle, uint32_t prio) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = BPF_TC_INGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);
  if (bpf_tc_query(&hook, &opts) != 0) return 0;
  return opts.prog_id;
}

Status ClsactInstall(int prog_fd, uint32_t ifindex, uint32_t handle, uint32_t prio) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = BPF_TC_INGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE, .handle = handle, .priority = prio);
  // Most calls find the qdisc in place (a replace at restart); create it only when missing,
  // so libbpf does not log the kernel's "exclusivity flag" refusal every time.
  int err = bpf_tc_attach(&hook, &opts);
  if (err == -EINVAL || err == -ENOENT) {
    err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST) return Status::Errno(err, "create clsact on ifindex " + std::to_string(ifindex));
    opts.prog_id = 0;
    err = bpf_tc_attach(&hook, &opts);
  }
  if (err) return Status::Errno(err, "attach cls_bpf on ifindex " + std::to_string(ifindex));
  return Status::Ok();
}

void ClsactRemove(uint32_t ifindex, uint32_t handle, uint32_t prio) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = BPF_TC_INGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);
  bpf_tc_detach(&hook, &opts);  // the filter or the device may be gone already: fine
}

/** Replaces the pin at `path` by one of `fd`. */
Status Repin(int fd, const std::string& path) {
  unlink(path.c_str());
  if (bpf_obj_pin(fd, path.c_str()) != 0) return Status::Errno(errno, "pin " + path);
  return Status::Ok();
}

/** Removes the tcx link pinned at `path`, detaching it first if it is still live. */
void TcxRemove(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd >= 0) {
    bpf_link_detach(fd);
    close(fd);
  }
  unlink(path.c_str());
}

}  // namespace

Status Loader::Resume(LoadReport* report) {
  for (const auto& [path, pin] : ListPins(pin_dir_)) {
    if (pin.mode == AttachMode::kTcx) {
      int fd = bpf_obj_get(path.c_str());
      if (fd >= 0 && TcxLinkIfindex(fd, nullptr) == pin.ifindex) {
        int err = bpf_link_update(fd, prog_fd_, nullptr);
        close(fd);
        if (err) return Status::Errno(err, "update tcx link " + path);
        report->links_updated++;
        continue;
      }
      if (fd >= 0) close(fd);
      TcxRemove(path);  // the device went away while we were down
      report->stale_removed++;
      continue;
    }
    int old = bpf_obj_get(path.c_str());
    uint32_t old_id = BpfObjectId(old);
    if (old >= 0) close(old);
    if (old_id == 0 || ClsactFilterProg(pin.ifindex, pin.handle, pin.prio) != old_id) {
      unlink(path.c_str());  // device gone or the filter replaced by someone else
      report->stale_removed++;
      continue;
    }
    Status s = ClsactInstall(prog_fd_, pin.ifindex, pin.handle, pin.prio);
    if (s.ok()) s = Repin(prog_fd_, path);
    if (!s.ok()) return s;
    report->filters_replaced++;
  }
  return Status::Ok();
}

Status Loader::Attach(uint32_t ifindex, const AttachOptions& o, AttachMode* mode) {
  if (mode) *mode = AttachMode::kNone;
  if (ifindex == 0) return Status::Invalid("ifindex 0");
  const std::string tcx = TcxPin(pin_dir_, ifindex);
  if (!o.force_clsact) {
    int fd = bpf_obj_get(tcx.c_str());
    if (fd >= 0 && TcxLinkIfindex(fd, nullptr) == ifindex) {
      int err = bpf_link_update(fd, prog_fd_, nullptr);
      close(fd);
      if (err) return Status::Errno(err, "update tcx link on ifindex " + std::to_string(ifindex));
      if (mode) *mode = AttachMode::kTcx;
      return Status::Ok();
    }
    if (fd >= 0) {
      close(fd);
      TcxRemove(tcx);  // stale: a device of this ifindex came and went
    }
    int link = bpf_link_create(prog_fd_, static_cast<int>(ifindex), static_cast<enum bpf_attach_type>(kAttachTcxIngress),
                               nullptr);
    if (link >= 0) {
      Status s = Repin(link, tcx);
      if (!s.ok()) {
        close(link);  // unpinned: closing detaches it again
        return s;
      }
      close(link);
      // A clsact attachment of an earlier run would run the program a second time.
      for (const auto& [path, pin] : ListPins(pin_dir_))
        if (pin.mode == AttachMode::kClsact && pin.ifindex == ifindex) {
          ClsactRemove(ifindex, pin.handle, pin.prio);
          unlink(path.c_str());
        }
      if (mode) *mode = AttachMode::kTcx;
      return Status::Ok();
    }
    if (errno != EINVAL) return Status::Errno(errno, "tcx attach on ifindex " + std::to_string(ifindex));
    // EINVAL: this kernel does not know tcx; use clsact.
  }
  Status s = ClsactInstall(prog_fd_, ifindex, o.tc_handle, o.tc_priority);
  if (s.ok()) s = Repin(prog_fd_, ClsactPin(pin_dir_, ifindex, o.tc_handle, o.tc_priority));
  if (!s.ok()) return s;
  TcxRemove(tcx);  // switching modes: the tcx link would run first
  if (mode) *mode = AttachMode::kClsact;
  return Status::Ok();
}

Status Loader::Detach(uint32_t ifindex) {
  for (const auto& [path, pin] : ListPins(pin_dir_)) {
    if (pin.ifindex != ifindex) continue;
    if (pin.mode == AttachMode::kTcx) {
      TcxRemove(path);
      continue;
    }
    int fd = bpf_obj_get(path.c_str());
    uint32_t id = BpfObjectId(fd);
    if (fd >= 0) close(fd);
    if (id && ClsactFilterProg(ifindex, pin.handle, pin.prio) == id) ClsactRemove(ifindex, pin.handle, pin.prio);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return Status::Errno(errno, "unpin " + path);
  }
  return Status::Ok();
}

std::vector<Attachment> Loader::Attachments() const {
  std::vector<Attachment> out;
  for (const auto& [path, pin] : ListPins(pin_dir_)) {
    Attachment a{pin.ifindex, pin.mode, 0};
    int fd = bpf_obj_get(path.c_str());
    if (pin.mode == AttachMode::kTcx) {
      if (fd >= 0 && TcxLinkIfindex(fd, &a.prog_id) != pin.ifindex) a.prog_id = 0;
    } else {
      uint32_t id = BpfObjectId(fd);
      if (id && ClsactFilterProg(pin.ifindex, pin.handle, pin.prio) == id) a.prog_id = id;
    }
    if (fd >= 0) close(fd);
    out.push_back(a);
  }
  return out;
}

Status Loader::RemoveAll() {
  for (const Attachment& a : Attachments()) {
    Status s = Detach(a.ifindex);
    if (!s.ok()) return s;
  }
  DIR* d = opendir(pin_dir_.c_str());
  if (!d) return Status::Errno(errno, "open " + pin_dir_);
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  closedir(d);
  for (const std::string& n : names) unlink((pin_dir_ + "/" + n).c_str());
  rmdir(pin_dir_.c_str());
  return Status::Ok();
}

}  // namespace podnet::fastpath
