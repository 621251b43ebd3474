// Which TUN queue the kernel puts a packet into on its way to the engine. "flow", the
// kernel's own choice, spreads flows over the queues by their hash. "cpu" puts a packet into
// the queue of the CPU that is sending it (a two-instruction socket filter set as the
// device's steering program, TUNSETSTEERINGEBPF) and pins each queue's engine thread to the
// CPUs that feed it. With the kernel flow cache most of what still reaches the engine is a
// connection's first packet, whose sender waits for the verdict: deciding it on the sender's
// own CPU replaces a cross-CPU wake-up (an interprocessor interrupt) with a context switch.
#pragma once
#include <sched.h>

#include <cstdint>
#include <string>

namespace podnet {

enum class Steering { kCpu, kFlow };

const char* steering_name(Steering s);

// Sets the device's steering program (kCpu with more than one queue) or removes one an
// earlier run left on a persistent device. `fd` is any queue of the device. Returns the
// steering in force: kFlow, with *why set, when the program cannot be loaded or set (no BPF
// permission: unprivileged BPF is off and CAP_BPF missing; a kernel before 4.16).
Steering set_steering(int fd, Steering want, uint32_t queues, const std::string& device, std::string* why);

// The CPUs queue q of n serves under kCpu: the CPUs this process may use whose number is q
// modulo n. False when there are none (then the thread is left unpinned).
bool queue_cpus(uint32_t q, uint32_t n, cpu_set_t* out);

}  // namespace podnet
