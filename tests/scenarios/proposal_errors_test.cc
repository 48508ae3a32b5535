// What propose() answers when it cannot take a proposal, as raw_node.h documents it.
#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

// raw_node.h: "kProposalDropped when no leader is known or a limit is reached"; result.h lists
// "no leader known" under kProposalDropped. A node that just started knows no leader.
TEST(ProposalErrors, NoLeaderKnownIsProposalDropped) {
  Cluster c;
  auto p = c.propose(1, "x");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kProposalDropped) << p.status().to_string();
}

// The same with forwarding on: there is nobody to forward to.
TEST(ProposalErrors, NoLeaderToForwardToIsProposalDropped) {
  Cluster c({.tweak = [](Config& cfg) { cfg.forward_proposals = true; }});
  auto p = c.propose(1, "x");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), ErrorCode::kProposalDropped) << p.status().to_string();
}

}  // namespace
}  // namespace skiff::test
