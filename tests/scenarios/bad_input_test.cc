// Messages a broken or hostile peer might send that pass shape validation but contradict the
// protocol state: each is refused with kInvalidArgument and counted, and changes nothing.
#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

Message message_to_1(MessageType type, std::uint64_t from, Term term) {
  Message m;
  m.type = type;
  m.from = NodeId{from};
  m.to = NodeId{1};
  m.term = term;
  return m;
}

TEST(BadInput, LeaderRefusesAnAcknowledgementPastItsLog) {
  Cluster c;
  c.elect(1);
  const Index last = c.node(1).last_index();
  const Index commit = c.node(1).commit_index();
  Message m = message_to_1(MessageType::kAppendResponse, 2, c.node(1).term());
  m.index = Index{1000};
  Status s = c.node(1).step(m);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << s.to_string();
  EXPECT_EQ(c.node(1).counters().messages_rejected, 1u);
  EXPECT_EQ(c.node(1).last_index(), last);
  EXPECT_EQ(c.node(1).commit_index(), commit);
  c.node(1).check_invariants();  // the follower's progress did not jump past the log
  // The leader keeps working normally.
  ASSERT_TRUE(c.propose(1, "after").ok());
  c.stabilize();
  EXPECT_EQ(c.applied(2), std::vector<std::string>{"after"});
}

TEST(BadInput, SecondLeaderInTheSameTermIsRefused) {
  // Raft §5.2 allows one leader per term; a leader's message from another node in our own
  // term can only come from a broken peer.
  Cluster c;
  c.elect(1);
  Message m = message_to_1(MessageType::kHeartbeat, 3, c.node(1).term());
  Status s = c.node(1).step(m);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).counters().messages_rejected, 1u);
}

TEST(BadInput, FollowerIgnoresAHeartbeatCommitPastItsLog) {
  // A leader only sends min(match, commit); a larger commit would make the follower apply
  // entries it does not have. It is ignored, and the follower still answers the heartbeat.
  Cluster c;
  c.elect(1);
  const Index commit = c.node(2).commit_index();
  Message m;
  m.type = MessageType::kHeartbeat;
  m.from = NodeId{1};
  m.to = NodeId{2};
  m.term = c.node(2).term();
  m.commit = Index{1000};
  ASSERT_TRUE(c.node(2).step(m).ok());
  EXPECT_EQ(c.node(2).commit_index(), commit);
  c.node(2).check_invariants();
  ASSERT_TRUE(c.node(2).has_ready());
  auto rd = c.node(2).ready();
  ASSERT_TRUE(rd.ok());
  ASSERT_EQ(rd->persisted_messages.size(), 1u);
  EXPECT_EQ(rd->persisted_messages[0].type, MessageType::kHeartbeatResponse);
}

TEST(BadInput, IndexZeroAnswerDoesNotRestartReplication) {
  // A node of a newer term answers a stale leader's Append with an empty AppendResponse (index
  // 0) to tell it the term. If the old leader was elected in that very term meanwhile, the
  // answer arrives in its own term: it carries no news and must not make the leader send the
  // follower's whole log again from index 1 (found while hunting mutants with the simulator).
  Cluster c(plain_raft());
  c.elect(1);
  for (const char* x : {"a", "b", "c"}) {
    ASSERT_TRUE(c.propose(1, x).ok());
  }
  c.stabilize();
  c.elect(2);
  // Node 1 wins the next term; only votes travel, so its followers are still unprobed.
  ASSERT_TRUE(c.campaign(1).ok());
  auto votes = [](const Message& m) {
    return m.type == MessageType::kVote || m.type == MessageType::kVoteResponse;
  };
  for (int k = 0; k < 10 && c.node(1).role() != Role::kLeader; ++k) {
    c.process_readies();
    c.deliver_matching(votes);
  }
  ASSERT_EQ(c.node(1).role(), Role::kLeader);
  c.clear_in_flight();
  Message m = message_to_1(MessageType::kAppendResponse, 2, c.node(1).term());
  ASSERT_TRUE(c.node(1).step(m).ok());
  c.process_readies();
  const std::size_t from_scratch = c.count_in_flight([](const Message& msg) {
    return msg.type == MessageType::kAppend && msg.to == NodeId{2} && msg.index == Index{0};
  });
  EXPECT_EQ(from_scratch, 0u) << c.tail();
  c.stabilize();
  c.run_ticks(2);
  EXPECT_EQ(c.applied(2), (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace skiff::test
