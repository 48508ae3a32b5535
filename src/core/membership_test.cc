#include "core/membership.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/test_entries.h"
#include "skiff/conf_change.h"

namespace skiff::detail {
namespace {

using test_entries::ent;

ConfState voters(std::initializer_list<std::uint64_t> ids) {
  ConfState cs;
  for (std::uint64_t id : ids) {
    cs.voters.push_back(NodeId{id});
  }
  return cs;
}

// A configuration entry (index, term) whose resulting membership is `result`, as the leader
// writes it (the request part does not matter to Membership).
Entry conf(std::uint64_t index, std::uint64_t term, const ConfState& result) {
  const ConfChangeEntry payload{
      .change = ConfChange{.changes = {ConfChangeSingle{ConfChangeType::kAddVoter, NodeId{9}}}},
      .result = result};
  return Entry{.term = Term{term},
               .index = Index{index},
               .type = EntryType::kConfChange,
               .data = encode_conf_change_entry(payload)};
}

// The configuration text form, for readable comparisons.
std::string at(const Membership& m, std::uint64_t index) {
  return describe(m.at(Index{index}));
}
std::string current(const Membership& m) {
  return describe(m.current());
}

// A three-voter group bootstrapped at index 0.
Membership three() {
  return Membership(Index{0}, voters({1, 2, 3}));
}

TEST(Membership, StartsFromTheBase) {
  const Membership m(Index{5}, voters({1, 2, 3}));
  EXPECT_EQ(current(m), "voters [1 2 3]");
  EXPECT_EQ(m.current_index(), Index{5});
  EXPECT_EQ(at(m, 5), "voters [1 2 3]");
  EXPECT_EQ(at(m, 1000), "voters [1 2 3]");
  EXPECT_EQ(m.describe(), "voters [1 2 3]@5");
  m.check_invariants();
}

TEST(Membership, ConfigurationTakesEffectWhenAppendedNotWhenCommitted) {
  // Thesis §4.1: "a server always uses the latest configuration in its log, regardless of
  // whether the entry is committed".
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {ent(1, 1), conf(2, 1, voters({1, 2, 3, 4})), ent(3, 1)}).ok());
  EXPECT_EQ(current(m), "voters [1 2 3 4]");
  EXPECT_EQ(m.current_index(), Index{2});
  EXPECT_EQ(at(m, 1), "voters [1 2 3]");
  EXPECT_EQ(at(m, 2), "voters [1 2 3 4]");
  EXPECT_EQ(at(m, 3), "voters [1 2 3 4]");
  m.check_invariants();
}

TEST(Membership, NormalEntriesLeaveTheConfigurationAlone) {
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {ent(1, 1), ent(2, 1)}).ok());
  EXPECT_EQ(current(m), "voters [1 2 3]");
  EXPECT_EQ(m.current_index(), Index{0});
  EXPECT_EQ(m.describe(), "voters [1 2 3]@0");
}

TEST(Membership, SeveralConfigurationsAcrossAppends) {
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {ent(1, 1), conf(2, 1, voters({1, 2, 3, 4}))}).ok());
  ASSERT_TRUE(m.on_append(Index{3}, {ent(3, 1), conf(4, 1, voters({1, 2, 4}))}).ok());
  EXPECT_EQ(current(m), "voters [1 2 4]");
  EXPECT_EQ(m.current_index(), Index{4});
  EXPECT_EQ(at(m, 0), "voters [1 2 3]");
  EXPECT_EQ(at(m, 3), "voters [1 2 3 4]");
  EXPECT_EQ(at(m, 4), "voters [1 2 4]");
  EXPECT_EQ(m.describe(), "voters [1 2 3]@0, voters [1 2 3 4]@2, voters [1 2 4]@4");
  m.check_invariants();
}

