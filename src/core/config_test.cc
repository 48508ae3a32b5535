#include "skiff/config.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <tuple>

#include "skiff/memory_storage.h"
#include "skiff/raw_node.h"

namespace skiff {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Whether `st`'s message contains `what` as a whole word ("id" in "invalid" does not count).
::testing::AssertionResult mentions(const Status& st, const std::string& what) {
  const std::string& msg = st.message();
  for (auto at = msg.find(what); at != std::string::npos; at = msg.find(what, at + 1)) {
    const auto end = at + what.size();
    const bool starts_word = at == 0 || !is_word_char(msg[at - 1]);
    const bool ends_word = end == msg.size() || !is_word_char(msg[end]);
    if (starts_word && ends_word) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "\"" << msg << "\" does not mention " << what;
}

Config valid() {
  Config c;
  c.id = NodeId{1};
  return c;
}

ConfState three_voters() {
  return ConfState{.voters = {NodeId{1}, NodeId{2}, NodeId{3}}};
}

// Every field a test could change, for comparing a config before and after validate().
auto fields(const Config& c) {
  return std::make_tuple(c.id, c.election_tick, c.heartbeat_tick, c.seed, c.pre_vote,
                         c.check_quorum, c.forward_proposals, c.max_size_per_msg,
                         c.max_inflight_msgs, c.max_inflight_bytes, c.max_uncommitted_size,
                         c.max_committed_size_per_ready, c.read_mode, c.max_clock_drift_percent,
                         c.applied, c.logger);
}

TEST(Config, DefaultsWithAnIdAreValid) {
  EXPECT_TRUE(valid().validate().ok()) << valid().validate().to_string();
}

TEST(Config, DefaultsMatchTheDocumentedValues) {
  const Config c;
  EXPECT_EQ(c.id, kNoNode);
  EXPECT_EQ(c.election_tick, 10U);
  EXPECT_EQ(c.heartbeat_tick, 1U);
  EXPECT_TRUE(c.pre_vote);
  EXPECT_TRUE(c.check_quorum);
  EXPECT_FALSE(c.forward_proposals);
  EXPECT_EQ(c.max_inflight_msgs, 256U);
  EXPECT_EQ(c.max_inflight_bytes, 0U);
  EXPECT_EQ(c.applied, Index{0});
}

struct BadField {
  const char* name;  // the field the error must name
  std::function<void(Config&)> spoil;
};

class ConfigRejects : public ::testing::TestWithParam<BadField> {};

TEST_P(ConfigRejects, WithInvalidArgumentNamingTheField) {
  Config c = valid();
  GetParam().spoil(c);
  const auto before = fields(c);
  Status st = c.validate();
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(mentions(st, GetParam().name));
  // validate() reports; it never "fixes" the value (DESIGN.md §5.2).
  EXPECT_EQ(fields(c), before);
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, ConfigRejects,
    ::testing::Values(
        BadField{"id", [](Config& c) { c.id = kNoNode; }},
        BadField{"heartbeat_tick", [](Config& c) { c.heartbeat_tick = 0; }},
        BadField{"election_tick", [](Config& c) { c.election_tick = c.heartbeat_tick; }},
        BadField{"election_tick",
                 [](Config& c) {
                   c.heartbeat_tick = 5;
                   c.election_tick = 4;
                 }},
        BadField{"election_tick", [](Config& c) { c.election_tick = (1U << 30) + 1; }},
        BadField{"max_inflight_msgs", [](Config& c) { c.max_inflight_msgs = 0; }},
        BadField{"max_size_per_msg", [](Config& c) { c.max_size_per_msg = 0; }},
        BadField{"max_committed_size_per_ready",
                 [](Config& c) { c.max_committed_size_per_ready = 0; }},
        BadField{"read_mode", [](Config& c) { c.read_mode = static_cast<ReadMode>(7); }},
        BadField{"check_quorum",
                 [](Config& c) {
                   c.read_mode = ReadMode::kLease;
                   c.check_quorum = false;
                 }},
        BadField{"max_clock_drift_percent",
                 [](Config& c) {
                   c.read_mode = ReadMode::kLease;
                   c.election_tick = 1000;
                   c.max_clock_drift_percent = 1001;
                 }}),
    [](const ::testing::TestParamInfo<BadField>& param_info) {
      return std::string(param_info.param.name) + "_" + std::to_string(param_info.index);
    });

TEST(Config, ElectionTickErrorNamesBothValues) {
  Config c = valid();
  c.heartbeat_tick = 3;
  c.election_tick = 2;
  Status st = c.validate();
  EXPECT_TRUE(mentions(st, "election_tick (2)"));
  EXPECT_TRUE(mentions(st, "heartbeat_tick (3)"));
}

TEST(Config, BoundaryValuesAreAccepted) {
  Config c = valid();
  c.heartbeat_tick = 1;
  c.election_tick = 2;
  c.max_inflight_msgs = 1;
  c.max_size_per_msg = 1;
  c.max_committed_size_per_ready = 1;
  c.max_inflight_bytes = 0;
  c.max_uncommitted_size = 0;
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
  c.election_tick = 1U << 30;
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
}

TEST(Config, ValidateLeavesAValidConfigUnchanged) {
  Config c = valid();
  c.election_tick = 17;
  c.seed = 99;
  c.applied = Index{3};
  const auto before = fields(c);
  ASSERT_TRUE(c.validate().ok());
  EXPECT_EQ(fields(c), before);
}

// --- Leader lease (thesis §6.4.1) ---

TEST(Config, ReadModeDefaultsToReadIndex) {
  const Config c;
  EXPECT_EQ(c.read_mode, ReadMode::kReadIndex);
  EXPECT_EQ(c.max_clock_drift_percent, 10U);
}

TEST(Config, LeaseRequiresCheckQuorum) {
  // Without check-quorum a follower votes for a new leader whenever its own timer fires, so
  // the old leader's lease would not stop anyone from being elected.
  Config c = valid();
  c.read_mode = ReadMode::kLease;
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
  c.check_quorum = false;
  Status st = c.validate();
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(mentions(st, "read_mode"));
  EXPECT_TRUE(mentions(st, "check_quorum"));
  // ReadIndex is safe whatever the timers do.
  c.read_mode = ReadMode::kReadIndex;
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
}

TEST(Config, LeaseTicksEndBeforeAnyFollowerCanVote) {
  // election_tick * 100 / (100 + drift) - 1: the fastest follower's shortest election timeout,
  // measured on the leader's slower clock, minus a tick for rounding.
  Config c = valid();
  EXPECT_EQ(c.lease_ticks(), 8U);  // 10 * 100 / 110 = 9, minus 1
  c.max_clock_drift_percent = 0;
  EXPECT_EQ(c.lease_ticks(), 9U);
  c.election_tick = 20;
  c.max_clock_drift_percent = 25;
  EXPECT_EQ(c.lease_ticks(), 15U);  // 2000 / 125 = 16, minus 1
  c.max_clock_drift_percent = 100;
  EXPECT_EQ(c.lease_ticks(), 9U);  // half the timeout, minus 1
  c.election_tick = 1U << 30;
  c.max_clock_drift_percent = 0;
  EXPECT_EQ(c.lease_ticks(), (1U << 30) - 1);  // no overflow at the largest election_tick
  c.max_clock_drift_percent = 1000;
  EXPECT_EQ(c.lease_ticks(), 97612892U);  // 2^30 * 100 / 1100 = 97612893, minus 1
}

TEST(Config, LeaseOfZeroTicksIsRejected) {
  Config c = valid();
  c.read_mode = ReadMode::kLease;
  c.heartbeat_tick = 1;
  c.election_tick = 2;  // 200 / 110 = 1, minus 1 = 0
  ASSERT_EQ(c.lease_ticks(), 0U);
  Status st = c.validate();
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(mentions(st, "read_mode"));
  EXPECT_TRUE(mentions(st, "election_tick (2)"));
  EXPECT_TRUE(mentions(st, "max_clock_drift_percent (10)"));
  // The same numbers are fine when no lease is used.
  c.read_mode = ReadMode::kReadIndex;
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
  // And a lease of one tick is allowed.
  c.read_mode = ReadMode::kLease;
  c.election_tick = 3;  // 300 / 110 = 2, minus 1
  ASSERT_EQ(c.lease_ticks(), 1U);
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
}

TEST(Config, ClockDriftAbove1000PercentIsRejected) {
  Config c = valid();
  c.read_mode = ReadMode::kLease;
  c.election_tick = 1000;
  c.max_clock_drift_percent = 1000;  // the largest allowed: lease 1000 * 100 / 1100 - 1 = 89
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
  c.max_clock_drift_percent = 1001;
  Status st = c.validate();
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(mentions(st, "max_clock_drift_percent (1001)"));
  EXPECT_TRUE(mentions(st, "kReadIndex"));  // the error says what to use instead
  // Drift only matters to the lease.
  c.read_mode = ReadMode::kReadIndex;
  EXPECT_TRUE(c.validate().ok()) << c.validate().to_string();
}

TEST(RawNodeCreate, BadConfigIsReturnedNotFatal) {
  MemoryStorage storage(three_voters());
  Config c = valid();
  c.heartbeat_tick = 0;
  auto node = RawNode::create(c, storage);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(mentions(node.status(), "heartbeat_tick"));
}

TEST(RawNodeCreate, ValidConfigStartsAFollower) {
  MemoryStorage storage(three_voters());
  auto node = RawNode::create(valid(), storage);
  ASSERT_TRUE(node.ok()) << node.status().to_string();
  EXPECT_EQ(node->id(), NodeId{1});
  EXPECT_EQ(node->role(), Role::kFollower);
  EXPECT_EQ(node->term(), Term{0});
  EXPECT_FALSE(node->has_ready());
}

TEST(RawNodeCreate, StoredCommitPastTheLastEntryIsCorruption) {
  MemoryStorage storage(three_voters());
  ASSERT_TRUE(storage.append({Entry{.term = Term{1}, .index = Index{1}}}).ok());
  storage.set_hard_state(HardState{.term = Term{1}, .vote = kNoNode, .commit = Index{2}});
  auto node = RawNode::create(valid(), storage);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), ErrorCode::kCorruption);
}

