// fpctl: a small command-line front of the fast-path loader for the traffic tests
// (test/fastpath/loader.test.ts) and for poking at a test namespace by hand. Every call
// opens the loader on the given bpffs root, so each one also exercises the restart path:
// pinned maps reused, the freshly loaded program swapped into every attachment.
//
//   fpctl --object OBJ --pins DIR [--clsact] CMD ...
//     open                         print what the open reused and resumed
//     attach DEV...                one JSON line per device: ifindex, mode
//     detach IFINDEX...
//     pod DEV MAC IPV4             anti-spoofing entry for the pod behind host veth DEV
//     nat k=v...  / unnat k=v...   install / delete both directions of a VIP flow:
//                                  proto=udp|tcp client_dev= client= client_mac= sport=
//                                  vip= vport= backend_dev= backend= backend_mac= bport=
//                                  [gw_dev=] (the pods' gateway device, whose MAC the
//                                  frames carry as source: default each pod's host veth)
//     stats | sweep | attachments  JSON
//     spoof DEV|IFINDEX            the pod's anti-spoofing drops by reason, JSON
//     flush IFINDEX                {"removed":N}
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "../loader.h"
#include "../maps.h"

using namespace podnet::fastpath;

namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "fpctl: %s\n", msg.c_str());
  std::exit(1);
}

void Mac(const std::string& s, uint8_t out[6]) {
  unsigned b[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) Die("bad MAC " + s);
  for (int i = 0; i < 6; i++) out[i] = static_cast<uint8_t>(b[i]);
}

/** The device's own MAC (its sysfs address file, as `ip netns exec` mounts it). */
void DevMac(const std::string& dev, uint8_t out[6]) {
  std::ifstream f("/sys/class/net/" + dev + "/address");
  std::string s;
  if (!(f >> s)) Die("no MAC for " + dev);
  Mac(s, out);
}

uint32_t Ifindex(const std::string& dev) {
  uint32_t i = if_nametoindex(dev.c_str());
  if (!i) Die("no device " + dev);
  return i;
}

void V4(const std::string& s, uint8_t out[4]) {
  if (inet_pton(AF_INET, s.c_str(), out) != 1) Die("bad IPv4 " + s);
}