TEST(Membership, TruncatingAConfigurationRevertsToThePreviousOne) {
  // Thesis §4.1: a configuration entry removed by a new leader takes its configuration with it;
  // the server falls back to the latest one still in its log.
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {conf(1, 1, voters({1, 2, 3, 4})), ent(2, 1),
                                     conf(3, 1, voters({1, 2, 3, 4, 5}))})
                  .ok());
  ASSERT_EQ(m.current_index(), Index{3});
  // A leader of term 2 overwrites from index 3 with a normal entry.
  ASSERT_TRUE(m.on_append(Index{3}, {ent(3, 2)}).ok());
  EXPECT_EQ(current(m), "voters [1 2 3 4]");
  EXPECT_EQ(m.current_index(), Index{1});
  // And from index 1: back to the base.
  ASSERT_TRUE(m.on_append(Index{1}, {ent(1, 3)}).ok());
  EXPECT_EQ(current(m), "voters [1 2 3]");
  EXPECT_EQ(m.current_index(), Index{0});
  m.check_invariants();
}

TEST(Membership, TruncationKeepsConfigurationsBeforeThePoint) {
  Membership m = three();
  ASSERT_TRUE(
      m.on_append(Index{1}, {conf(1, 1, voters({1, 2, 3, 4})), conf(2, 1, voters({1, 2, 4}))})
          .ok());
  // Overwriting from 3 (past both) keeps them; overwriting from 2 drops only the second.
  ASSERT_TRUE(m.on_append(Index{3}, {ent(3, 2)}).ok());
  EXPECT_EQ(m.current_index(), Index{2});
  ASSERT_TRUE(m.on_append(Index{2}, {ent(2, 2)}).ok());
  EXPECT_EQ(current(m), "voters [1 2 3 4]");
  EXPECT_EQ(m.current_index(), Index{1});
}

TEST(Membership, AConfigurationReplacedAtTheSameIndex) {
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {ent(1, 1), conf(2, 1, voters({1, 2, 3, 4}))}).ok());
  ASSERT_TRUE(m.on_append(Index{2}, {conf(2, 2, voters({1, 2, 3, 5}))}).ok());
  EXPECT_EQ(current(m), "voters [1 2 3 5]");
  EXPECT_EQ(m.current_index(), Index{2});
  EXPECT_EQ(m.describe(), "voters [1 2 3]@0, voters [1 2 3 5]@2");
}

TEST(Membership, EntriesBeforeFromAreNotRecorded) {
  // on_append records only entries at or after `from` (the ones actually written).
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{3}, {conf(2, 1, voters({1, 2, 3, 4})), ent(3, 1),
                                     conf(4, 1, voters({1, 2, 3, 5}))})
                  .ok());
  EXPECT_EQ(m.describe(), "voters [1 2 3]@0, voters [1 2 3 5]@4");
  EXPECT_EQ(at(m, 2), "voters [1 2 3]");
}

TEST(Membership, EntriesAtOrBeforeTheBaseAreAlreadyFoldedIn) {
  // Started from a snapshot at 5: a configuration at 4 is already part of the base, and a
  // truncation from 3 cannot remove the (committed) base.
  Membership m(Index{5}, voters({1, 2, 3}));
  ASSERT_TRUE(m.on_append(Index{3}, {conf(4, 1, voters({7, 8, 9})), ent(5, 1),
                                     conf(6, 1, voters({1, 2, 3, 4}))})
                  .ok());
  EXPECT_EQ(m.describe(), "voters [1 2 3]@5, voters [1 2 3 4]@6");
  EXPECT_EQ(at(m, 5), "voters [1 2 3]");
  ASSERT_TRUE(m.on_append(Index{3}, {ent(3, 2)}).ok());
  EXPECT_EQ(current(m), "voters [1 2 3]");
  EXPECT_EQ(m.current_index(), Index{5});
  m.check_invariants();
}

