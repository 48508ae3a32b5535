// The example services' HTTP layer without a server (examples/common/http.h): JSON bodies
// checked for depth and size before parsing, and the CLI's client identities.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "http.h"

namespace skiff::examples {
namespace {

httplib::Request with_body(std::string body) {
  httplib::Request req;
  req.body = std::move(body);
  return req;
}

TEST(JsonBodyTest, NestingPastTheLimitIsRefusedBeforeParsing) {
  httplib::Response res;
  const std::string deep =
      R"({"a":)" + std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']') + "}";
  EXPECT_FALSE(json_body(with_body(deep), res));
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("nests deeper than the limit of 32"), std::string::npos) << res.body;
  // At the limit it parses; brackets inside strings (escaped quotes too) do not count.
  httplib::Response ok;
  const std::string at_limit = R"({"a":)" + std::string(kMaxJsonDepth - 1, '[') +
                               std::string(kMaxJsonDepth - 1, ']') + R"(,"s":"[[[\"[[[{{{"})";
  EXPECT_TRUE(json_body(with_body(at_limit), ok)) << ok.body;
  EXPECT_TRUE(check_json_shape(std::string(3, '"') + std::string(1000, '[')).ok());
}

TEST(JsonBodyTest, MoreValuesThanTheLimitAreRefused) {
  std::string many = R"({"a":[0)";
  for (std::size_t i = 0; i < kMaxJsonValues * 2; ++i) {
    many += ",0";
  }
  httplib::Response res;
  EXPECT_FALSE(json_body(with_body(many + "]}"), res));
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("more than the limit of 10000 values"), std::string::npos) << res.body;
  std::string some = R"({"a":[0)";
  for (int i = 0; i < 1000; ++i) {
    some += ",0";
  }
  httplib::Response ok;
  EXPECT_TRUE(json_body(with_body(some + "]}"), ok)) << ok.body;
}

TEST(ClientIdTest, IdsAre128BitsOfFixedWidthHexAndDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string id = random_client_id();
    ASSERT_EQ(id.size(), 32u) << id;
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second) << id;
  }
}

}  // namespace
}  // namespace skiff::examples
