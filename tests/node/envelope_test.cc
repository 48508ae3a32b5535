// The node's request identities (src/node/envelope.h): command envelopes and read contexts
// carry the proposing process's id, so that nothing of an earlier process of the same node
// completes a request of the current one (issue 15).
#include "node/envelope.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace skiff::node_detail {
namespace {

TEST(Envelope, CarriesTheProcessAndTheRequestNumber) {
  const RequestId id{0x1122334455667788ULL, 300};
  Bytes data = wrap(NodeId{7}, id, "set x 1");
  auto e = unwrap(data.view());
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->origin, NodeId{7});
  EXPECT_EQ(e->request, id);
  EXPECT_EQ(e->command, "set x 1");
  // Empty commands are commands too.
  auto empty = unwrap(wrap(NodeId{1}, RequestId{5, 1}, "").view());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->command, "");
}

TEST(Envelope, AVersionOneEntryBelongsToNoProcess) {
  // Written by skiff before processes had an identity: byte 1, varint origin 2, varint 9.
  const std::string v1 = std::string("\x01\x02\x09", 3) + "set a b";
  auto e = unwrap(v1);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->origin, NodeId{2});
  EXPECT_EQ(e->request.process, 0u) << "no live process has id 0";
  EXPECT_EQ(e->request.number, 9u);
  EXPECT_EQ(e->command, "set a b");
}

TEST(Envelope, DamagedHeadersAreCorruption) {
  const std::string good(wrap(NodeId{3}, RequestId{42, 8}, "cmd").view());
  for (std::size_t n = 0; n < good.size() - 3; ++n) {  // every cut inside the header
    EXPECT_EQ(unwrap(good.substr(0, n)).status().code(), ErrorCode::kCorruption) << n;
  }
  std::string zero_process = good;
  for (std::size_t k = 2; k < 10; ++k) {
    zero_process[k] = '\0';
  }
  EXPECT_EQ(unwrap(zero_process).status().code(), ErrorCode::kCorruption);
  EXPECT_EQ(unwrap(std::string("\x02\x01\x01", 3)).status().code(), ErrorCode::kCorruption)
      << "2 is a member record's version, not a command's";
  EXPECT_EQ(unwrap(std::string("\x03\x00", 2)).status().code(), ErrorCode::kCorruption)
      << "origin 0";
}

TEST(ReadContext, RoundTripsAndRefusesOtherShapes) {
  const RequestId id{0xfedcba9876543210ULL, 77};
  Bytes ctx = read_context(id);
  EXPECT_EQ(read_context_request(ctx.view()), id);
  // The 8-byte contexts of earlier versions, other lengths and process 0 are nobody's.
  EXPECT_EQ(read_context_request(std::string(8, '\x01')), std::nullopt);
  EXPECT_EQ(read_context_request(std::string(17, '\x01')), std::nullopt);
  EXPECT_EQ(read_context_request(""), std::nullopt);
  std::string zero(16, '\0');
  zero[8] = 1;
  EXPECT_EQ(read_context_request(zero), std::nullopt);
}

TEST(ProcessId, IsNeverZeroAndDoesNotRepeat) {
  std::set<std::uint64_t> seen;
  for (int k = 0; k < 10000; ++k) {
    const std::uint64_t id = new_process_id();
    EXPECT_NE(id, 0u);
    EXPECT_TRUE(seen.insert(id).second) << "repeated after " << k;
  }
}

}  // namespace
}  // namespace skiff::node_detail
