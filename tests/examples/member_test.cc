// An example service's member built from serve flags (examples/common/member.h): founding a
// cluster from --peers, writes through any member, joining with --join, and a data directory
// of another node refused.
#include "member.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "support/temp_dir.h"

namespace skiff::examples {
namespace {

using std::chrono::milliseconds;

// A loopback port nobody listens on right now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

class Counter final : public StateMachine {
 public:
  Bytes apply(Index, std::string_view command) override {
    std::lock_guard lock(mu_);
    value_ += std::atoll(std::string(command).c_str());
    return Bytes(std::to_string(value_));
  }
  Status snapshot(SnapshotWriter& out) override {
    std::lock_guard lock(mu_);
    return out.write(std::to_string(value_));
  }
  Status restore(SnapshotReader& in) override {
    std::string s(in.size(), '\0');
    std::size_t at = 0;
    while (std::size_t n = in.read(s.data() + at, s.size() - at)) {
      at += n;
    }
    std::lock_guard lock(mu_);
    value_ = std::atoll(s.c_str());
    return Status();
  }
  long long value() {
    std::lock_guard lock(mu_);
    return value_;
  }

 private:
  std::mutex mu_;
  long long value_ = 0;
};

ServeFlags flags_for(std::uint64_t id, const std::map<NodeId, std::string>& peers,
                     const std::string& dir) {
  ServeFlags f;
  f.id = NodeId{id};
  f.peers = peers;
  f.http = "127.0.0.1:1";
  f.data_dir = dir + "/n" + std::to_string(id);
  return f;
}

// Calls `pred` until it is true, every 10 ms for at most 10 s; never once more after that
// (predicates here may propose).
bool eventually(const std::function<bool()>& pred) {
  for (int k = 0; k < 1000; ++k) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

TEST(Member, FoundsAClusterAndTakesWritesOnAnyMember) {
  test::TempDir dir("skiff-member");
  std::map<NodeId, std::string> peers;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    peers[NodeId{id}] = "127.0.0.1:" + std::to_string(free_port());
  }
  Counter counters[4];
  std::unique_ptr<Member> members[4];
  for (std::uint64_t id = 1; id <= 3; ++id) {
    auto m = Member::start(flags_for(id, peers, dir.path()), counters[id]);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    members[id] = std::move(*m);
  }
  // A follower or the leader: forwarded writes come back with their result.
  for (std::uint64_t id = 1; id <= 3; ++id) {
    Result<Bytes> r = Status(ErrorCode::kUnavailable, "");
    ASSERT_TRUE(eventually([&] {
      r = members[id]->node().propose(Bytes("5")).get();
      return r.ok();
    })) << r.status().to_string();
  }
  ASSERT_TRUE(eventually([&] {
    return counters[1].value() == 15 && counters[2].value() == 15 && counters[3].value() == 15;
  })) << counters[1].value()
      << " " << counters[2].value() << " " << counters[3].value();

  // A fourth member joins: it starts with no membership and is added through the leader.
  peers[NodeId{4}] = "127.0.0.1:" + std::to_string(free_port());
  ServeFlags f4 = flags_for(4, peers, dir.path());
  f4.join = true;
  auto m4 = Member::start(f4, counters[0]);
  ASSERT_TRUE(m4.ok()) << m4.status().to_string();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(counters[0].value(), 0) << "a joining member must wait to be added";
  NodeId leader = members[1]->node().status()->leader;
  ASSERT_NE(leader, kNoNode);
  Status added = members[leader.value]->node().add_voter(NodeId{4}, peers[NodeId{4}]).get();
  ASSERT_TRUE(added.ok()) << added.to_string();
  EXPECT_TRUE(eventually([&] { return counters[0].value() == 15; }));
  (*m4)->stop();
  for (std::uint64_t id = 1; id <= 3; ++id) {
    members[id]->stop();
  }

  // Node 1's data directory opened as node 2: refused, not reused.
  ServeFlags wrong = flags_for(2, peers, dir.path());
  wrong.data_dir = dir.path() + "/n1";
  Counter unused;
  auto refused = Member::start(wrong, unused);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("storage:"), std::string::npos)
      << refused.status().to_string();
}

// --peer-secret-file: members sharing the file's secret form a cluster; a missing or short
// file is refused at start, naming the flag and the file but not the contents.
TEST(Member, MembersWithAPeerSecretFileFormACluster) {
  test::TempDir dir("skiff-member-secret");
  const std::string secret_file = dir.path() + "/peer-secret";
  {
    std::ofstream out(secret_file);
    out << "a-cluster-secret-of-some-length\n";
  }
  std::map<NodeId, std::string> peers;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    peers[NodeId{id}] = "127.0.0.1:" + std::to_string(free_port());
  }
  Counter counters[4];
  std::unique_ptr<Member> members[4];
  for (std::uint64_t id = 1; id <= 3; ++id) {
    ServeFlags f = flags_for(id, peers, dir.path());
    f.peer_secret_file = secret_file;
    auto m = Member::start(f, counters[id]);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    members[id] = std::move(*m);
  }
  Result<Bytes> r = Status(ErrorCode::kUnavailable, "");
  ASSERT_TRUE(eventually([&] {
    r = members[1]->node().propose(Bytes("7")).get();
    return r.ok();
  })) << r.status().to_string();
  for (std::uint64_t id = 1; id <= 3; ++id) {
    members[id]->stop();
  }

  ServeFlags missing = flags_for(1, peers, dir.path());
  missing.peer_secret_file = dir.path() + "/no-such-file";
  Counter unused;
  auto refused = Member::start(missing, unused);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--peer-secret-file"), std::string::npos)
      << refused.status().to_string();
  {
    std::ofstream out(secret_file);
    out << "short\n";
  }
  ServeFlags short_secret = flags_for(1, peers, dir.path());
  short_secret.peer_secret_file = secret_file;
  refused = Member::start(short_secret, unused);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("at least 16 bytes"), std::string::npos)
      << refused.status().to_string();
  EXPECT_EQ(refused.status().message().find("short"), std::string::npos);
}

TEST(Member, FoundsAClusterOnTheWalAndRefusesToReopenItWithLmdb) {
  test::TempDir dir("skiff-member");
  std::map<NodeId, std::string> peers;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    peers[NodeId{id}] = "127.0.0.1:" + std::to_string(free_port());
  }
  Counter counters[4];
  std::unique_ptr<Member> members[4];
  for (std::uint64_t id = 1; id <= 3; ++id) {
    ServeFlags f = flags_for(id, peers, dir.path());
    f.storage = "wal";
    auto m = Member::start(f, counters[id]);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    members[id] = std::move(*m);
  }
  Result<Bytes> r = Status(ErrorCode::kUnavailable, "");
  ASSERT_TRUE(eventually([&] {
    r = members[1]->node().propose(Bytes("7")).get();
    return r.ok();
  })) << r.status().to_string();
  ASSERT_TRUE(eventually([&] { return counters[2].value() == 7 && counters[3].value() == 7; }));
  for (std::uint64_t id = 1; id <= 3; ++id) {
    members[id]->stop();
    members[id].reset();
  }
  // The same directory with the other adapter would be an empty log: refused, naming both.
  Counter unused;
  auto refused = Member::start(flags_for(1, peers, dir.path()), unused);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("holds a log written with --storage wal, not lmdb"),
            std::string::npos)
      << refused.status().to_string();
}

}  // namespace
}  // namespace skiff::examples
