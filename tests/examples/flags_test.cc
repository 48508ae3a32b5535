// The example services' flags (examples/common/flags.h): what is accepted, and that every
// mistake is refused with an error naming the flag.
#include "flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace skiff::examples {
namespace {

std::vector<std::string> good() {
  return {"--id",       "2",
          "--peers",    "1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103",
          "--http",     "127.0.0.1:8102",
          "--data-dir", "/tmp/n2"};
}

TEST(ServeFlags, ParsesAndKeepsDefaults) {
  auto f = parse_serve_flags(good());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->id, NodeId{2});
  EXPECT_EQ(f->peers.size(), 3u);
  EXPECT_EQ(f->peers.at(NodeId{3}), "127.0.0.1:7103");
  EXPECT_EQ(f->http, "127.0.0.1:8102");
  EXPECT_EQ(f->data_dir, "/tmp/n2");
  EXPECT_EQ(f->tick, std::chrono::milliseconds(10));
  EXPECT_EQ(f->election_ticks, 10u);
  EXPECT_EQ(f->heartbeat_ticks, 1u);
  EXPECT_FALSE(f->join);
  EXPECT_EQ(f->storage, "lmdb");
  EXPECT_EQ(f->wal_segment_mib, 64u);
  EXPECT_EQ(f->peer_secret_file, "") << "no secret unless asked for";

  std::vector<std::string> more = good();
  for (const char* a : {"--tick-ms", "5", "--election-ticks", "20", "--heartbeat-ticks", "2",
                        "--cluster-id", "9", "--join", "--storage", "wal", "--wal-segment-mib", "4",
                        "--peer-secret-file", "/etc/skiff/peer-secret"}) {
    more.emplace_back(a);
  }
  f = parse_serve_flags(more);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->tick, std::chrono::milliseconds(5));
  EXPECT_EQ(f->election_ticks, 20u);
  EXPECT_EQ(f->heartbeat_ticks, 2u);
  EXPECT_EQ(f->cluster_id, 9u);
  EXPECT_TRUE(f->join);
  EXPECT_EQ(f->storage, "wal");
  EXPECT_EQ(f->wal_segment_mib, 4u);
  EXPECT_EQ(f->peer_secret_file, "/etc/skiff/peer-secret");
}

TEST(ServeFlags, MistakesAreRefusedByName) {
  struct Case {
    std::vector<std::string> extra;  // appended to good()
    std::string why;
  };
  const Case cases[] = {
      {{"--tick-ms", "0"}, "--tick-ms: \"0\" is not a number in 1..10000"},
      {{"--tick-ms", "ten"}, "--tick-ms: \"ten\""},
      {{"--election-ticks", "1"}, "--election-ticks: \"1\""},
      {{"--heartbeat-ticks", "10"}, "must be greater than --heartbeat-ticks (10)"},
      {{"--http", "8101"}, "--http: \"8101\" is not host:port"},
      {{"--http", "127.0.0.1:70000"}, "--http: \"70000\""},
      {{"--peers", "1=127.0.0.1:7101,1=127.0.0.1:7102"}, "node 1 is listed twice"},
      {{"--peers", "1:127.0.0.1:7101"}, "is not ID=host:port"},
      {{"--peers", "1=127.0.0.1:7101"}, "must list this node (--id 2)"},
      {{"--bogus", "1"}, "unknown flag --bogus"},
      {{"--storage", "rocks"}, "--storage: \"rocks\" is not lmdb or wal"},
      {{"--wal-segment-mib", "0"}, "--wal-segment-mib: \"0\" is not a number in 1..1024"},
      {{"--data-dir"}, "--data-dir needs a value"},
      {{"--peer-secret-file", ""}, "--peer-secret-file must not be empty"},
      {{"stray"}, "unexpected argument \"stray\""},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = good();
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    auto f = parse_serve_flags(args);
    ASSERT_FALSE(f.ok()) << c.why;
    EXPECT_EQ(f.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(c.why), std::string::npos)
        << "expected \"" << c.why << "\" in: " << f.status().message();
  }
  for (const char* missing : {"--id", "--peers", "--http", "--data-dir"}) {
    std::vector<std::string> args = good();
    for (std::size_t i = 0; i < args.size(); i += 2) {
      if (args[i] == missing) {
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(i),
                   args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
        break;
      }
    }
    auto f = parse_serve_flags(args);
    ASSERT_FALSE(f.ok()) << missing;
    EXPECT_NE(f.status().message().find(std::string(missing) + " is required"), std::string::npos)
        << f.status().message();
  }
}

TEST(Endpoints, ParseAndRefuse) {
  auto e = parse_endpoints("127.0.0.1:8101,127.0.0.1:8102");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, (std::vector<std::string>{"127.0.0.1:8101", "127.0.0.1:8102"}));
  EXPECT_FALSE(parse_endpoints("").ok());
  EXPECT_FALSE(parse_endpoints("127.0.0.1:8101,").ok());
  EXPECT_FALSE(parse_endpoints("localhost").ok());
}

}  // namespace
}  // namespace skiff::examples
