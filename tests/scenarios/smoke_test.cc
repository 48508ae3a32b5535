#include <gtest/gtest.h>

#include "support/cluster.h"

namespace skiff::test {
namespace {

TEST(Smoke, ThreeNodesElectAndCommit) {
  Cluster c;
  c.elect(1);
  ASSERT_TRUE(c.propose(1, "x").ok());
  c.stabilize();
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), std::vector<std::string>{"x"}) << "node " << id << "\n" << c.tail();
  }
}

TEST(Smoke, ElectionByTicks) {
  Cluster c({.size = 5});
  c.run_ticks(40);
  auto l = c.leader();
  ASSERT_TRUE(l.has_value()) << c.tail();
  ASSERT_TRUE(c.propose(*l, "y").ok());
  c.stabilize();
  for (std::uint64_t id : c.ids()) {
    EXPECT_EQ(c.applied(id), std::vector<std::string>{"y"}) << "node " << id;
  }
}

}  // namespace
}  // namespace skiff::test
