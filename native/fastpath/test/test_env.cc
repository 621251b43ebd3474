// gtest main for the fast-path tests: parses --object/--pins/--netns and refuses to run
// anywhere but inside the named test namespace (devices get created and deleted).
#include "test_env.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace podnet::fastpath::testenv {

std::string g_object;  // set by main
std::string g_pins;
std::string g_netns;
static int g_seq = 0;

const std::string& ObjectPath() { return g_object; }

std::string FreshPinRoot() {
  std::string dir = g_pins + "/t" + std::to_string(getpid()) + "_" + std::to_string(g_seq++);
  mkdir(dir.c_str(), 0700);
  return dir;
}

bool InOwnNetns() {
  if (g_netns.empty() || g_netns.find('/') != std::string::npos) return false;
  struct stat self, named;
  if (stat("/proc/self/ns/net", &self) != 0 || stat(("/run/netns/" + g_netns).c_str(), &named) != 0) return false;
  return self.st_ino == named.st_ino && self.st_dev == named.st_dev;
}

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

uint32_t MakeVeth(const std::string& name) {
  if (!InOwnNetns()) return 0;
  Sh("ip link del " + name + " 2>/dev/null");
  if (Sh("ip link add " + name + " type veth peer name " + name + "p && ip link set " + name + " up && ip link set " +
         name + "p up") != 0)
    return 0;
  return if_nametoindex(name.c_str());
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

}  // namespace podnet::fastpath::testenv

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i + 1 < argc; i++) {
    if (!std::strcmp(argv[i], "--object")) podnet::fastpath::testenv::g_object = argv[++i];
    else if (!std::strcmp(argv[i], "--pins")) podnet::fastpath::testenv::g_pins = argv[++i];
    else if (!std::strcmp(argv[i], "--netns")) podnet::fastpath::testenv::g_netns = argv[++i];
  }
  if (podnet::fastpath::testenv::g_object.empty() || podnet::fastpath::testenv::g_pins.empty()) {
    std::fprintf(stderr, "usage: ip netns exec NS %s --netns NS --object flow_cache.bpf.o --pins DIR-ON-BPFFS [gtest flags]\n", argv[0]);
    return 2;
  }
  if (!podnet::fastpath::testenv::InOwnNetns()) {
    std::fprintf(stderr, "refusing to run: --netns must name the network namespace this runs in (ip netns exec)\n");
    return 2;
  }
  return RUN_ALL_TESTS();
}
