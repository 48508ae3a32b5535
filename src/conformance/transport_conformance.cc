// The transport conformance cases (include/skiff/testing/transport_conformance.h).
#include "skiff/testing/transport_conformance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "register.h"
#include "skiff/testing/recording_handler.h"

namespace skiff::testing {
namespace {

using std::chrono::milliseconds;

using Recorder = RecordingHandler;
using SnapshotReport = RecordingHandler::SnapshotReport;

// Started endpoints for nodes 1..n, each knowing all the others.
struct Cluster {
  Cluster(TransportHarness& h, std::uint64_t n) {
    for (std::uint64_t id = 1; id <= n; ++id) {
      endpoints.push_back(h.create(NodeId{id}));
      recorders.push_back(std::make_unique<Recorder>());
    }
    for (std::uint64_t a = 1; a <= n; ++a) {
      for (std::uint64_t b = 1; b <= n; ++b) {
        if (a != b) {
          EXPECT_TRUE(endpoints[a - 1]->add_peer(NodeId{b}, h.address(NodeId{b})).ok());
        }
      }
    }
    for (std::uint64_t id = 1; id <= n; ++id) {
      const Status s = endpoints[id - 1]->start(*recorders[id - 1]);
      EXPECT_TRUE(s.ok()) << "node " << id << ": " << s.to_string();
    }
  }
  ~Cluster() {
    for (auto& e : endpoints) {
      e->stop();
    }
  }
  Transport& t(std::uint64_t id) { return *endpoints[id - 1]; }
  Recorder& r(std::uint64_t id) { return *recorders[id - 1]; }

