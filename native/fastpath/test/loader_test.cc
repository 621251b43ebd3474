// Loader: load + pin, a re-open reuses the pinned maps (a flow written before survives),
// a resize replaces only the flow map, the object loads from bytes, RemoveAll unpins.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <memory>

#include "../loader.h"
#include "../maps.h"
#include "test_env.h"

namespace podnet::fastpath {
namespace {

using testenv::FreshPinRoot;
using testenv::ObjectPath;

LoaderOptions Options(const std::string& root, uint32_t flows_max = 1024) {
  LoaderOptions o;
  o.object.path = ObjectPath();
  o.pin_root = root;
  o.flows_max = flows_max;
  return o;
}

FlowEntry Entry(uint32_t ifindex, uint16_t sport, uint64_t id) {
  const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 96, 0, 1};
  FlowEntry e;
  std::memset(&e, 0, sizeof(e));
  e.key = MakeFlowKey(4, 17, a, b, htons(sport), htons(53), ifindex);
  e.value.flow_id = id;
  return e;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

TEST(Loader, LoadsAndPinsUnderTheVersionedDirectory) {
  const std::string root = FreshPinRoot();
  std::unique_ptr<Loader> l;
  LoadReport r;
  Status s = Loader::Open(Options(root), &l, &r);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_GT(l->prog_fd(), 0);
  EXPECT_GT(l->prog_id(), 0u);
  EXPECT_EQ(l->pin_dir(), root + "/podnet/v" + std::to_string(PODNET_FC_VERSION));
  for (const char* m : {PODNET_MAP_FLOWS_NAME, PODNET_MAP_PODS_NAME, PODNET_MAP_STATS_NAME, PODNET_MAP_SPOOF_NAME})
    EXPECT_TRUE(Exists(l->pin_dir() + "/" + m)) << m;
  for (bool reused : r.reused) EXPECT_FALSE(reused);
}

TEST(Loader, ReopenReusesPinnedMapsAndKeepsFlows) {
  const std::string root = FreshPinRoot();
  uint32_t flows_id = 0;
  {
    std::unique_ptr<Loader> l;
    ASSERT_TRUE(Loader::Open(Options(root), &l).ok());
    FlowCacheMaps maps(*l);
    ASSERT_EQ(maps.InstallFlow(Entry(5, 1000, 77), Entry(6, 1001, 77)), 0);
    flows_id = BpfObjectId(l->map_fd(kFlowsMap));
  }  // "daemon exits": the pins keep the maps
  std::unique_ptr<Loader> l;
  LoadReport r;
  Status s = Loader::Open(Options(root), &l, &r);
  ASSERT_TRUE(s.ok()) << s.message;
  for (bool reused : r.reused) EXPECT_TRUE(reused);
  EXPECT_FALSE(r.flows_replaced);
  EXPECT_EQ(BpfObjectId(l->map_fd(kFlowsMap)), flows_id);
  FlowCacheMaps maps(*l);
  podnet_flow_value v;
  ASSERT_EQ(maps.LookupFlow(Entry(5, 1000, 0).key, &v), 0);
  EXPECT_EQ(v.flow_id, 77u);
}

TEST(Loader, ResizeReplacesOnlyTheFlowMap) {
  const std::string root = FreshPinRoot();
  {
    std::unique_ptr<Loader> l;
    ASSERT_TRUE(Loader::Open(Options(root, 1024), &l).ok());
    ASSERT_EQ(FlowCacheMaps(*l).InstallFlow(Entry(5, 1000, 1), Entry(6, 1001, 1)), 0);
  }
  std::unique_ptr<Loader> l;
  LoadReport r;
  ASSERT_TRUE(Loader::Open(Options(root, 2048), &l, &r).ok());
  EXPECT_TRUE(r.flows_replaced);
  EXPECT_FALSE(r.reused[kFlowsMap]);
  EXPECT_TRUE(r.reused[kPodsMap] && r.reused[kStatsMap] && r.reused[kSpoofMap]);
  podnet_flow_value v;
  EXPECT_EQ(FlowCacheMaps(*l).LookupFlow(Entry(5, 1000, 0).key, &v), -ENOENT);
  // The new pin is the new map: a third open reuses it.
  std::unique_ptr<Loader> again;
  LoadReport r2;
  ASSERT_TRUE(Loader::Open(Options(root, 2048), &again, &r2).ok());
  EXPECT_TRUE(r2.reused[kFlowsMap]);
}

TEST(Loader, OpensTheObjectFromMemory) {
  std::vector<uint8_t> bytes = testenv::ReadFile(ObjectPath());
  ASSERT_FALSE(bytes.empty());
  LoaderOptions o = Options(FreshPinRoot());
  o.object.path.clear();
  o.object.data = bytes.data();
  o.object.size = bytes.size();
  std::unique_ptr<Loader> l;
  Status s = Loader::Open(o, &l);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_GT(l->prog_id(), 0u);
}

TEST(Loader, ErrorsAreStatusesNotCrashes) {
  std::unique_ptr<Loader> l;
  LoaderOptions o = Options(FreshPinRoot());
  o.object.path = "/nonexistent/flow_cache.bpf.o";
  Status s = Loader::Open(o, &l);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.err, ENOENT) << s.message;
  EXPECT_FALSE(l);
  o = Options("/nonexistent-pin-root");
  EXPECT_FALSE(Loader::Open(o, &l).ok());
  o = Options("");
  EXPECT_EQ(Loader::Open(o, &l).err, EINVAL);
  std::vector<uint8_t> junk(64, 0x5a);
  o = Options(FreshPinRoot());
  o.object.data = junk.data();
  o.object.size = junk.size();
  EXPECT_FALSE(Loader::Open(o, &l).ok());
}

TEST(Loader, RemoveAllUnpinsEverything) {
  std::unique_ptr<Loader> l;
  ASSERT_TRUE(Loader::Open(Options(FreshPinRoot()), &l).ok());
  ASSERT_TRUE(l->RemoveAll().ok());
  EXPECT_FALSE(Exists(l->pin_dir()));
}

}  // namespace
}  // namespace podnet::fastpath