TEST(RawNodeCreate, StoredCommitAtTheLastEntryIsFine) {
  MemoryStorage storage(three_voters());
  ASSERT_TRUE(storage.append({Entry{.term = Term{1}, .index = Index{1}}}).ok());
  storage.set_hard_state(HardState{.term = Term{1}, .vote = kNoNode, .commit = Index{1}});
  auto node = RawNode::create(valid(), storage);
  ASSERT_TRUE(node.ok()) << node.status().to_string();
  EXPECT_EQ(node->commit_index(), Index{1});
  EXPECT_EQ(node->term(), Term{1});
}

TEST(RawNodeCreate, AppliedPastTheStoredCommitIsInvalidArgument) {
  MemoryStorage storage(three_voters());
  ASSERT_TRUE(storage
                  .append({Entry{.term = Term{1}, .index = Index{1}},
                           Entry{.term = Term{1}, .index = Index{2}}})
                  .ok());
  storage.set_hard_state(HardState{.term = Term{1}, .vote = kNoNode, .commit = Index{1}});
  Config c = valid();
  c.applied = Index{2};
  auto node = RawNode::create(c, storage);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(mentions(node.status(), "applied"));
  c.applied = Index{1};
  auto ok = RawNode::create(c, storage);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->applied_index(), Index{1});
}