  std::vector<std::unique_ptr<Transport>> endpoints;
  std::vector<std::unique_ptr<Recorder>> recorders;
};

Message message(MessageType type, std::uint64_t from, std::uint64_t to, std::uint64_t n) {
  Message m;
  m.type = type;
  m.from = NodeId{from};
  m.to = NodeId{to};
  m.term = Term{3};
  m.index = Index{n};
  m.commit = Index{n / 2};
  m.context = Bytes("ctx-" + std::to_string(n));
  return m;
}

void every_message_type_arrives_intact(TransportHarness& h) {
  Cluster c(h, 2);
  std::vector<Message> sent;
  for (int t = 1; t <= 13; ++t) {
    Message m = message(static_cast<MessageType>(t), 1, 2, static_cast<std::uint64_t>(t));
    m.log_term = Term{2};
    m.reject = t % 2 == 0;
    m.reject_hint = Index{1};
    m.leader_transfer = t == 5;
    if (m.type == MessageType::kAppend) {
      m.entries = {Entry{Term{3}, Index{2}, EntryType::kNormal, Bytes("a")},
                   Entry{Term{3}, Index{3}, EntryType::kNoop, Bytes()}};
    }
    if (m.type == MessageType::kSnapshot) {
      m.snapshot.meta.last = EntryId{Term{2}, Index{9}};
      m.snapshot.meta.conf_state.voters = {NodeId{1}, NodeId{2}};
      m.snapshot.data = Bytes("state");
    }
    sent.push_back(m);
    c.t(1).send(m);
  }
  ASSERT_TRUE(c.r(2).wait_messages(sent.size())) << "only " << c.r(2).messages().size();
  EXPECT_EQ(c.r(2).messages(), sent);
}

void order_is_kept_per_peer(TransportHarness& h) {
  Cluster c(h, 2);
  constexpr std::uint64_t kCount = 2000;
  for (std::uint64_t i = 1; i <= kCount; ++i) {
    c.t(1).send(message(MessageType::kHeartbeat, 1, 2, i));
  }
  ASSERT_TRUE(c.r(2).wait_messages(kCount)) << "only " << c.r(2).messages().size();
  const std::vector<Message> got = c.r(2).messages();
  for (std::uint64_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(got[i].index, Index{i + 1}) << "out of order at " << i;
  }
}

void an_unknown_peer_is_reported_unreachable(TransportHarness& h) {
  Cluster c(h, 1);
  c.t(1).send(message(MessageType::kAppend, 1, 9, 1));
  ASSERT_TRUE(c.r(1).wait([](const auto& s) { return !s.unreachable.empty(); }));
  EXPECT_EQ(c.r(1).unreachable().front(), NodeId{9});
}

void a_stopped_peer_is_reported_unreachable(TransportHarness& h) {
  Cluster c(h, 2);
  c.t(2).stop();
  // A transport may need a few messages to notice (a connection attempt, a timeout).
  for (int k = 0; k < 100 && c.r(1).unreachable().empty(); ++k) {
    c.t(1).send(message(MessageType::kHeartbeat, 1, 2, static_cast<std::uint64_t>(k)));
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(c.r(1).wait([](const auto& s) { return !s.unreachable.empty(); }));
  EXPECT_EQ(c.r(1).unreachable().front(), NodeId{2});
}

void snapshots_report_their_outcome(TransportHarness& h) {
  Cluster c(h, 2);
  Message snap = message(MessageType::kSnapshot, 1, 2, 1);
  snap.snapshot.meta.last = EntryId{Term{2}, Index{50}};
  snap.snapshot.meta.conf_state.voters = {NodeId{1}, NodeId{2}};
  snap.snapshot.data = Bytes(std::string(100000, 'd'));
  c.t(1).send(snap);
  ASSERT_TRUE(c.r(1).wait([](const auto& s) { return !s.snapshots.empty(); }));
  // The report names the snapshot the message carried (Transport contract), so the core can
  // ignore a late report on an older snapshot.
  EXPECT_EQ(c.r(1).snapshots().front(), (SnapshotReport{NodeId{2}, Index{50}, true}));
  ASSERT_TRUE(c.r(2).wait_messages(1));
  EXPECT_EQ(c.r(2).messages().front(), snap);

  Message lost = snap;
  lost.to = NodeId{7};  // nobody there
  lost.snapshot.meta.last = EntryId{Term{2}, Index{61}};
  c.t(1).send(lost);
  ASSERT_TRUE(c.r(1).wait([](const auto& s) { return s.snapshots.size() >= 2; }));
  EXPECT_EQ(c.r(1).snapshots()[1], (SnapshotReport{NodeId{7}, Index{61}, false}));
}

// Two snapshots to one peer, back to back: each report names one of them, each is reported
// once (the first may fail, superseded by the second), and the newer one arrives.
void each_snapshot_report_names_its_snapshot(TransportHarness& h) {
  Cluster c(h, 2);
  Message older = message(MessageType::kSnapshot, 1, 2, 1);
  older.snapshot.meta.last = EntryId{Term{2}, Index{50}};
  older.snapshot.meta.conf_state.voters = {NodeId{1}, NodeId{2}};
  older.snapshot.data = Bytes(std::string(200000, 'o'));
  Message newer = older;
  newer.snapshot.meta.last = EntryId{Term{2}, Index{80}};
  newer.snapshot.data = Bytes(std::string(1000, 'n'));
  c.t(1).send(older);
  c.t(1).send(newer);
  ASSERT_TRUE(c.r(1).wait([](const auto& s) { return s.snapshots.size() >= 2; }));
  std::vector<SnapshotReport> reports = c.r(1).snapshots();
  ASSERT_EQ(reports.size(), 2u);
  std::sort(reports.begin(), reports.end(),
            [](const auto& a, const auto& b) { return a.snapshot < b.snapshot; });
  EXPECT_EQ(reports[0].peer, NodeId{2});
  EXPECT_EQ(reports[0].snapshot, Index{50});
  EXPECT_EQ(reports[1], (SnapshotReport{NodeId{2}, Index{80}, true}));
  ASSERT_TRUE(c.r(2).wait([&](const auto& s) {
    return std::find(s.messages.begin(), s.messages.end(), newer) != s.messages.end();
  }));
}

void many_threads_may_send_at_once(TransportHarness& h) {
  Cluster c(h, 2);
  constexpr std::uint64_t kThreads = 4;
  constexpr std::uint64_t kEach = 250;
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c, t] {
      for (std::uint64_t i = 1; i <= kEach; ++i) {
        Message m = message(MessageType::kHeartbeat, 1, 2, i);
        m.commit = Index{t};
        c.t(1).send(m);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  ASSERT_TRUE(c.r(2).wait_messages(kThreads * kEach)) << "only " << c.r(2).messages().size();
  std::map<std::uint64_t, std::uint64_t> last;  // per sending thread: order is kept
  for (const Message& m : c.r(2).messages()) {
    EXPECT_EQ(m.index.value, last[m.commit.value] + 1) << "thread " << m.commit.value;
    last[m.commit.value] = m.index.value;
  }
}

void nothing_is_delivered_after_stop(TransportHarness& h) {
  Cluster c(h, 2);
  for (std::uint64_t i = 1; i <= 500; ++i) {
    c.t(1).send(message(MessageType::kHeartbeat, 1, 2, i));
  }
  c.t(2).stop();
  const std::size_t seen = c.r(2).messages().size();
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(c.r(2).messages().size(), seen) << "the handler was called after stop()";
  c.t(1).stop();
  c.t(1).send(message(MessageType::kHeartbeat, 1, 2, 1000));  // a no-op, not a crash
  c.t(1).stop();                                              // idempotent
}

void large_messages_arrive(TransportHarness& h) {
  Cluster c(h, 2);
  Message m = message(MessageType::kAppend, 1, 2, 1);
  m.entries = {Entry{Term{3}, Index{2}, EntryType::kNormal, Bytes(std::string(1 << 20, 'L'))}};
  c.t(1).send(m);
  ASSERT_TRUE(c.r(2).wait_messages(1));
  EXPECT_EQ(c.r(2).messages().front(), m);
}

void three_endpoints_talk_all_to_all(TransportHarness& h) {
  Cluster c(h, 3);
  for (std::uint64_t a = 1; a <= 3; ++a) {
    for (std::uint64_t b = 1; b <= 3; ++b) {
      if (a != b) {
        for (std::uint64_t i = 1; i <= 20; ++i) {
          c.t(a).send(message(MessageType::kAppendResponse, a, b, i));
        }
      }
    }
  }
  for (std::uint64_t b = 1; b <= 3; ++b) {
    ASSERT_TRUE(c.r(b).wait_messages(40)) << "node " << b;
    std::map<std::uint64_t, std::uint64_t> from;
    for (const Message& m : c.r(b).messages()) {
      EXPECT_EQ(m.to, NodeId{b});
      EXPECT_EQ(m.index.value, ++from[m.from.value]) << "order from " << m.from.value;
    }
    EXPECT_EQ(from.size(), 2u);
  }
}

void starting_twice_is_refused(TransportHarness& h) {
  std::unique_ptr<Transport> t = h.create(NodeId{1});
  Recorder r;
  ASSERT_TRUE(t->start(r).ok());
  EXPECT_EQ(t->start(r).code(), ErrorCode::kFailedPrecondition);
  t->stop();
}

const detail::Case<TransportHarness> kCases[] = {
    {"EveryMessageTypeArrivesIntact", every_message_type_arrives_intact},
    {"OrderIsKeptPerPeer", order_is_kept_per_peer},
    {"AnUnknownPeerIsReportedUnreachable", an_unknown_peer_is_reported_unreachable},
    {"AStoppedPeerIsReportedUnreachable", a_stopped_peer_is_reported_unreachable},
    {"SnapshotsReportTheirOutcome", snapshots_report_their_outcome},
    {"EachSnapshotReportNamesItsSnapshot", each_snapshot_report_names_its_snapshot},
    {"ManyThreadsMaySendAtOnce", many_threads_may_send_at_once},
    {"NothingIsDeliveredAfterStop", nothing_is_delivered_after_stop},
    {"LargeMessagesArrive", large_messages_arrive},
    {"ThreeEndpointsTalkAllToAll", three_endpoints_talk_all_to_all},
    {"StartingTwiceIsRefused", starting_twice_is_refused},
};

}  // namespace

bool register_transport_conformance(const std::string& suite, TransportHarnessFactory factory) {
  return detail::register_cases<TransportHarness>(suite, std::move(factory), kCases);
}

}  // namespace skiff::testing
