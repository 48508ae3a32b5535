// InMemoryTransport against the transport conformance suite, plus what is particular to it:
// cut links and a full inbox are reported as unreachable.
#include "skiff/transport/inmem_transport.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "skiff/testing/recording_handler.h"
#include "skiff/testing/transport_conformance.h"

namespace skiff {
namespace {

class InMemoryHarness final : public testing::TransportHarness {
 public:
  std::unique_ptr<Transport> create(NodeId id) override {
    return std::make_unique<InMemoryTransport>(network_, address(id));
  }
  std::string address(NodeId id) override { return "node-" + std::to_string(id.value); }

 private:
  std::shared_ptr<InMemoryNetwork> network_ = std::make_shared<InMemoryNetwork>();
};

const bool registered = testing::register_transport_conformance(
    "InMemoryTransport", [] { return std::make_unique<InMemoryHarness>(); });

// Counts what arrives; blocks in on_message until released, to fill an inbox.
class Gate final : public TransportHandler {
 public:
  void on_message(Message) override {
    while (!open.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ++messages;
  }
  void on_unreachable(NodeId) override { ++unreachable; }
  void on_snapshot_status(NodeId, Index, bool) override {}
  std::atomic<bool> open{true};
  std::atomic<int> messages{0};
  std::atomic<int> unreachable{0};
};

bool eventually(const std::function<bool()>& pred) {
  for (int k = 0; k < 1000 && !pred(); ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

Message heartbeat(std::uint64_t to) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.from = NodeId{1};
  m.to = NodeId{to};
  m.term = Term{1};
  return m;
}

TEST(InMemoryTransport, ACutLinkIsReportedUnreachableUntilHealed) {
  auto network = std::make_shared<InMemoryNetwork>();
  InMemoryTransport a(network, "a");
  InMemoryTransport b(network, "b");
  Gate ga;
  Gate gb;
  ASSERT_TRUE(a.add_peer(NodeId{2}, "b").ok());
  ASSERT_TRUE(a.start(ga).ok());
  ASSERT_TRUE(b.start(gb).ok());
  network->cut("a", "b");
  a.send(heartbeat(2));
  ASSERT_TRUE(eventually([&] { return ga.unreachable.load() == 1; }));
  network->heal();
  a.send(heartbeat(2));
  ASSERT_TRUE(eventually([&] { return gb.messages.load() == 1; }));
}

// A peer whose node does not keep up: the bounded inbox fills, further messages are dropped
// and reported, memory stays bounded.
// Each snapshot report names the snapshot its message carried: over a cut link the older one
// fails, after healing the newer one arrives, and neither report could be taken for the other.
TEST(InMemoryTransport, SnapshotReportsNameTheirSnapshot) {
  auto network = std::make_shared<InMemoryNetwork>();
  InMemoryTransport a(network, "a");
  InMemoryTransport b(network, "b");
  testing::RecordingHandler ra;
  testing::RecordingHandler rb;
  ASSERT_TRUE(a.add_peer(NodeId{2}, "b").ok());
  ASSERT_TRUE(a.start(ra).ok());
  ASSERT_TRUE(b.start(rb).ok());
  Message older = heartbeat(2);
  older.type = MessageType::kSnapshot;
  older.snapshot.meta.last = EntryId{Term{1}, Index{40}};
  older.snapshot.meta.conf_state.voters = {NodeId{1}, NodeId{2}};
  Message newer = older;
  newer.snapshot.meta.last = EntryId{Term{1}, Index{90}};
  network->cut("a", "b");
  a.send(older);
  ASSERT_TRUE(ra.wait([](const auto& s) { return !s.snapshots.empty(); }));
  network->heal();
  a.send(newer);
  ASSERT_TRUE(ra.wait([](const auto& s) { return s.snapshots.size() >= 2; }));
  using Report = testing::RecordingHandler::SnapshotReport;
  EXPECT_EQ(ra.snapshots(),
            (std::vector<Report>{{NodeId{2}, Index{40}, false}, {NodeId{2}, Index{90}, true}}));
  ASSERT_TRUE(rb.wait_messages(1));
  EXPECT_EQ(rb.messages().front(), newer);
}

TEST(InMemoryTransport, AFullInboxDropsAndReportsInsteadOfGrowing) {
  auto network = std::make_shared<InMemoryNetwork>();
  InMemoryTransport a(network, "a");
  InMemoryTransport b(network, "b", /*inbox_limit=*/8);
  Gate ga;
  Gate gb;
  gb.open = false;  // b's node is stuck
  ASSERT_TRUE(a.add_peer(NodeId{2}, "b").ok());
  ASSERT_TRUE(a.start(ga).ok());
  ASSERT_TRUE(b.start(gb).ok());
  for (int k = 0; k < 100; ++k) {
    a.send(heartbeat(2));
  }
  ASSERT_TRUE(eventually([&] { return ga.unreachable.load() >= 100 - 9; }));
  EXPECT_LE(ga.unreachable.load(), 100 - 8);
  gb.open = true;
  ASSERT_TRUE(eventually([&] { return gb.messages.load() == 100 - ga.unreachable.load(); }));
  b.stop();
  a.stop();
}

TEST(InMemoryTransport, AnAddressInUseIsRefused) {
  auto network = std::make_shared<InMemoryNetwork>();
  InMemoryTransport a(network, "same");
  InMemoryTransport b(network, "same");
  Gate g;
  ASSERT_TRUE(a.start(g).ok());
  EXPECT_EQ(b.start(g).code(), ErrorCode::kUnavailable);
  EXPECT_EQ(a.add_peer(kNoNode, "x").code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff
