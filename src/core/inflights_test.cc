#include "core/inflights.h"

#include <gtest/gtest.h>

namespace skiff::detail {
namespace {

// Each test gives a message last index i a size of 10 * i bytes, so bytes() tells exactly
// which messages are still in the window.
constexpr std::uint64_t bytes_of(std::uint64_t i) {
  return 10 * i;
}

void add(Inflights& in, std::uint64_t last) {
  in.add(Index{last}, bytes_of(last));
}

TEST(Inflights, StartsEmpty) {
  Inflights in(3, 0);
  EXPECT_EQ(in.count(), 0U);
  EXPECT_EQ(in.bytes(), 0U);
  EXPECT_FALSE(in.full());
  in.check_invariants();
}

TEST(Inflights, FullByCount) {
  Inflights in(3, 0);
  add(in, 1);
  add(in, 2);
  EXPECT_FALSE(in.full());
  add(in, 3);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.count(), 3U);
  EXPECT_EQ(in.bytes(), 10U + 20U + 30U);
  in.check_invariants();
}

TEST(Inflights, FullByBytesOnceTheLimitIsReached) {
  Inflights in(100, 50);
  in.add(Index{1}, 30);
  EXPECT_FALSE(in.full());
  in.add(Index{2}, 19);
  EXPECT_FALSE(in.full());  // 49 < 50
  in.add(Index{3}, 1);
  EXPECT_TRUE(in.full());  // 50 >= 50
  EXPECT_EQ(in.count(), 3U);
  in.free_first_one();
  EXPECT_FALSE(in.full());
  EXPECT_EQ(in.bytes(), 20U);
}

TEST(Inflights, OneMessageLargerThanTheByteLimitFillsTheWindow) {
  Inflights in(100, 50);
  in.add(Index{1}, 500);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.count(), 1U);
}

TEST(Inflights, ZeroByteLimitMeansNoByteLimit) {
  Inflights in(2, 0);
  in.add(Index{1}, std::uint64_t{1} << 40);
  EXPECT_FALSE(in.full());
}

TEST(Inflights, FreeLeForgetsAcknowledgedMessagesInOrder) {
  Inflights in(10, 0);
  for (std::uint64_t i : {2, 4, 6, 8}) {
    add(in, i);
  }
  in.free_le(Index{1});  // below everything: nothing
  EXPECT_EQ(in.count(), 4U);
  in.free_le(Index{5});  // frees 2 and 4
  EXPECT_EQ(in.count(), 2U);
  EXPECT_EQ(in.bytes(), bytes_of(6) + bytes_of(8));
  in.free_le(Index{6});  // exactly the oldest
  EXPECT_EQ(in.count(), 1U);
  EXPECT_EQ(in.bytes(), bytes_of(8));
  in.free_le(Index{100});
  EXPECT_EQ(in.count(), 0U);
  EXPECT_EQ(in.bytes(), 0U);
  in.check_invariants();
}

TEST(Inflights, FreeFirstOneForgetsOnlyTheOldest) {
  Inflights in(3, 0);
  add(in, 1);
  add(in, 2);
  add(in, 3);
  in.free_first_one();
  EXPECT_EQ(in.count(), 2U);
  EXPECT_EQ(in.bytes(), bytes_of(2) + bytes_of(3));
  EXPECT_FALSE(in.full());
  in.check_invariants();
}

TEST(Inflights, FreeFirstOneOnEmptyWindowDoesNothing) {
  Inflights in(3, 0);
  in.free_first_one();
  EXPECT_EQ(in.count(), 0U);
  EXPECT_EQ(in.bytes(), 0U);
  add(in, 1);
  EXPECT_EQ(in.count(), 1U);
  in.check_invariants();
}

TEST(Inflights, ResetForgetsEverythingAndAcceptsLowerIndexes) {
  Inflights in(3, 100);
  add(in, 5);
  add(in, 6);
  in.reset();
  EXPECT_EQ(in.count(), 0U);
  EXPECT_EQ(in.bytes(), 0U);
  EXPECT_FALSE(in.full());
  // After a reset (e.g. a return to probing) the window restarts from wherever next is.
  add(in, 1);
  EXPECT_EQ(in.count(), 1U);
  EXPECT_EQ(in.bytes(), bytes_of(1));
  in.check_invariants();
}

TEST(Inflights, RingWrapsAround) {
  Inflights in(4, 0);
  for (std::uint64_t i = 1; i <= 4; ++i) {
    add(in, i);
  }
  in.free_le(Index{2});
  // 5 and 6 go to the ring slots 1 and 2 left free.
  add(in, 5);
  add(in, 6);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.bytes(), bytes_of(3) + bytes_of(4) + bytes_of(5) + bytes_of(6));
  in.check_invariants();
  in.free_le(Index{5});
  EXPECT_EQ(in.count(), 1U);
  EXPECT_EQ(in.bytes(), bytes_of(6));
  in.check_invariants();
  // Keep cycling through the ring several times.
  for (std::uint64_t i = 7; i <= 30; ++i) {
    add(in, i);
    in.free_le(Index{i - 2});
    ASSERT_EQ(in.count(), 2U) << "after adding " << i;
    ASSERT_EQ(in.bytes(), bytes_of(i - 1) + bytes_of(i));
    in.check_invariants();
  }
}

TEST(Inflights, GrowthWhileWrappedKeepsOrder) {
  Inflights in(16, 0);
  for (std::uint64_t i = 1; i <= 4; ++i) {
    add(in, i);  // the ring starts small
  }
  in.free_le(Index{2});
  add(in, 5);
  add(in, 6);  // wrapped: the ring holds [5 6 3 4]
  add(in, 7);  // full ring: it grows and re-linearizes
  EXPECT_EQ(in.count(), 5U);
  in.check_invariants();
  // Oldest first: 3 and 4 go, then 5; 6 and 7 stay.
  in.free_le(Index{5});
  EXPECT_EQ(in.count(), 2U);
  EXPECT_EQ(in.bytes(), bytes_of(6) + bytes_of(7));
  for (std::uint64_t i = 8; i <= 21; ++i) {
    add(in, i);
  }
  EXPECT_EQ(in.count(), 16U);
  EXPECT_TRUE(in.full());
  in.check_invariants();
  in.free_le(Index{20});
  EXPECT_EQ(in.count(), 1U);
  EXPECT_EQ(in.bytes(), bytes_of(21));
}

TEST(InflightsDeathTest, AddingToAFullWindowAborts) {
  Inflights in(1, 0);
  add(in, 1);
  EXPECT_DEATH(add(in, 2), "full inflights window");
}

TEST(InflightsDeathTest, AddingAnIndexOutOfOrderAborts) {
  Inflights in(4, 0);
  add(in, 5);
  EXPECT_DEATH(add(in, 5), "inflight index 5 after 5");
}

}  // namespace
}  // namespace skiff::detail
