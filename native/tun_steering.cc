// TUN queue steering; see tun_steering.h.
#include "tun_steering.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace podnet {

const char* steering_name(Steering s) { return s == Steering::kCpu ? "cpu" : "flow"; }

Steering set_steering(int fd, Steering want, uint32_t queues, const std::string& device, std::string* why) {
  why->clear();
  if (want == Steering::kFlow || queues < 2) {
    // A persistent device keeps its program across runs.
    // Nothing to report when that fails: a program left in place only picks queues.
    int none = -1;
    (void)ioctl(fd, TUNSETSTEERINGEBPF, &none);
    return want;
  }
  // r0 = bpf_get_smp_processor_id(); return r0. The kernel takes the result modulo the
  // number of queues.
  bpf_insn insns[2];
  std::memset(insns, 0, sizeof insns);
  insns[0].code = BPF_JMP | BPF_CALL;
  insns[0].imm = BPF_FUNC_get_smp_processor_id;
  insns[1].code = BPF_JMP | BPF_EXIT;
  int prog = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "podnet_steer", "GPL", insns, 2, nullptr);
  if (prog < 0) {
    int e = prog < -1 ? -prog : errno;
    *why = "loading the steering program for " + device + ": " + std::strerror(e);
    return Steering::kFlow;
  }
  int rc = ioctl(fd, TUNSETSTEERINGEBPF, &prog);
  int e = errno;
  ::close(prog);  // the device holds its own reference
  if (rc < 0) {
    *why = "TUNSETSTEERINGEBPF " + device + ": " + std::strerror(e);
    return Steering::kFlow;
  }
  return Steering::kCpu;
}

bool queue_cpus(uint32_t q, uint32_t n, cpu_set_t* out) {
  cpu_set_t allowed;
  CPU_ZERO(out);
  if (n == 0 || sched_getaffinity(0, sizeof allowed, &allowed) != 0) return false;
  bool any = false;
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &allowed) || uint32_t(c) % n != q) continue;
    CPU_SET(c, out);
    any = true;
  }
  return any;
}

}  // namespace podnet
