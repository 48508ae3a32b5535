#include "skiff/memory_storage.h"

#include <gtest/gtest.h>

#include <limits>

#include "core/test_entries.h"

namespace skiff {
namespace {

using namespace test_entries;  // NOLINT(google-build-using-namespace)

TEST(MemoryStorage, FreshLog) {
  // log_storage.h: a fresh log has first_index() == 1, last_index() == 0 and term(0) == 0.
  MemoryStorage s;
  EXPECT_EQ(s.first_index(), Index{1});
  EXPECT_EQ(s.last_index(), Index{0});
  EXPECT_EQ(s.term(Index{0}).value(), Term{0});
  EXPECT_EQ(s.term(Index{1}).status().code(), ErrorCode::kUnavailable);
  auto none = s.entries(Index{1}, Index{1}, kNoLimit);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(s.entries(Index{1}, Index{2}, kNoLimit).status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.entries(Index{0}, Index{1}, kNoLimit).status().code(), ErrorCode::kCompacted);
}

TEST(MemoryStorage, InitialStateReturnsWhatWasSet) {
  const ConfState cs{.voters = {NodeId{1}, NodeId{2}}, .learners = {NodeId{3}}};
  MemoryStorage s(cs);
  const HardState hs{.term = Term{4}, .vote = NodeId{2}, .commit = Index{0}};
  s.set_hard_state(hs);
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, hs);
  EXPECT_EQ(init->conf_state, cs);
  EXPECT_EQ(s.hard_state(), hs);
}

TEST(MemoryStorage, AppendThenRead) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1, 2})).ok());
  EXPECT_EQ(s.first_index(), Index{1});
  EXPECT_EQ(s.last_index(), Index{3});
  EXPECT_EQ(s.term(Index{3}).value(), Term{2});
  EXPECT_EQ(s.term(Index{4}).status().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(s.append(ents(4, {2})).ok());
  EXPECT_EQ(s.last_index(), Index{4});
  auto all = s.entries(Index{1}, Index{5}, kNoLimit);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, ents(1, {1, 1, 2, 2}));
}

TEST(MemoryStorage, AppendNothingIsOk) {
  MemoryStorage s;
  EXPECT_TRUE(s.append({}).ok());
  EXPECT_EQ(s.last_index(), Index{0});
}

TEST(MemoryStorage, AppendWithAGapIsRejected) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1})).ok());
  Status st = s.append(ents(4, {1}));
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.last_index(), Index{2});
  EXPECT_EQ(MemoryStorage().append(ents(2, {1})).code(), ErrorCode::kInvalidArgument);
}

TEST(MemoryStorage, AppendOutOfOrderIsRejected) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1})).ok());
  std::vector<Entry> skipping = {ents(2, {1})[0], ents(4, {1})[0]};
  EXPECT_EQ(s.append(skipping).code(), ErrorCode::kInvalidArgument);
  std::vector<Entry> backwards = {ents(3, {1})[0], ents(2, {1})[0]};
  EXPECT_EQ(s.append(backwards).code(), ErrorCode::kInvalidArgument);
  std::vector<Entry> repeated = {ents(2, {1})[0], ents(2, {1})[0]};
  EXPECT_EQ(s.append(repeated).code(), ErrorCode::kInvalidArgument);
  // Nothing was written.
  EXPECT_EQ(s.last_index(), Index{1});
}

TEST(MemoryStorage, AppendOverwritesTheSuffixFromTheFirstNewIndex) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1, 1, 1})).ok());
  ASSERT_TRUE(s.append(ents(2, {2, 2})).ok());
  EXPECT_EQ(s.last_index(), Index{3});  // the old 4 is gone
  EXPECT_EQ(s.term(Index{1}).value(), Term{1});
  EXPECT_EQ(s.term(Index{2}).value(), Term{2});
  EXPECT_EQ(s.term(Index{3}).value(), Term{2});
  EXPECT_EQ(s.term(Index{4}).status().code(), ErrorCode::kUnavailable);
}

TEST(MemoryStorage, AppendCanReplaceEverything) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1})).ok());
  ASSERT_TRUE(s.append(ents(1, {3})).ok());
  EXPECT_EQ(s.last_index(), Index{1});
  EXPECT_EQ(s.term(Index{1}).value(), Term{3});
}

TEST(MemoryStorage, EntriesStopAtTheByteLimitButReturnAtLeastOne) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1, 1, 1, 1})).ok());  // 20 bytes each
  EXPECT_EQ(indexes(s.entries(Index{1}, Index{6}, kNoLimit).value()),
            (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(indexes(s.entries(Index{1}, Index{6}, 60).value()),
            (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(indexes(s.entries(Index{1}, Index{6}, 59).value()), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(indexes(s.entries(Index{2}, Index{6}, 1).value()), std::vector<std::uint64_t>{2});
  EXPECT_EQ(indexes(s.entries(Index{2}, Index{6}, 0).value()), std::vector<std::uint64_t>{2});
  EXPECT_EQ(indexes(s.entries(Index{3}, Index{5}, kNoLimit).value()),
            (std::vector<std::uint64_t>{3, 4}));
}

TEST(MemoryStorage, EntriesPastTheEndAreUnavailable) {
  MemoryStorage s;
  ASSERT_TRUE(s.append(ents(1, {1, 1})).ok());
  EXPECT_EQ(s.entries(Index{1}, Index{4}, kNoLimit).status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(s.entries(Index{1}, Index{3}, kNoLimit).ok());
}

}  // namespace
}  // namespace skiff