std::map<std::string, std::string> Fields(const std::vector<std::string>& args) {
  std::map<std::string, std::string> f;
  for (const std::string& a : args) {
    size_t eq = a.find('=');
    if (eq == std::string::npos) Die("expected k=v: " + a);
    f[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return f;
}

/** Both directions leave through redirect_peer into the other pod, addressed to its MAC from
 * the MAC of its gateway device (what the pod's gateway would write). */
void RedirectTo(podnet_flow_value* v, uint32_t ifindex, const std::string& pod_mac, const std::string& gw_dev) {
  v->action = PODNET_ACT_REDIRECT_PEER;
  v->target_ifindex = ifindex;
  Mac(pod_mac, v->dst_mac);
  DevMac(gw_dev, v->src_mac);
  v->flow_id = 1;
}

/** Forward: client -> VIP entered at the client's host veth, DNAT to the backend and
 * redirect_peer into it. Reverse: backend -> client at the backend's host veth, source
 * back to the VIP, redirect_peer into the client. MACs as the pods' gateways would write. */
void NatPair(const std::map<std::string, std::string>& f, FlowEntry* fwd, FlowEntry* rev) {
  auto get = [&](const char* k) {
    auto it = f.find(k);
    if (it == f.end()) Die(std::string("missing ") + k);
    return it->second;
  };
  uint8_t client[4], vip[4], backend[4];
  V4(get("client"), client);
  V4(get("vip"), vip);
  V4(get("backend"), backend);
  const uint8_t proto = get("proto") == "tcp" ? IPPROTO_TCP : IPPROTO_UDP;
  const uint16_t sport = htons(std::atoi(get("sport").c_str())), vport = htons(std::atoi(get("vport").c_str())),
                 bport = htons(std::atoi(get("bport").c_str()));
  const uint32_t cif = Ifindex(get("client_dev")), bif = Ifindex(get("backend_dev"));
  const bool bridged = f.count("gw_dev") > 0;
  std::memset(fwd, 0, sizeof(*fwd));
  std::memset(rev, 0, sizeof(*rev));
  fwd->key = MakeFlowKey(4, proto, client, vip, sport, vport, cif);
  std::memcpy(fwd->value.new_daddr, backend, 4);
  fwd->value.new_dport = bport;
  fwd->value.rewrite = PODNET_RW_DADDR | PODNET_RW_DPORT | PODNET_RW_MACS;
  RedirectTo(&fwd->value, bif, get("backend_mac"), bridged ? get("gw_dev") : get("backend_dev"));
  rev->key = MakeFlowKey(4, proto, backend, client, bport, sport, bif);
  std::memcpy(rev->value.new_saddr, vip, 4);
  rev->value.new_sport = vport;
  rev->value.rewrite = PODNET_RW_SADDR | PODNET_RW_SPORT | PODNET_RW_MACS;
  RedirectTo(&rev->value, cif, get("client_mac"), bridged ? get("gw_dev") : get("client_dev"));
}

void Check(int rc, const char* what) {
  if (rc) Die(std::string(what) + ": " + std::strerror(-rc));
}

}  // namespace

int main(int argc, char** argv) {
  LoaderOptions o;
  AttachOptions ao;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!std::strcmp(argv[i], "--object") && i + 1 < argc) o.object.path = argv[++i];
    else if (!std::strcmp(argv[i], "--pins") && i + 1 < argc) o.pin_root = argv[++i];
    else if (!std::strcmp(argv[i], "--clsact")) ao.force_clsact = true;
    else Die(std::string("unknown option ") + argv[i]);
  }
  if (i >= argc) Die("usage: fpctl --object OBJ --pins DIR [--clsact] CMD ...");
  const std::string cmd = argv[i++];
  std::vector<std::string> args(argv + i, argv + argc);

  std::unique_ptr<Loader> l;
  LoadReport r;
  Status s = Loader::Open(o, &l, &r);
  if (!s.ok()) Die(s.message);
  FlowCacheMaps maps(*l);

  if (cmd == "open") {
    std::printf("{\"prog_id\":%u,\"reused\":[%d,%d,%d,%d],\"flows_replaced\":%d,\"links_updated\":%u,"
                "\"filters_replaced\":%u,\"stale_removed\":%u}\n",
                l->prog_id(), r.reused[0], r.reused[1], r.reused[2], r.reused[3], r.flows_replaced, r.links_updated,
                r.filters_replaced, r.stale_removed);
  } else if (cmd == "attach") {
    for (const std::string& dev : args) {
      AttachMode mode;
      uint32_t ifx = Ifindex(dev);
      s = l->Attach(ifx, ao, &mode);
      if (!s.ok()) Die(s.message);
      std::printf("{\"dev\":\"%s\",\"ifindex\":%u,\"mode\":\"%s\"}\n", dev.c_str(), ifx, AttachModeName(mode));
    }
  } else if (cmd == "detach") {
    for (const std::string& a : args)
      if (!(s = l->Detach(std::strtoul(a.c_str(), nullptr, 0))).ok()) Die(s.message);
  } else if (cmd == "pod" && args.size() == 3) {
    podnet_pod_addrs pod = {};
    Mac(args[1], pod.mac);
    V4(args[2], pod.v4[0]);
    pod.n_v4 = 1;
    Check(maps.SetPod(Ifindex(args[0]), pod), "set pod");
  } else if (cmd == "nat" || cmd == "unnat") {
    FlowEntry fwd, rev;
    NatPair(Fields(args), &fwd, &rev);
    Check(cmd == "nat" ? maps.InstallFlow(fwd, rev) : maps.DeleteFlow(fwd.key, rev.key), cmd.c_str());
  } else if (cmd == "stats") {
    static const char* const names[PODNET_STAT_MAX] = {PODNET_STAT_NAMES};
    StatCounters st;
    Check(maps.ReadStats(&st), "stats");
    std::printf("{");
    for (int k = 0; k < PODNET_STAT_MAX; k++)
      std::printf("%s\"%s\":%llu", k ? "," : "", names[k], static_cast<unsigned long long>(st[k]));
    std::printf("}\n");
  } else if (cmd == "spoof" && args.size() == 1) {
    static const char* const names[PODNET_SPOOF_MAX] = {PODNET_SPOOF_NAMES};
    const char* a = args[0].c_str();
    podnet_spoof_counts sp;
    Check(maps.ReadSpoof(std::isdigit(static_cast<unsigned char>(a[0])) ? std::strtoul(a, nullptr, 0) : Ifindex(a), &sp),
          "spoof");
    std::printf("{");
    for (int k = 0; k < PODNET_SPOOF_MAX; k++)
      std::printf("%s\"%s\":%llu", k ? "," : "", names[k], static_cast<unsigned long long>(sp.drops[k]));
    std::printf("}\n");
  } else if (cmd == "sweep") {
    std::vector<SweptFlow> out;
    Check(maps.Sweep(&out), "sweep");
    for (const SweptFlow& f : out)
      std::printf("{\"ifindex\":%u,\"target\":%u,\"id\":%llu,\"packets\":%llu,\"bytes\":%llu,\"tcp_flags\":%u}\n",
                  f.key.ifindex, f.target_ifindex, static_cast<unsigned long long>(f.flow_id),
                  static_cast<unsigned long long>(f.packets), static_cast<unsigned long long>(f.bytes), f.tcp_flags);
  } else if (cmd == "attachments") {
    for (const Attachment& a : l->Attachments())
      std::printf("{\"ifindex\":%u,\"mode\":\"%s\",\"prog_id\":%u}\n", a.ifindex, AttachModeName(a.mode), a.prog_id);
  } else if (cmd == "flush" && args.size() == 1) {
    size_t removed = 0;
    Check(maps.FlushIfindex(std::strtoul(args[0].c_str(), nullptr, 0), &removed), "flush");
    std::printf("{\"removed\":%zu}\n", removed);
  } else {
    Die("unknown command " + cmd);
  }
  return 0;
}