TEST(RawNodeCreate, LastEntryAboveTheStoredTermIsCorruption) {
  // Entries and hard state are written together, and a node only accepts entries from leaders
  // of its own term: an entry of term 3 under a stored term of 2 means lost or mixed writes.
  MemoryStorage storage(three_voters());
  ASSERT_TRUE(storage.append({Entry{.term = Term{3}, .index = Index{1}}}).ok());
  storage.set_hard_state(HardState{.term = Term{2}, .vote = kNoNode, .commit = Index{0}});
  auto node = RawNode::create(valid(), storage);
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), ErrorCode::kCorruption);
  EXPECT_TRUE(mentions(node.status(), "term")) << node.status().to_string();
  storage.set_hard_state(HardState{.term = Term{3}, .vote = kNoNode, .commit = Index{0}});
  EXPECT_TRUE(RawNode::create(valid(), storage).ok());
}

TEST(RawNodeCreate, MembershipWithNodeZeroOrDuplicatesIsCorruption) {
  MemoryStorage zero(ConfState{.voters = {NodeId{1}, kNoNode}});
  EXPECT_EQ(RawNode::create(valid(), zero).status().code(), ErrorCode::kCorruption);
  MemoryStorage twice(ConfState{.voters = {NodeId{1}, NodeId{2}}, .learners = {NodeId{2}}});
  EXPECT_EQ(RawNode::create(valid(), twice).status().code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace skiff
