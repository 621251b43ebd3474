// Attach/detach on veths of the test's own network namespace: tcx where the kernel has it,
// clsact when forced; a re-open swaps the new program into pinned attachments; a device
// that vanished leaves a stale pin that Resume and Detach clean up.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "../loader.h"
#include "test_env.h"

namespace podnet::fastpath {
namespace {

using testenv::MakeVeth;
using testenv::Sh;

class Attach : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testenv::InOwnNetns());
    root_ = testenv::FreshPinRoot();
    ASSERT_TRUE(Open(&l_).ok());
  }
  Status Open(std::unique_ptr<Loader>* out, LoadReport* r = nullptr) {
    LoaderOptions o;
    o.object.path = testenv::ObjectPath();
    o.pin_root = root_;
    o.flows_max = 1024;
    return Loader::Open(o, out, r);
  }
  /** The one attachment of `ifindex` as the pins record it. */
  Attachment Of(uint32_t ifindex) {
    for (const Attachment& a : l_->Attachments())
      if (a.ifindex == ifindex) return a;
    return {};
  }
  std::string root_;
  std::unique_ptr<Loader> l_;
};

/** The program tc reports on the device's ingress, as `tc filter show` prints it. */
bool TcShows(const std::string& dev, const std::string& what) {
  return Sh("tc filter show dev " + dev + " ingress | grep -q '" + what + "'") == 0;
}

TEST_F(Attach, TcxAttachDetach) {
  uint32_t ifx = MakeVeth("fpa0");
  ASSERT_NE(ifx, 0u);
  AttachMode mode;
  Status s = l_->Attach(ifx, {}, &mode);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(mode, AttachMode::kTcx);
  Attachment a = Of(ifx);
  EXPECT_EQ(a.mode, AttachMode::kTcx);
  EXPECT_EQ(a.prog_id, l_->prog_id());
  // Attaching again re-points the same link instead of stacking a second one.
  ASSERT_TRUE(l_->Attach(ifx, {}, &mode).ok());
  EXPECT_EQ(l_->Attachments().size(), 1u);
  ASSERT_TRUE(l_->Detach(ifx).ok());
  EXPECT_EQ(Of(ifx).mode, AttachMode::kNone);
  EXPECT_TRUE(l_->Detach(ifx).ok()) << "detaching twice is fine";
  Sh("ip link del fpa0");
}

TEST_F(Attach, ReopenSwapsTheProgramIntoPinnedLinks) {
  uint32_t tcx = MakeVeth("fpa1"), cls = MakeVeth("fpa2");
  ASSERT_TRUE(tcx && cls);
  ASSERT_TRUE(l_->Attach(tcx, {}).ok());
  AttachOptions force;
  force.force_clsact = true;
  ASSERT_TRUE(l_->Attach(cls, force).ok());
  const uint32_t old_prog = l_->prog_id();
  l_.reset();  // daemon exits; the attachments stay
  std::unique_ptr<Loader> again;
  LoadReport r;
  Status s = Open(&again, &r);
  ASSERT_TRUE(s.ok()) << s.message;
  l_ = std::move(again);
  EXPECT_EQ(r.links_updated, 1u);
  EXPECT_EQ(r.filters_replaced, 1u);
  EXPECT_NE(l_->prog_id(), old_prog);
  EXPECT_EQ(Of(tcx).prog_id, l_->prog_id());
  EXPECT_EQ(Of(cls).prog_id, l_->prog_id());
  EXPECT_TRUE(TcShows("fpa2", "id " + std::to_string(l_->prog_id()) + " "));
  ASSERT_TRUE(l_->Detach(tcx).ok());
  ASSERT_TRUE(l_->Detach(cls).ok());
  EXPECT_FALSE(TcShows("fpa2", "podnet_fastpath"));
  EXPECT_TRUE(l_->Attachments().empty());
  Sh("ip link del fpa1; ip link del fpa2");
}

TEST_F(Attach, ClsactWhenForced) {
  uint32_t ifx = MakeVeth("fpa3");
  ASSERT_NE(ifx, 0u);
  AttachOptions o;
  o.force_clsact = true;
  AttachMode mode;
  Status s = l_->Attach(ifx, o, &mode);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(mode, AttachMode::kClsact);
  EXPECT_TRUE(TcShows("fpa3", "podnet_fastpath"));
  EXPECT_TRUE(TcShows("fpa3", "direct-action"));
  // Switching to tcx removes the clsact filter: the program must not run twice.
  ASSERT_TRUE(l_->Attach(ifx, {}, &mode).ok());
  EXPECT_EQ(mode, AttachMode::kTcx);
  EXPECT_FALSE(TcShows("fpa3", "podnet_fastpath"));
  ASSERT_EQ(l_->Attachments().size(), 1u);
  ASSERT_TRUE(l_->Detach(ifx).ok());
  Sh("ip link del fpa3");
}

TEST_F(Attach, VanishedDevicesLeaveNothingBehind) {
  uint32_t tcx = MakeVeth("fpa4"), cls = MakeVeth("fpa5");
  ASSERT_TRUE(tcx && cls);
  AttachOptions force;
  force.force_clsact = true;
  ASSERT_TRUE(l_->Attach(tcx, {}).ok());
  ASSERT_TRUE(l_->Attach(cls, force).ok());
  Sh("ip link del fpa4; ip link del fpa5");  // the pods are deleted
  for (const Attachment& a : l_->Attachments()) EXPECT_EQ(a.prog_id, 0u) << "ifindex " << a.ifindex;
  // While the daemon was down: the re-open drops both stale pins.
  l_.reset();
  std::unique_ptr<Loader> again;
  LoadReport r;
  ASSERT_TRUE(Open(&again, &r).ok());
  l_ = std::move(again);
  EXPECT_EQ(r.stale_removed, 2u);
  EXPECT_EQ(r.links_updated + r.filters_replaced, 0u);
  EXPECT_TRUE(l_->Attachments().empty());
}

TEST_F(Attach, DetachOfAVanishedDeviceRemovesThePin) {
  uint32_t ifx = MakeVeth("fpa6");
  ASSERT_TRUE(l_->Attach(ifx, {}).ok());
  Sh("ip link del fpa6");
  ASSERT_TRUE(l_->Detach(ifx).ok());
  EXPECT_TRUE(l_->Attachments().empty());
}

TEST_F(Attach, MissingDeviceIsAnError) {
  Status s = l_->Attach(999999, {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message, "");
  EXPECT_TRUE(l_->Attachments().empty());
}

}  // namespace
}  // namespace podnet::fastpath
