// Followers whose logs differ from the leader's are brought back to it (Raft §5.3), and a
// follower commits only what an Append proved it shares with the leader (PITFALLS #11).
#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

using Terms = std::vector<std::uint64_t>;

// Raft Figure 7, as in etcd-io/raft's TestLeaderSyncFollowerLog: a leader whose log ends
// 10/6 and six followers with every kind of difference — missing entries (a, b), extra
// uncommitted entries (c, d), and conflicting tails of older terms (e, f). All converge on the
// leader's log.
TEST(LogRepair, Figure7FollowersConvergeOnTheLeaderLog) {
  Cluster c({.size = 7});
  const Terms leader = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  // Everybody has seen term 7 (node (d) led it).
  c.load_log(1, leader, 0, 7);
  c.load_log(2, {1, 1, 1, 4, 4, 5, 5, 6, 6}, 0, 7);           // (a) one entry behind
  c.load_log(3, {1, 1, 1, 4}, 0, 7);                          // (b) far behind
  c.load_log(4, {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6}, 0, 7);     // (c) an extra entry of term 6
  c.load_log(5, {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}, 0, 7);  // (d) two extra of term 7
  c.load_log(6, {1, 1, 1, 4, 4, 4, 4}, 0, 7);                 // (e) conflicting term-4 tail
  c.load_log(7, {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3}, 0, 7);     // (f) tail of terms 2 and 3

  // Node 1 wins term 8 with the votes of (a), (b), (e) and (f); (c) and (d) have logs more
  // up to date than its own and refuse (Raft §5.4.1).
  c.elect(1);
  EXPECT_EQ(c.node(1).term(), Term{8});
  c.stabilize();

  Terms expected = leader;
  expected.push_back(8);  // the leader's no-op
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.log_terms(id), expected) << "node " << id;
    EXPECT_EQ(c.stored_log(id), c.stored_log(1)) << "node " << id;
    EXPECT_EQ(c.node(id).commit_index(), Index{11}) << "node " << id;
    EXPECT_EQ(c.applied(id).size(), 10u) << "node " << id;
  }
}

// PITFALLS #11 (copycat #265): a follower commits min(leader commit, index of the last entry
// this Append matched), never the leader's commit outright. The follower has a stale term-1
// entry at index 10; the term-2 leader's log has 9/1 then 10/2, 11/2, committed to 11. An
// empty Append after 9/1 proves only the first 9 entries.
TEST(LogRepair, Pitfall11_FollowerCommitIsBoundedByWhatTheAppendMatched) {
  Cluster c;
  c.load_log(2, Terms(10, 1), /*commit=*/5);
  c.stabilize();  // node 2 applies its committed 1..5

  c.inject(append_msg(1, 2, 2, 9, 1, {}, /*commit=*/11));
  ASSERT_EQ(c.deliver_to(2), 1u);
  c.process_readies();
  auto answers = c.take_matching(msg_is(MessageType::kAppendResponse, 2, 1));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_FALSE(answers[0].reject);
  EXPECT_EQ(answers[0].index, Index{9});

  EXPECT_EQ(c.node(2).commit_index(), Index{9});
  std::vector<std::string> expected;
  for (int i = 1; i <= 9; ++i) {
    expected.push_back(std::to_string(i) + "/1");
  }
  EXPECT_EQ(c.applied(2), expected);  // never 10/1
  EXPECT_EQ(c.log_terms(2), Terms(10, 1));

  // The leader's next Append replaces the stale entry; only then does 10 commit.
  c.inject(append_msg(1, 2, 2, 9, 1, {2, 2}, /*commit=*/11));
  ASSERT_EQ(c.deliver_to(2), 1u);
  c.process_readies();
  EXPECT_EQ(c.node(2).commit_index(), Index{11});
  EXPECT_EQ(c.log_terms(2), (Terms{1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2}));
  expected.push_back("10/2");
  expected.push_back("11/2");
  EXPECT_EQ(c.applied(2), expected);
}

// PITFALLS #11 (copycat #110): truncation only on a real conflict. The network reorders two
// Appends of the same leader; the older, shorter one arrives last and must not cut off the
// entries the newer one brought.
TEST(LogRepair, Pitfall11_ReorderedAppendsDoNotTruncateAMatchingSuffix) {
  Cluster c;
  c.load_log(2, Terms(10, 1), /*commit=*/5);
  c.stabilize();

  const Message older = append_msg(1, 2, 2, 9, 1, {2}, /*commit=*/5);
  const Message newer = append_msg(1, 2, 2, 9, 1, {2, 2, 2}, /*commit=*/5);
  c.inject(newer);
  c.inject(older);
  ASSERT_EQ(c.deliver_to(2), 2u);
  c.process_readies();

  EXPECT_EQ(c.log_terms(2), (Terms{1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2}));
  auto answers = c.take_matching(msg_is(MessageType::kAppendResponse, 2, 1));
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].index, Index{12});
  EXPECT_EQ(answers[1].index, Index{10});  // what the older Append matched, nothing dropped
  EXPECT_FALSE(answers[1].reject);

  // A later commit covering the whole suffix applies it all.
  c.inject(append_msg(1, 2, 2, 12, 2, {}, /*commit=*/12));
  c.deliver_to(2);
  c.process_readies();
  EXPECT_EQ(c.node(2).commit_index(), Index{12});
  EXPECT_EQ(c.applied(2).back(), "12/2");
}

}  // namespace
}  // namespace skiff::test
