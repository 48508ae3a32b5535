#include "core/rng.h"

#include <gtest/gtest.h>

#include <vector>

namespace skiff::detail {
namespace {

TEST(Rng, SameSeedAndStreamGiveSameSequence) {
  Rng a(42, 1);
  Rng b(42, 1);
  for (int k = 0; k < 100; ++k) {
    EXPECT_EQ(a.next(), b.next());
  }
}

TEST(Rng, StreamsDiffer) {
  Rng a(42, 1);
  Rng b(42, 2);
  int same = 0;
  for (int k = 0; k < 100; ++k) {
    same += a.next() == b.next() ? 1 : 0;
  }
  EXPECT_EQ(same, 0);
}

TEST(Rng, UniformStaysInRangeAndCoversIt) {
  Rng r(7, 3);
  std::vector<int> seen(10, 0);
  for (int k = 0; k < 10000; ++k) {
    const auto v = r.uniform(10);
    ASSERT_LT(v, 10U);
    ++seen[v];
  }
  for (int count : seen) {
    // Each bucket expects 1000; 800 is > 6 standard deviations away.
    EXPECT_GT(count, 800);
  }
}

TEST(Rng, SequenceIsPinned) {
  // The stream is part of the replay contract: recorded seeds, simulator traces and the fuzz
  // corpus mean what they mean only while these values hold. If this fails, the generator or
  // its seeding changed: every recorded seed now names a different run.
  Rng r(1, 1);
  EXPECT_EQ(r.next(), 0x550e4e55a37114ccULL);
  EXPECT_EQ(r.next(), 0xa645791d18940fddULL);
  EXPECT_EQ(r.next(), 0xebededf9628ebf4cULL);
  Rng u(42, 7);
  std::vector<std::uint64_t> drawn;
  for (int k = 0; k < 5; ++k) {
    drawn.push_back(u.uniform(1000));
  }
  EXPECT_EQ(drawn, (std::vector<std::uint64_t>{384, 915, 829, 595, 200}));
  EXPECT_EQ(Rng(0, 0).uniform(1), 0U);
}

}  // namespace
}  // namespace skiff::detail
