#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// Raft §5.2: a follower that hears nothing for an election timeout becomes a candidate.
TEST(Paper_5_2, FollowerTimesOutAndCampaigns) {
  Cluster c({.size = 3, .pre_vote = false});
  for (int k = 0; k < 20 && c.node(1).role() == Role::kFollower; ++k) {
    c.tick(1);
  }
  EXPECT_EQ(c.node(1).role(), Role::kCandidate);
  EXPECT_EQ(c.node(1).term(), Term{1});
}

}  // namespace
}  // namespace skiff::test
