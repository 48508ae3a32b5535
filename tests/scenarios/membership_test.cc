// Membership changes (thesis §4): learners, single-server changes, joint consensus (§4.3), and
// the pitfalls around them: PITFALLS #2 (a change before the leader committed in its term),
// #12 (a removed leader), #13 (one change at a time, against the log's configuration), #15
// (recovering from a joint configuration). A configuration takes effect as soon as its entry
// is in a node's log (thesis §4.1), committed or not.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/cluster.h"

namespace skiff::test {
namespace {

ConfState joint(const std::vector<std::uint64_t>& voters,
                const std::vector<std::uint64_t>& outgoing, bool auto_leave) {
  ConfState cs = members(voters);
  cs.voters_outgoing = members(outgoing).voters;
  cs.auto_leave = auto_leave;
  return cs;
}

bool is_vote(const Message& m) {
  return m.type == MessageType::kVote || m.type == MessageType::kVoteResponse ||
         m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResponse;
}

std::optional<Entry> entry_at(Cluster& c, std::uint64_t id, Index index) {
  for (const Entry& e : c.stored_log(id)) {
    if (e.index == index) {
      return e;
    }
  }
  return std::nullopt;
}

// A learner (thesis §4.2.1) receives the log but neither counts towards commitment nor votes.
// Once node 1 can reach only the learner, nothing commits, and the learner never campaigns.
TEST(Membership, LearnerReceivesTheLogButNeverCountsOrVotes) {
  Cluster c;
  c.add_node(4);
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "a").ok());
  auto p = c.propose_conf_change(1, conf_change({add_learner(4)}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  c.stabilize();
  EXPECT_EQ(c.node(1).status().config, members({1, 2, 3}, {4}));
  EXPECT_EQ(c.node(4).status().config, members({1, 2, 3}, {4}));
  EXPECT_EQ(c.applied(4), std::vector<std::string>{"a"});

  // Only the learner hears the leader: leader + learner are two of four nodes, but one of
  // three voters. b reaches the learner and does not commit.
  c.cut(1, 2);
  c.cut(1, 3);
  const Index commit = c.node(1).commit_index();
  auto b = c.propose(1, "b");
  ASSERT_TRUE(b.ok());
  c.stabilize();
  EXPECT_EQ(c.node(4).last_index(), b->id.index);
  EXPECT_EQ(c.node(1).commit_index(), commit);
  EXPECT_EQ(c.applied(4), std::vector<std::string>{"a"});

  // The learner cannot campaign. A candidate does not ask it for a vote, and a grant from it
  // (forged here) does not count: node 2 stays a pre-candidate.
  EXPECT_EQ(c.campaign(4).code(), ErrorCode::kFailedPrecondition);
  c.heal();
  c.partition({{1, 3}, {2, 4}});
  ASSERT_TRUE(c.campaign(2).ok());
  c.process_readies();
  EXPECT_EQ(c.count_in_flight(msg_is(MessageType::kPreVote, 2, 4)), 0u);
  Message grant;
  grant.type = MessageType::kPreVoteResponse;
  grant.from = NodeId{4};
  grant.to = NodeId{2};
  grant.term = c.node(2).term().next();
  c.inject(grant);
  ASSERT_EQ(c.deliver_to(2), 1u);
  EXPECT_EQ(c.node(2).role(), Role::kPreCandidate);
  c.run_ticks(100);
  EXPECT_EQ(c.node(4).counters().elections_started, 0u);
  EXPECT_NE(c.node(4).role(), Role::kLeader);
  EXPECT_EQ(c.node(2).counters().leader_elected, 0u);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);
}

// Promoting a learner makes it count: with node 3 cut off, commitment in voters {1,2,3,4}
// needs node 4 (three of four).
TEST(Membership, PromotedLearnerCountsTowardsCommit) {
  Cluster c;
  c.add_node(4);
  c.elect(1);
  ASSERT_TRUE(c.propose_conf_change(1, conf_change({add_learner(4)})).ok());
  c.stabilize();
  auto p = c.propose_conf_change(1, conf_change({add_voter(4)}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  c.stabilize();
  ASSERT_EQ(c.node(1).status().config, members({1, 2, 3, 4}));

  c.cut(1, 3);
  c.cut(1, 4);
  auto x = c.propose(1, "x");  // 1 and 2: two of four voters
  ASSERT_TRUE(x.ok());
  c.stabilize();
  EXPECT_LT(c.node(1).commit_index(), x->id.index);
  c.heal();
  c.cut(1, 3);
  c.stabilize();
  c.run_ticks(1);  // node 4 answers: 1, 2 and 4
  EXPECT_EQ(c.node(1).commit_index(), x->id.index);
  EXPECT_EQ(c.applied(4), std::vector<std::string>{"x"});
}

// Removing a follower: the configuration takes effect on the leader as soon as it is appended,
// so the leader stops replicating to node 3 at once, and commits with node 2 alone.
TEST(Membership, RemovedFollowerGetsNothingMore) {
  Cluster c;
  c.elect(1);
  int to3 = 0;
  c.set_send_observer([&](const Message& m) { to3 += m.from == NodeId{1} && m.to == NodeId{3}; });
  auto p = c.propose_conf_change(1, conf_change({remove_node(3)}));
  ASSERT_TRUE(p.ok());
  c.stabilize();
  EXPECT_EQ(c.node(1).status().config, members({1, 2}));
  EXPECT_TRUE(c.node(1).status().config_committed);
  EXPECT_FALSE(c.node(1).status().progress.contains(NodeId{3}));

  c.cut(1, 3);  // what node 3 says no longer matters
  ASSERT_TRUE(c.propose(1, "x").ok());
  c.stabilize();
  c.run_ticks(3);
  EXPECT_EQ(c.applied(2), std::vector<std::string>{"x"});
  EXPECT_EQ(c.applied(1), std::vector<std::string>{"x"});
  EXPECT_TRUE(c.applied(3).empty());
  EXPECT_EQ(to3, 0);
}

// A removed node's votes are ignored: once voters are {1,2}, node 2 needs node 1's vote, and a
// grant from the removed node 3 (forged here: node 3 would still answer if asked) does not make
// it leader, in the pre-vote or in the real election.
TEST(Membership, RemovedNodesVotesAreIgnored) {
  Cluster c;
  c.elect(1);
  ASSERT_TRUE(c.propose_conf_change(1, conf_change({remove_node(3)})).ok());
  c.stabilize();
  ASSERT_EQ(c.node(2).status().config, members({1, 2}));
  ASSERT_TRUE(c.node(2).status().config_committed);

  c.partition({{1}, {2, 3}});
  c.run_ticks(12);  // node 2's lease on leader 1 runs out (check-quorum)
  ASSERT_TRUE(c.campaign(2).ok());
  c.process_readies();
  EXPECT_EQ(c.count_in_flight(msg_is(MessageType::kPreVote, 2, 3)), 0u);
  for (MessageType t : {MessageType::kPreVoteResponse, MessageType::kVoteResponse}) {
    Message grant;
    grant.type = t;
    grant.from = NodeId{3};
    grant.to = NodeId{2};
    grant.term = c.node(2).term().next();
    c.inject(grant);
    c.deliver_to(2);
    EXPECT_NE(c.node(2).role(), Role::kLeader) << to_string(t);
    EXPECT_NE(c.node(2).role(), Role::kCandidate) << "a pre-vote quorum of {2,3} was counted";
  }
  EXPECT_EQ(c.node(2).counters().leader_elected, 0u);
}

// Thesis §4.3: changing two voters at once (4 in, 3 out) goes through C(old,new), which needs
// a majority of both. Node 1 can reach only node 4: {1,4} is a majority of the new voters
// {1,2,4} but not of the old {1,2,3}, so the joint entry waits. Once it commits, the leader
// leaves the joint configuration on its own.
TEST(Membership, JointChangeNeedsBothMajoritiesAndLeavesOnItsOwn) {
  Cluster c;
  c.add_node(4);
  c.elect(1);
  ASSERT_TRUE(c.propose_conf_change(1, conf_change({add_learner(4)})).ok());
  c.stabilize();  // node 4 has the log

  c.cut(1, 2);
  c.cut(1, 3);
  auto p = c.propose_conf_change(1, conf_change({add_voter(4), remove_node(3)}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(c.node(1).status().config, joint({1, 2, 4}, {1, 2, 3}, true));
  c.stabilize();
  EXPECT_EQ(c.node(4).last_index(), p->id.index);
  EXPECT_LT(c.node(1).commit_index(), p->id.index);
  EXPECT_FALSE(c.node(1).status().config_committed);

  c.heal();
  c.run_ticks(2);
  const NodeStatus st = c.node(1).status();
  EXPECT_EQ(st.config, members({1, 2, 4}));
  EXPECT_TRUE(st.config_committed);
  EXPECT_GT(st.config_index, p->id.index);  // C(new) is a second entry
  auto leave = entry_at(c, 2, st.config_index);
  ASSERT_TRUE(leave.has_value());
  EXPECT_EQ(leave->type, EntryType::kConfChange);
  EXPECT_FALSE(st.progress.contains(NodeId{3}));
  for (std::uint64_t id : {1, 2, 4}) {
    EXPECT_EQ(c.node(id).status().config, members({1, 2, 4})) << "node " << id;
  }
}

// kJointExplicit: the joint configuration stays after it commits until the application
// proposes an empty change; meanwhile another change is refused.
TEST(Membership, ExplicitJointChangeWaitsForTheApplicationToLeave) {
  Cluster c;
  c.add_node(4);
  c.add_node(5);
  c.elect(1);
  auto p = c.propose_conf_change(
      1, conf_change({add_voter(4), add_voter(5)}, ConfChangeTransition::kJointExplicit));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  c.stabilize();
  c.run_ticks(3);
  NodeStatus st = c.node(1).status();
  EXPECT_EQ(st.config, joint({1, 2, 3, 4, 5}, {1, 2, 3}, false));
  EXPECT_TRUE(st.config_committed);
  EXPECT_EQ(st.config_index, p->id.index);

  auto other = c.propose_conf_change(1, conf_change({remove_node(2)}));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), ErrorCode::kInvalidArgument) << other.status().to_string();

  auto leave = c.propose_conf_change(1, ConfChange{});
  ASSERT_TRUE(leave.ok()) << leave.status().to_string();
  c.stabilize();
  st = c.node(1).status();
  EXPECT_EQ(st.config, members({1, 2, 3, 4, 5}));
  EXPECT_TRUE(st.config_committed);
  EXPECT_EQ(st.config_index, leave->id.index);
  auto again = c.propose_conf_change(1, ConfChange{});  // not in a joint configuration
  EXPECT_EQ(again.status().code(), ErrorCode::kInvalidArgument);
}

// PITFALLS #13 (etcd-io/raft #80), thesis §4.1: one change at a time. The leader's apply is
// paused (its Ready is begun, not finished). A second change before the first commits is
// refused with kFailedPrecondition. Once the first commits (on the followers' answers, still
// unapplied on the leader), a second is checked against the log's configuration, not the
// lagging applied one: removing node 4, which only the first change added, is accepted and
// yields voters {1,2,3}.
TEST(Membership, Pitfall13_OneChangeAtATimeAgainstTheLogsConfiguration) {
  Cluster c;
  c.add_node(4);
  c.elect(1);
  c.stabilize();
  auto first = c.propose_conf_change(1, conf_change({add_learner(4)}));
  ASSERT_TRUE(first.ok());
  auto early = c.propose_conf_change(1, conf_change({remove_node(3)}));
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), ErrorCode::kFailedPrecondition) << early.status().to_string();

  ASSERT_TRUE(c.begin_ready(1).has_value());  // the Appends leave; write and apply wait
  for (std::uint64_t id : {2, 3}) {
    c.deliver_to(id);
    c.process_ready(id);
  }
  c.deliver_matching([](const Message& m) { return m.to == NodeId{1}; });
  ASSERT_GE(c.node(1).commit_index(), first->id.index);
  ASSERT_LT(c.node(1).applied_index(), first->id.index);
  EXPECT_EQ(c.node(1).applied_conf_state(), members({1, 2, 3}));

  auto second = c.propose_conf_change(1, conf_change({remove_node(4)}));
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ(c.node(1).status().config, members({1, 2, 3}));
  c.finish_ready(1);
  c.stabilize();
  for (std::uint64_t id : {1, 2, 3}) {
    EXPECT_EQ(c.node(id).status().config, members({1, 2, 3})) << "node " << id;
    EXPECT_EQ(c.node(id).applied_conf_state(), members({1, 2, 3})) << "node " << id;
  }
}

// PITFALLS #2 (Ongaro, raft-dev 2015). Config {A,B,C,D} = {1,2,3,4}. Leader A (term 1) appends
// +E seen only by E. B wins term 2 with C and D; it may not change the configuration before
// its own no-op commits (kFailedPrecondition). The no-op commits with C and D, then B appends
// -A and commits it with C. A, D and E can talk: A cannot win any later term, because D holds B's
// term-2 no-op, which the rule made sure is there. B's committed configuration survives.
TEST(Membership, Pitfall2_NoChangeBeforeTheNewLeaderCommitsInItsTerm) {
  Cluster c(plain_raft(4));
  c.elect(1);
  c.add_node(5);
  c.partition({{1, 5}, {2, 3, 4}});
  auto plus_e = c.propose_conf_change(1, conf_change({add_voter(5)}));
  ASSERT_TRUE(plus_e.ok()) << plus_e.status().to_string();
  c.stabilize();
  ASSERT_EQ(c.node(5).last_index(), plus_e->id.index);
  ASSERT_LT(c.node(1).commit_index(), plus_e->id.index);

  // B campaigns; only the votes travel, so its no-op is not replicated yet.
  ASSERT_TRUE(c.campaign(2).ok());
  for (int k = 0; k < 10 && c.node(2).role() != Role::kLeader; ++k) {
    c.process_readies();
    c.deliver_matching(is_vote);
  }
  ASSERT_EQ(c.node(2).role(), Role::kLeader) << c.tail();
  ASSERT_EQ(c.node(2).term(), Term{2});
  auto too_early = c.propose_conf_change(2, conf_change({remove_node(1)}));
  ASSERT_FALSE(too_early.ok());
  EXPECT_EQ(too_early.status().code(), ErrorCode::kFailedPrecondition)
      << too_early.status().to_string();

  c.stabilize();  // the no-op commits with C and D
  const Index noop = c.node(2).commit_index();
  ASSERT_EQ(entry_at(c, 4, noop)->term, Term{2});
  c.cut(2, 4);
  auto minus_a = c.propose_conf_change(2, conf_change({remove_node(1)}));
  ASSERT_TRUE(minus_a.ok()) << minus_a.status().to_string();
  c.stabilize();
  ASSERT_EQ(c.node(2).commit_index(), minus_a->id.index);  // B and C of {2,3,4}
  const Entry committed = *entry_at(c, 2, minus_a->id.index);

  // A, D and E against B and C. A restarts (a stale leader of term 1 never learns of term 2
  // without check-quorum) and campaigns.
  c.heal();
  c.partition({{1, 4, 5}, {2, 3}});
  c.crash(1);
  c.restart(1);
  ASSERT_TRUE(c.campaign(1).ok());
  c.stabilize();
  EXPECT_NE(c.node(1).role(), Role::kLeader) << c.tail();
  c.run_ticks(100);
  for (std::uint64_t id : {1, 4, 5}) {
    EXPECT_NE(c.node(id).role(), Role::kLeader) << "node " << id << "\n" << c.tail();
  }
  for (std::uint64_t id : {2, 3}) {
    EXPECT_EQ(entry_at(c, id, minus_a->id.index), committed) << "node " << id;
  }

  // B, C and D alone (A and E removed or never added): the committed -A stands everywhere.
  c.heal();
  c.isolate(1);
  c.isolate(5);
  ASSERT_GE(c.run_until(
                [&] {
                  auto l = c.leader();
                  return l && *l != 1 && *l != 5 && c.node(4).commit_index() > minus_a->id.index;
                },
                200),
            0)
      << c.tail();
  for (std::uint64_t id : {2, 3, 4}) {
    EXPECT_EQ(entry_at(c, id, minus_a->id.index), committed) << "node " << id;
    EXPECT_EQ(c.node(id).status().config, members({2, 3, 4})) << "node " << id;
  }
}

// PITFALLS #12 (thesis §4.2.2): the leader removes itself. The configuration takes effect at
// once; the leader keeps replicating it but no longer counts itself, so with node 3 cut off,
// {2,3} has no majority and nothing commits. Healed, the removal commits, node 1 steps down,
// and node 2 or 3 leads within a few election timeouts.
TEST(Membership, Pitfall12_RemovedLeaderStepsDownAfterItsRemovalCommits) {
  Cluster c;
  c.elect(1);
  c.cut(1, 3);
  auto p = c.propose_conf_change(1, conf_change({remove_node(1)}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(c.node(1).status().config, members({2, 3}));
  EXPECT_FALSE(c.node(1).status().config_committed);
  c.stabilize();
  EXPECT_EQ(c.node(2).last_index(), p->id.index);
  EXPECT_LT(c.node(1).commit_index(), p->id.index);
  EXPECT_EQ(c.node(1).role(), Role::kLeader);  // still replicating C(new)

  c.heal();
  ASSERT_GE(c.run_until([&] { return c.node(1).role() != Role::kLeader; }, 3), 0) << c.tail();
  EXPECT_GE(c.node(1).commit_index(), p->id.index);

  const int timeouts = 3;
  const int ticks = c.run_until(
      [&] {
        auto l = c.leader();
        return l && *l != 1;
      },
      timeouts * 2 * 10);
  ASSERT_GE(ticks, 0) << c.tail();
  const std::uint64_t l = *c.leader();
  c.stabilize();
  EXPECT_EQ(c.node(l).status().config, members({2, 3}));
  EXPECT_TRUE(c.node(l).status().config_committed);
  // Node 1 keeps running outside the configuration: it never campaigns and gets no entries.
  const Index last1 = c.node(1).last_index();
  const std::uint64_t campaigns = c.node(1).counters().elections_started;
  ASSERT_TRUE(c.propose(l, "x").ok());
  c.run_ticks(50);
  EXPECT_EQ(c.node(1).last_index(), last1);
  EXPECT_EQ(c.node(1).counters().elections_started, campaigns);
  EXPECT_EQ(c.node(1).role(), Role::kFollower);
  EXPECT_EQ(c.leader(), std::optional<std::uint64_t>(l));
}

// PITFALLS #12: a joint change demotes the leader to learner (C(old,new), then C(new) on its
// own); node 1 steps down once C(new) commits, a new leader appears within one election
// timeout, and removes it.
TEST(Membership, Pitfall12_LeaderDemotedByAJointChangeThenRemoved) {
  Cluster c;
  c.elect(1);
  auto p =
      c.propose_conf_change(1, conf_change({add_learner(1)}, ConfChangeTransition::kJointAuto));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  ConfState demoting = joint({2, 3}, {1, 2, 3}, true);
  demoting.learners_next = {NodeId{1}};
  EXPECT_EQ(c.node(1).status().config, demoting);
  c.stabilize();
  EXPECT_NE(c.node(1).role(), Role::kLeader);
  EXPECT_EQ(c.node(1).status().config, members({2, 3}, {1}));

  const int ticks = c.run_until(
      [&] {
        auto l = c.leader();
        return l && *l != 1;
      },
      2 * 10);  // one election timeout: at most twice election_tick
  ASSERT_GE(ticks, 0) << c.tail();
  const std::uint64_t l = *c.leader();
  c.stabilize();
  auto removal = c.propose_conf_change(l, conf_change({remove_node(1)}));
  ASSERT_TRUE(removal.ok()) << removal.status().to_string();
  c.stabilize();
  EXPECT_EQ(c.node(l).status().config, members({2, 3}));
  EXPECT_TRUE(c.node(l).status().config_committed);
}

// A removed node that never learned of its removal keeps running and campaigning (thesis
// §4.2.3). Pre-vote (§9.6: its log lacks the removal, so nobody would vote for it) and
// check-quorum (voters that hear from a leader ignore vote requests) each keep it from
// disturbing anyone: the leader and the term stay.
TEST(Membership, RemovedNodeThatKeepsRunningDoesNotDisrupt) {
  for (auto [pre_vote, check_quorum] :
       {std::pair{true, true}, std::pair{false, true}, std::pair{true, false}}) {
    SCOPED_TRACE(testing::Message() << "pre_vote " << pre_vote << " check_quorum " << check_quorum);
    Cluster c({.pre_vote = pre_vote, .check_quorum = check_quorum});
    c.elect(1);
    c.isolate(3);
    auto p = c.propose_conf_change(1, conf_change({remove_node(3)}));
    ASSERT_TRUE(p.ok());
    c.stabilize();
    ASSERT_GE(c.node(1).commit_index(), p->id.index);
    ASSERT_EQ(c.node(3).status().config, members({1, 2, 3}));  // node 3 never heard
    const Term term = c.node(1).term();

    c.heal();
    c.run_ticks(200);
    if (!pre_vote) {
      EXPECT_GT(c.node(3).counters().elections_started, 0u);  // it does campaign
    }
    EXPECT_EQ(c.node(1).role(), Role::kLeader);
    EXPECT_EQ(c.node(1).term(), term);
    EXPECT_EQ(c.node(2).term(), term);
    EXPECT_EQ(c.node(2).counters().leader_elected, 0u);
    ASSERT_TRUE(c.propose(1, "x").ok());
    c.stabilize();
    EXPECT_EQ(c.applied(2), std::vector<std::string>{"x"});
  }
}

// PITFALLS #15: the leader crashes right after C(old,new) commits, before C(new) leaves it.
// A second request racing the first is refused while the first is in flight. The next leader
// finds the joint configuration committed and leaves it: the cluster ends in the first
// request's configuration, which every node, the old leader included, agrees on.
TEST(Membership, Pitfall15_NextLeaderLeavesTheJointConfiguration) {
  Cluster c;
  c.add_node(4);
  c.add_node(5);
  c.elect(1);
  c.stabilize();
  auto p = c.propose_conf_change(1, conf_change({add_voter(4), add_voter(5)}));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  auto racing = c.propose_conf_change(1, conf_change({remove_node(2)}));
  EXPECT_EQ(racing.status().code(), ErrorCode::kFailedPrecondition);

  for (int k = 0; k < 100 && c.node(1).commit_index() < p->id.index; ++k) {
    c.process_readies();
    c.deliver_matching([](const Message&) { return true; });
  }
  ASSERT_GE(c.node(1).commit_index(), p->id.index);
  c.crash(1);  // before C(new) leaves its Ready
  for (std::uint64_t id : {2, 3}) {
    EXPECT_EQ(c.node(id).status().config, joint({1, 2, 3, 4, 5}, {1, 2, 3}, true));
  }

  ASSERT_GE(c.run_until([&] { return c.leader().has_value(); }, 200), 0) << c.tail();
  const std::uint64_t l = *c.leader();
  c.stabilize();
  const NodeStatus st = c.node(l).status();
  EXPECT_EQ(st.config, members({1, 2, 3, 4, 5}));
  EXPECT_TRUE(st.config_committed);

  c.restart(1);
  c.run_ticks(3);
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.node(id).status().config, members({1, 2, 3, 4, 5})) << "node " << id;
  }
  auto next = c.propose_conf_change(l, conf_change({remove_node(2)}));
  EXPECT_TRUE(next.ok()) << next.status().to_string();
}

// Thesis §4.1: a configuration takes effect when its entry is appended. The leader's config
// changes before the entry commits; node 2, which appended it, uses it too. When a new leader
// overwrites the uncommitted entry, node 2 goes back to the previous configuration.
TEST(Membership, ConfigurationTakesEffectWhenAppendedAndRevertsWhenTruncated) {
  Cluster c(plain_raft(5));
  c.elect(1);
  auto p = c.propose_conf_change(1, conf_change({remove_node(5)}));
  ASSERT_TRUE(p.ok());
  NodeStatus st = c.node(1).status();
  EXPECT_EQ(st.config, members({1, 2, 3, 4}));
  EXPECT_EQ(st.config_index, p->id.index);
  EXPECT_FALSE(st.config_committed);

  c.process_ready(1);
  ASSERT_EQ(c.deliver_matching(msg_is(MessageType::kAppend, 1, 2)), 1u);
  c.process_ready(2);
  c.clear_in_flight();
  EXPECT_EQ(c.node(2).status().config, members({1, 2, 3, 4}));
  EXPECT_FALSE(c.node(2).status().config_committed);

  // Node 1 crashes; node 3 wins with 4 and 5 (node 2's longer log does not matter to them).
  c.crash(1);
  c.isolate(2);
  c.elect(3);
  c.heal();
  c.stabilize();
  c.run_ticks(1);
  auto at = entry_at(c, 2, p->id.index);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->term, c.node(3).term()) << "node 2's entry was not overwritten";
  EXPECT_EQ(c.node(2).status().config, members({1, 2, 3, 4, 5}));
  EXPECT_EQ(c.node(3).status().config, members({1, 2, 3, 4, 5}));
}

}  // namespace
}  // namespace skiff::test
