// Environment of the fast-path gtests: the BPF object and the bpffs directory come from the
// command line (--object, --pins, --netns); devices are created with `ip` in the network namespace
// the binary runs in, which the harness (run.sh, test/fastpath/loader.test.ts) made for it.
#ifndef PODNET_FASTPATH_TEST_ENV_H
#define PODNET_FASTPATH_TEST_ENV_H

#include <cstdint>
#include <string>
#include <vector>

namespace podnet::fastpath::testenv {

/** The compiled flow cache object (--object). */
const std::string& ObjectPath();
/** A fresh, empty directory on the bpffs (--pins), one per call. */
std::string FreshPinRoot();
/** True when this process runs in the network namespace named by --netns (/run/netns/NAME). */
bool InOwnNetns();
/** Runs a shell command; returns its exit status. */
int Sh(const std::string& cmd);
/** A veth pair named <name>/<name>p, both up; returns the ifindex of <name> (0 on failure). */
uint32_t MakeVeth(const std::string& name);
std::vector<uint8_t> ReadFile(const std::string& path);

}  // namespace podnet::fastpath::testenv

#endif  // PODNET_FASTPATH_TEST_ENV_H
