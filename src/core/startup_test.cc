#include "core/startup.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "skiff/conf_change.h"
#include "skiff/memory_storage.h"

namespace skiff::detail {
namespace {

ConfState voters(std::vector<std::uint64_t> ids) {
  ConfState cs;
  for (std::uint64_t id : ids) {
    cs.voters.push_back(NodeId{id});
  }
  return cs;
}

Config config_for(std::uint64_t id, std::uint64_t applied = 0) {
  Config c;
  c.id = NodeId{id};
  c.applied = Index{applied};
  return c;
}

Entry entry(std::uint64_t index, std::uint64_t term) {
  return Entry{.term = Term{term}, .index = Index{index}};
}

Entry conf_entry(std::uint64_t index, std::uint64_t term, const ConfState& result) {
  return Entry{.term = Term{term},
               .index = Index{index},
               .type = EntryType::kConfChange,
               .data = encode_conf_change_entry(ConfChangeEntry{.result = result})};
}

// A storage whose answers the test sets directly, to build states MemoryStorage refuses to.
class FakeStorage final : public LogStorage {
 public:
  Result<InitialState> initial_state() const override { return init; }
  Result<std::vector<Entry>> entries(Index, Index, std::uint64_t) const override {
    return std::vector<Entry>{};
  }
  Result<Term> term(Index) const override { return last_term; }
  Index first_index() const override { return first; }
  Index last_index() const override { return last; }
  Result<Snapshot> snapshot() const override { return snap; }

  InitialState init{HardState{Term{2}, kNoNode, Index{0}}, voters({1, 2, 3})};
  Index first{1};
  Index last{0};
  Term last_term{0};
  Snapshot snap;
};

TEST(Startup, FreshStorageStartsAtTheBootstrapMembership) {
  MemoryStorage storage(voters({1, 2, 3}));
  auto start = load_start_state(config_for(1), storage);
  ASSERT_TRUE(start.ok()) << start.status().to_string();
  EXPECT_EQ(start->commit, Index{0});
  EXPECT_EQ(start->membership.current(), voters({1, 2, 3}));
  EXPECT_EQ(start->membership.current_index(), Index{0});
}

// Thesis §4.1: a configuration stored in the log is in effect from the start, committed or
// not, so a restart uses the latest one.
TEST(Startup, ReplaysConfigurationEntriesAfterTheSnapshot) {
  MemoryStorage storage(voters({1, 2, 3}));
  ASSERT_TRUE(storage
                  .append({entry(1, 1), conf_entry(2, 1, voters({1, 2, 3, 4})), entry(3, 1),
                           conf_entry(4, 1, voters({1, 2, 4}))})
                  .ok());
  storage.set_hard_state(HardState{Term{1}, NodeId{1}, Index{3}});
  auto start = load_start_state(config_for(1), storage);
  ASSERT_TRUE(start.ok()) << start.status().to_string();
  EXPECT_EQ(start->membership.current(), voters({1, 2, 4}));
  EXPECT_EQ(start->membership.current_index(), Index{4});
  EXPECT_EQ(start->membership.at(Index{3}), voters({1, 2, 3, 4}));
}

TEST(Startup, TheSnapshotsMembershipIsTheBaseAndRaisesTheCommitIndex) {
  MemoryStorage storage(voters({1, 2, 3}));
  ASSERT_TRUE(storage.append({entry(1, 1), conf_entry(2, 1, voters({1, 2})), entry(3, 1)}).ok());
  ASSERT_TRUE(storage.create_snapshot(Index{3}, voters({1, 2}), Bytes("state")).ok());
  ASSERT_TRUE(storage.compact(Index{3}).ok());
  storage.set_hard_state(HardState{Term{1}, NodeId{1}, Index{1}});  // commit persisted lazily
  auto start = load_start_state(config_for(1, 3), storage);
  ASSERT_TRUE(start.ok()) << start.status().to_string();
  EXPECT_EQ(start->commit, Index{3});
  EXPECT_EQ(start->membership.current(), voters({1, 2}));
  EXPECT_EQ(start->membership.current_index(), Index{3});
}

TEST(Startup, AppliedBelowTheSnapshotIsRefusedWithAHint) {
  MemoryStorage storage(voters({1, 2, 3}));
  ASSERT_TRUE(storage.append({entry(1, 1), entry(2, 1)}).ok());
  ASSERT_TRUE(storage.create_snapshot(Index{2}, voters({1, 2, 3}), Bytes("state")).ok());
  storage.set_hard_state(HardState{Term{1}, NodeId{1}, Index{2}});
  auto start = load_start_state(config_for(1, 1), storage);
  EXPECT_EQ(start.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(start.status().message().find("restore the state machine from the snapshot"),
            std::string::npos)
      << start.status().message();
}

// No message can raise a term past kMaxTerm (types.h): a stored one means corruption, and a
// node started there could never campaign.
TEST(Startup, StoredTermAboveTheCeilingIsCorruption) {
  MemoryStorage storage(voters({1, 2, 3}));
  storage.set_hard_state(HardState{kMaxTerm.next(), kNoNode, Index{0}});
  auto start = load_start_state(config_for(1), storage);
  EXPECT_EQ(start.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(start.status().message().find("above the ceiling"), std::string::npos)
      << start.status().message();
  storage.set_hard_state(HardState{kMaxTerm, kNoNode, Index{0}});
  EXPECT_TRUE(load_start_state(config_for(1), storage).ok());
}

TEST(Startup, UndecodableConfigurationEntryIsCorruption) {
  MemoryStorage storage(voters({1, 2, 3}));
  Entry bad = entry(1, 1);
  bad.type = EntryType::kConfChange;
  bad.data = Bytes("not a configuration");
  ASSERT_TRUE(storage.append({bad}).ok());
  storage.set_hard_state(HardState{Term{1}, kNoNode, Index{0}});
  EXPECT_EQ(load_start_state(config_for(1), storage).status().code(), ErrorCode::kCorruption);
}

TEST(Startup, CompactionPastTheSnapshotIsCorruption) {
  FakeStorage storage;
  storage.first = Index{11};  // entries up to 10 are gone...
  storage.last = Index{12};
  storage.last_term = Term{1};
  storage.snap.meta = SnapshotMeta{EntryId{Term{1}, Index{5}}, voters({1, 2, 3})};  // ...but 6-10?
  auto start = load_start_state(config_for(1, 5), storage);
  EXPECT_EQ(start.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(start.status().message().find("only covers up to 5"), std::string::npos)
      << start.status().message();
}

TEST(Startup, SnapshotPastTheLogIsCorruption) {
  FakeStorage storage;
  storage.first = Index{1};
  storage.last = Index{3};
  storage.last_term = Term{1};
  storage.snap.meta = SnapshotMeta{EntryId{Term{1}, Index{7}}, voters({1, 2, 3})};
  EXPECT_EQ(load_start_state(config_for(1, 7), storage).status().code(), ErrorCode::kCorruption);
}

TEST(Startup, StoredMembershipListingANodeTwiceIsCorruption) {
  FakeStorage storage;
  storage.init.conf_state = voters({1, 2, 2});
  EXPECT_EQ(load_start_state(config_for(1), storage).status().code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace skiff::detail