TEST(Membership, UndecodableConfigurationIsCorruption) {
  Membership m = three();
  Entry bad = conf(2, 1, voters({1, 2, 3, 4}));
  bad.data = Bytes::copy_of("garbage");
  Status s = m.on_append(Index{1}, {ent(1, 1), bad});
  EXPECT_EQ(s.code(), ErrorCode::kCorruption);
  EXPECT_NE(s.message().find("entry 2/1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("configuration entry"), std::string::npos) << s.message();
}

TEST(Membership, JointConfigurationsAreRecordedWhole) {
  Membership m = three();
  const ConfState joint{.voters = {NodeId{1}, NodeId{2}, NodeId{4}},
                        .voters_outgoing = {NodeId{1}, NodeId{2}, NodeId{3}},
                        .learners_next = {NodeId{3}},
                        .auto_leave = true};
  ASSERT_TRUE(m.on_append(Index{1}, {conf(1, 1, joint)}).ok());
  EXPECT_EQ(m.current(), joint);
  EXPECT_TRUE(m.current().joint());
}

TEST(Membership, CompactToFoldsOlderConfigurationsIntoTheBase) {
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {ent(1, 1), conf(2, 1, voters({1, 2, 3, 4})), ent(3, 1),
                                     conf(4, 1, voters({1, 2, 4})), ent(5, 1),
                                     conf(6, 1, voters({1, 2, 4, 5}))})
                  .ok());
  m.compact_to(Index{5});
  // The last configuration at or before 5 (the one at 4) is the new base.
  EXPECT_EQ(m.describe(), "voters [1 2 4]@4, voters [1 2 4 5]@6");
  EXPECT_EQ(current(m), "voters [1 2 4 5]");
  EXPECT_EQ(at(m, 5), "voters [1 2 4]");
  // A truncation can no longer reach below it.
  ASSERT_TRUE(m.on_append(Index{5}, {ent(5, 2)}).ok());
  EXPECT_EQ(current(m), "voters [1 2 4]");
  EXPECT_EQ(m.current_index(), Index{4});
  m.check_invariants();
}

TEST(Membership, CompactToExactlyAtAConfiguration) {
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {conf(1, 1, voters({1, 2, 3, 4})), ent(2, 1),
                                     conf(3, 1, voters({1, 2, 4}))})
                  .ok());
  m.compact_to(Index{3});
  EXPECT_EQ(m.describe(), "voters [1 2 4]@3");
  EXPECT_EQ(m.current_index(), Index{3});
}

TEST(Membership, CompactToBeforeAnyConfigurationChangesNothing) {
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {ent(1, 1), conf(2, 1, voters({1, 2, 3, 4}))}).ok());
  m.compact_to(Index{1});
  EXPECT_EQ(m.describe(), "voters [1 2 3]@0, voters [1 2 3 4]@2");
  m.compact_to(Index{0});
  EXPECT_EQ(m.describe(), "voters [1 2 3]@0, voters [1 2 3 4]@2");
}

TEST(MembershipDeathTest, AtBeforeTheBaseAborts) {
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {ent(1, 1), conf(2, 1, voters({1, 2, 3, 4}))}).ok());
  m.compact_to(Index{3});
  EXPECT_DEATH((void)m.at(Index{1}), "is before the base");
}

TEST(Membership, ResetStartsOverFromASnapshot) {
  Membership m = three();
  ASSERT_TRUE(m.on_append(Index{1}, {conf(1, 1, voters({1, 2, 3, 4})), ent(2, 1),
                                     conf(3, 1, voters({1, 2, 4}))})
                  .ok());
  m.reset(Index{10}, voters({4, 5, 6}));
  EXPECT_EQ(m.describe(), "voters [4 5 6]@10");
  EXPECT_EQ(current(m), "voters [4 5 6]");
  EXPECT_EQ(m.current_index(), Index{10});
  EXPECT_EQ(at(m, 10), "voters [4 5 6]");
  // Entries after the snapshot are tracked as usual.
  ASSERT_TRUE(m.on_append(Index{11}, {conf(11, 2, voters({4, 5, 6, 7}))}).ok());
  EXPECT_EQ(m.current_index(), Index{11});
  EXPECT_EQ(at(m, 10), "voters [4 5 6]");
  m.check_invariants();
}

}  // namespace
}  // namespace skiff::detail
