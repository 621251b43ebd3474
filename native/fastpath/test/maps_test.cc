// Map access: both directions installed and deleted together, the sweep (batch and the
// iteration fallback agree), pods, per-device flush, and counters read back after running
// the program on packets with BPF_PROG_TEST_RUN.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "../loader.h"
#include "../maps.h"
#include "test_env.h"

namespace podnet::fastpath {
namespace {

const uint8_t kClient[4] = {10, 244, 1, 100}, kVip[4] = {10, 96, 0, 12}, kBackend[4] = {10, 244, 1, 2};

FlowEntry Udp(uint32_t ifindex, const uint8_t* s, const uint8_t* d, uint16_t sport, uint16_t dport, uint64_t id) {
  FlowEntry e;
  std::memset(&e, 0, sizeof(e));
  e.key = MakeFlowKey(4, IPPROTO_UDP, s, d, htons(sport), htons(dport), ifindex);
  e.value.flow_id = id;
  return e;
}

class Maps : public ::testing::Test {
 protected:
  void SetUp() override {
    LoaderOptions o;
    o.object.path = testenv::ObjectPath();
    o.pin_root = testenv::FreshPinRoot();
    o.flows_max = 8192;
    Status s = Loader::Open(o, &l_);
    ASSERT_TRUE(s.ok()) << s.message;
    maps_ = std::make_unique<FlowCacheMaps>(*l_);
  }
  /** Runs the program once on `frame` as if it entered at `ifindex`; returns the verdict. */
  int Run(uint32_t ifindex, std::vector<uint8_t> frame) {
    struct __sk_buff ctx;
    std::memset(&ctx, 0, sizeof(ctx));
    ctx.ingress_ifindex = ifindex;
    uint8_t out[256];
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out,
                .data_size_in = static_cast<uint32_t>(frame.size()), .data_size_out = sizeof(out), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = 1);
    EXPECT_EQ(bpf_prog_test_run_opts(l_->prog_fd(), &opts), 0);
    return static_cast<int>(opts.retval);
  }
  std::unique_ptr<Loader> l_;
  std::unique_ptr<FlowCacheMaps> maps_;
};

/** Ethernet + IPv4 + UDP with an 4-byte payload; checksums left zero (the program does not
 * check them and a zero UDP checksum means none). */
std::vector<uint8_t> UdpFrame(const uint8_t* smac, const uint8_t* s, const uint8_t* d, uint16_t sport, uint16_t dport) {
  std::vector<uint8_t> f(14 + 20 + 8 + 4, 0);
  std::memset(f.data(), 0x02, 6);
  std::memcpy(f.data() + 6, smac, 6);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  ip[3] = 32;
  ip[8] = 64;
  ip[9] = IPPROTO_UDP;
  std::memcpy(ip + 12, s, 4);
  std::memcpy(ip + 16, d, 4);
  uint8_t* udp = ip + 20;
  udp[0] = sport >> 8, udp[1] = sport & 0xff, udp[2] = dport >> 8, udp[3] = dport & 0xff;
  udp[5] = 12;
  return f;
}

TEST_F(Maps, InstallAndDeleteBothDirections) {
  FlowEntry fwd = Udp(7, kClient, kVip, 33000, 53, 42), rev = Udp(9, kBackend, kClient, 5353, 33000, 42);
  ASSERT_EQ(maps_->InstallFlow(fwd, rev), 0);
  podnet_flow_value v;
  EXPECT_EQ(maps_->LookupFlow(fwd.key, &v), 0);
  EXPECT_EQ(maps_->LookupFlow(rev.key, &v), 0);
  EXPECT_EQ(maps_->DeleteFlow(fwd.key, rev.key), 0);
  EXPECT_EQ(maps_->LookupFlow(fwd.key, &v), -ENOENT);
  EXPECT_EQ(maps_->LookupFlow(rev.key, &v), -ENOENT);
  EXPECT_EQ(maps_->DeleteFlow(fwd.key, rev.key), 0) << "deleting a gone flow is fine";
}

TEST_F(Maps, InstallIsAllOrNothing) {
  // A flow map of 8192 entries: fill it to one short, then a pair cannot both fit.
  for (uint32_t i = 0; i + 1 < 8192; i++) {
    FlowEntry e = Udp(1, kClient, kVip, static_cast<uint16_t>(i), 53, i);
    e.key.ifindex = 1 + i / 65536;
    ASSERT_EQ(maps_->InstallFlow(e, e), 0) << i;  // the same key twice: one entry
  }
  FlowEntry fwd = Udp(7, kClient, kVip, 1, 1, 1), rev = Udp(9, kBackend, kClient, 1, 1, 1);
  EXPECT_EQ(maps_->InstallFlow(fwd, rev), -E2BIG);
  podnet_flow_value v;
  EXPECT_EQ(maps_->LookupFlow(fwd.key, &v), -ENOENT) << "the first direction was taken back";
}

TEST_F(Maps, InstallsSixteenEntriesInOneGo) {
  // The most one flow writes: the forward and reverse direction at each of 8 uplinks.
  FlowEntry e[FlowCacheMaps::kMaxInstall];
  for (size_t i = 0; i < FlowCacheMaps::kMaxInstall; i++) e[i] = Udp(uint32_t(100 + i), kClient, kVip, 4000, 53, i);
  ASSERT_EQ(maps_->InstallFlows(e, FlowCacheMaps::kMaxInstall), 0);
  podnet_flow_value v;
  for (size_t i = 0; i < FlowCacheMaps::kMaxInstall; i++) {
    ASSERT_EQ(maps_->LookupFlow(e[i].key, &v), 0) << i;
    EXPECT_EQ(v.flow_id, i);
  }
  EXPECT_TRUE(maps_->batch_ops());
}

void DeleteKeysSkipsKeysAlreadyGone(FlowCacheMaps& maps, bool batch) {
  maps.set_batch_ops(batch);
  // 3000 keys, every third one never installed: the batch stops at each missing key and
  // the rest still goes.
  std::vector<podnet_flow_key> keys;
  size_t present = 0;
  for (uint32_t i = 0; i < 3000; i++) {
    FlowEntry e = Udp(7, kClient, kVip, static_cast<uint16_t>(20000 + i), 53, i);
    keys.push_back(e.key);
    if (i % 3 == 0) continue;
    EXPECT_EQ(maps.InstallFlows(&e, 1), 0);
    present++;
  }
  FlowEntry other = Udp(9, kBackend, kClient, 53, 1, 1);
  EXPECT_EQ(maps.InstallFlows(&other, 1), 0);
  size_t deleted = 0;
  EXPECT_EQ(maps.DeleteKeys(keys.data(), keys.size(), &deleted), 0);
  EXPECT_EQ(deleted, present);
  std::vector<SweptFlow> left;
  EXPECT_EQ(maps.Sweep(&left), 0);
  EXPECT_EQ(left.size(), 1u) << "only the entry not named is left";
  EXPECT_EQ(left[0].key.ifindex, 9u);
  EXPECT_EQ(maps.DeleteKeys(keys.data(), keys.size(), &deleted), 0) << "deleting gone keys is fine";
  EXPECT_EQ(deleted, 0u);
  EXPECT_EQ(maps.DeleteKeys(nullptr, 0, &deleted), 0);
  EXPECT_EQ(maps.batch_ops(), batch) << "this kernel has the batch syscalls: they were used";
}

TEST_F(Maps, DeleteKeysSkipsKeysAlreadyGone) { DeleteKeysSkipsKeysAlreadyGone(*maps_, true); }
TEST_F(Maps, DeleteKeysOneByOneLikewise) { DeleteKeysSkipsKeysAlreadyGone(*maps_, false); }

TEST_F(Maps, SweepBatchAndIterationAgree) {
  for (uint32_t i = 0; i < 3000; i++) {
    FlowEntry f = Udp(7, kClient, kVip, static_cast<uint16_t>(10000 + i), 53, i);
    FlowEntry r = Udp(9, kBackend, kClient, 5353, static_cast<uint16_t>(10000 + i), i);
    f.value.packets = i, f.value.bytes = 100 * i, f.value.last_seen_ns = 1000 + i, f.value.tcp_flags = 0x10;
    ASSERT_EQ(maps_->InstallFlow(f, r), 0);
  }
  std::vector<SweptFlow> batch, iter;
  ASSERT_EQ(maps_->Sweep(&batch), 0);
  EXPECT_TRUE(maps_->last_sweep_batched());
  maps_->set_force_iterate(true);
  ASSERT_EQ(maps_->Sweep(&iter), 0);
  EXPECT_FALSE(maps_->last_sweep_batched());
  ASSERT_EQ(batch.size(), 6000u);
  ASSERT_EQ(iter.size(), 6000u);
  auto by_key = [](const SweptFlow& a, const SweptFlow& b) { return std::memcmp(&a.key, &b.key, sizeof(a.key)) < 0; };
  std::sort(batch.begin(), batch.end(), by_key);
  std::sort(iter.begin(), iter.end(), by_key);
  for (size_t i = 0; i < batch.size(); i++) {
    ASSERT_EQ(std::memcmp(&batch[i].key, &iter[i].key, sizeof(batch[i].key)), 0);
    ASSERT_EQ(batch[i].packets, iter[i].packets);
    if (batch[i].key.ifindex == 7) {
      EXPECT_EQ(batch[i].bytes, 100 * batch[i].flow_id);
      EXPECT_EQ(batch[i].last_seen_ns, 1000 + batch[i].flow_id);
      EXPECT_EQ(batch[i].tcp_flags, 0x10u);
    }
  }
}

TEST_F(Maps, FlushRemovesEverythingOfTheDevice) {
  // 7 -> 9 (client to backend), 7 -> 11 (client to another backend), 13 -> 15 (unrelated).
  ASSERT_EQ(maps_->InstallFlow(Udp(7, kClient, kVip, 1, 53, 1), Udp(9, kBackend, kClient, 53, 1, 1)), 0);
  FlowEntry to9 = Udp(7, kClient, kVip, 2, 53, 2);
  to9.value.target_ifindex = 9;
  ASSERT_EQ(maps_->InstallFlow(to9, Udp(11, kBackend, kClient, 53, 2, 2)), 0);
  ASSERT_EQ(maps_->InstallFlow(Udp(13, kClient, kVip, 3, 53, 3), Udp(15, kBackend, kClient, 53, 3, 3)), 0);
  podnet_pod_addrs pod = {};
  pod.n_v4 = 1;
  std::memcpy(pod.v4[0], kBackend, 4);
  ASSERT_EQ(maps_->SetPod(9, pod), 0);
  size_t removed = 0;
  ASSERT_EQ(maps_->FlushIfindex(9, &removed), 0);
  EXPECT_EQ(removed, 2u);  // the entry at 9 and the one redirecting to 9
  std::vector<SweptFlow> left;
  ASSERT_EQ(maps_->Sweep(&left), 0);
  EXPECT_EQ(left.size(), 4u);
  for (const SweptFlow& f : left) {
    EXPECT_NE(f.key.ifindex, 9u);
    EXPECT_NE(f.target_ifindex, 9u);
  }
  podnet_pod_addrs got;
  const uint32_t nine = 9;
  EXPECT_NE(bpf_map_lookup_elem(l_->map_fd(kPodsMap), &nine, &got), 0);
  EXPECT_EQ(maps_->DeletePod(9), 0) << "deleting a gone pod is fine";
}

TEST_F(Maps, CountersAfterPacketsThroughTheProgram) {
  const uint8_t pod_mac[6] = {0x02, 0, 0, 0, 1, 0x64}, other_mac[6] = {0x02, 0, 0, 0, 1, 0x65};
  podnet_pod_addrs pod = {};
  std::memcpy(pod.mac, pod_mac, 6);
  pod.n_v4 = 1;
  std::memcpy(pod.v4[0], kClient, 4);
  ASSERT_EQ(maps_->SetPod(7, pod), 0);
  FlowEntry fwd = Udp(7, kClient, kVip, 33000, 53, 42);
  fwd.value.rewrite = PODNET_RW_DADDR;
  std::memcpy(fwd.value.new_daddr, kBackend, 4);
  fwd.value.action = PODNET_ACT_PASS;
  ASSERT_EQ(maps_->InstallFlow(fwd, Udp(9, kBackend, kClient, 53, 33000, 42)), 0);

  EXPECT_EQ(Run(7, UdpFrame(pod_mac, kClient, kVip, 33000, 53)), TC_ACT_OK);      // hit, pass
  EXPECT_EQ(Run(7, UdpFrame(pod_mac, kClient, kVip, 33001, 53)), TC_ACT_UNSPEC);  // miss
  EXPECT_EQ(Run(7, UdpFrame(other_mac, kClient, kVip, 33000, 53)), TC_ACT_SHOT);  // spoofed MAC
  EXPECT_EQ(Run(7, UdpFrame(pod_mac, kBackend, kVip, 33000, 53)), TC_ACT_SHOT);   // spoofed IPv4

  StatCounters st;
  ASSERT_EQ(maps_->ReadStats(&st), 0);
  EXPECT_EQ(st[PODNET_STAT_HIT_PASS], 1u);
  EXPECT_EQ(st[PODNET_STAT_MISS], 1u);
  EXPECT_EQ(st[PODNET_STAT_SPOOF_DROP], 2u);
  podnet_spoof_counts sp;
  ASSERT_EQ(maps_->ReadSpoof(7, &sp), 0);
  EXPECT_EQ(sp.drops[PODNET_SPOOF_SRC_MAC], 1u);
  EXPECT_EQ(sp.drops[PODNET_SPOOF_SRC_IPV4], 1u);
  ASSERT_EQ(maps_->ReadSpoof(9, &sp), 0);
  EXPECT_EQ(sp.drops[PODNET_SPOOF_SRC_MAC], 0u) << "a pod that never dropped reads zero";

  std::vector<SweptFlow> swept;
  ASSERT_EQ(maps_->Sweep(&swept), 0);
  auto hit = std::find_if(swept.begin(), swept.end(), [](const SweptFlow& f) { return f.key.ifindex == 7; });
  ASSERT_NE(hit, swept.end());
  EXPECT_EQ(hit->packets, 1u);
  EXPECT_EQ(hit->bytes, 32u);
  EXPECT_GT(hit->last_seen_ns, 0u);

  ASSERT_EQ(maps_->FlushIfindex(7), 0);
  ASSERT_EQ(maps_->ReadSpoof(7, &sp), 0);
  EXPECT_EQ(sp.drops[PODNET_SPOOF_SRC_MAC], 0u) << "the flush dropped the pod's counters";
}

}  // namespace
}  // namespace podnet::fastpath
