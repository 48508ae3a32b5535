// The example services' HTTP layer (examples/common) end to end, on a one-member skiff-kv
// over loopback, from raw sockets where the shape of the bytes matters (issue 15): idle
// connections that must not hold the API, request heads whose body cannot be read (a
// Content-Length of 99999999999 or -5), pipelined requests, garbage after a good request, a
// head without an end or trickled in byte by byte, bodies curl --data-binary sends
// (form-urlencoded), JSON nested or repeated past the limits, and membership changes of an
// existing member.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "process_cluster.h"

namespace skiff::examples::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A connected loopback TCP socket to `port`, or -1.
int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// What the server sent back to `request` (written at once) within `limit`, and whether it
// closed the connection by then.
struct Exchange {
  std::string reply;
  bool closed = false;
};

Exchange send_raw(int port, const std::string& request, milliseconds limit = seconds(8)) {
  Exchange out;
  const int fd = connect_to(port);
  if (fd < 0) {
    return out;
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      break;  // the server may refuse before it has read everything
    }
    sent += static_cast<std::size_t>(n);
  }
  const auto until = Clock::now() + limit;
  char buf[4096];
  while (Clock::now() < until && out.reply.size() < (1 << 20)) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
    if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left, 1))) <= 0) {
      continue;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      out.closed = true;  // an orderly close, or a reset: either way not held open
      break;
    }
    out.reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

class HttpE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_all();
    ASSERT_EQ(cluster_.wait_leader(), 1) << cluster_.logs();
    const std::string http = cluster_.http(1);
    port_ = std::stoi(http.substr(http.rfind(':') + 1));
  }
  // A request with the headers curl sends for `curl -XPUT URL --data-binary @file`.
  httplib::Result curl_put(const std::string& path, const std::string& body) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(seconds(10));
    return cli.Put(path.c_str(), body, "application/x-www-form-urlencoded");
  }

  // The counter skiff_http_NAME of /metrics; 0 when it cannot be read.
  std::uint64_t metric(const std::string& name) {
    const HttpReply m = cluster_.call(1, "GET", "/metrics");
    const std::string key = "\nskiff_http_" + name + " ";
    const std::size_t at = m.body.find(key);
    return at == std::string::npos ? 0 : std::stoull(m.body.substr(at + key.size()));
  }

  ProcessCluster cluster_{SKIFF_KV_BINARY, 1, {"--request-timeout-ms", "2000"}};
  int port_ = 0;
};

TEST_F(HttpE2e, IdleConnectionsDoNotKeepStatusFromBeingAnswered) {
  // More idle clients than the server keeps connections (256): the oldest idle are closed
  // for the newer ones, and none of them holds a thread a request needs.
  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) {
    const int fd = connect_to(port_);
    ASSERT_GE(fd, 0) << i;
    idle.push_back(fd);
  }
  // Until the server has accepted all of them (each look is one more connection).
  std::uint64_t looks = 0;
  EXPECT_TRUE(wait_until([&] { return metric("connections_accepted_total") >= 300 + ++looks; },
                         seconds(10)));
  const auto start = Clock::now();
  const HttpReply r = cluster_.call(1, "GET", "/status", "", seconds(4));
  EXPECT_EQ(r.status, 200) << "after "
                           << std::chrono::duration_cast<milliseconds>(Clock::now() - start).count()
                           << " ms: " << r.body;
  // Beyond 256 connections, each new one closed the one idle longest, or was answered 503
  // itself while the threads of those closed had not yet ended (a burst).
  const std::uint64_t evicted = metric("connections_evicted_total");
  EXPECT_GT(evicted, 0u);
  EXPECT_GE(evicted + metric("connections_refused_total"), 300u - 256u);
  for (int fd : idle) {
    ::close(fd);
  }
}

TEST_F(HttpE2e, HugeOrNegativeContentLengthIsAnsweredAndClosed) {
  const Exchange huge =
      send_raw(port_, "POST /v1/txn HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{");
  EXPECT_EQ(huge.reply.rfind("HTTP/1.1 413", 0), 0u) << huge.reply;
  EXPECT_NE(huge.reply.find("limit of 2097152 bytes"), std::string::npos) << huge.reply;
  EXPECT_TRUE(huge.closed);
  const Exchange negative =
      send_raw(port_, "POST /v1/txn HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}");
  EXPECT_EQ(negative.reply.rfind("HTTP/1.1 400", 0), 0u) << negative.reply;
  EXPECT_NE(negative.reply.find("Content-Length"), std::string::npos) << negative.reply;
  EXPECT_TRUE(negative.closed);
}

TEST_F(HttpE2e, PipelinedRequestsAreAllAnswered) {
  const std::string get = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
  const Exchange e =
      send_raw(port_, get + get + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(count(e.reply, "HTTP/1.1 200"), 3u) << e.reply;
  EXPECT_TRUE(e.closed);
}

TEST_F(HttpE2e, GarbageAfterAGoodRequestIsAnsweredAndClosed) {
  const Exchange e =
      send_raw(port_, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n\x01\x02 not http at all\r\n\r\n");
  EXPECT_EQ(e.reply.rfind("HTTP/1.1 200", 0), 0u) << e.reply;
  EXPECT_EQ(count(e.reply, "HTTP/1.1 400"), 1u) << e.reply;
  EXPECT_TRUE(e.closed);
  // A head that never ends (no newline) is cut at the head limit, not buffered on.
  const Exchange endless = send_raw(port_, "GET /" + std::string(200 << 10, 'a'));
  EXPECT_TRUE(endless.closed);
  EXPECT_EQ(cluster_.call(1, "GET", "/status").status, 200);
}

TEST_F(HttpE2e, AHeadTrickledByteByByteIsCutAtTheRequestDeadline) {
  // A header byte every 300 ms never trips a per-read timeout; the request's deadline (10 s
  // from its first byte) ends it all the same.
  const int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  ASSERT_GT(::send(fd, "GET /status HTTP/1.1\r\nX-Slow: ", 32, MSG_NOSIGNAL), 0);
  const auto start = Clock::now();
  bool closed = false;
  while (!closed && Clock::now() - start < seconds(20)) {
    std::this_thread::sleep_for(milliseconds(300));
    closed = ::send(fd, "a", 1, MSG_NOSIGNAL) <= 0;
    pollfd p{fd, POLLIN, 0};
    char buf[512];
    closed = closed || (::poll(&p, 1, 0) == 1 && ::recv(fd, buf, sizeof buf, 0) <= 0);
  }
  ::close(fd);
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - start, seconds(15));
}

TEST_F(HttpE2e, CurlDataBinaryWorksUpToTheValueLimitAndA413NamesIt) {
  // curl --data-binary sends Content-Type application/x-www-form-urlencoded: the body is
  // still the value, up to the documented 1 MiB, and never parsed as query parameters.
  const std::string just_under((1 << 20) - 1, 'v');
  const auto ok = curl_put("/v1/kv/big", just_under);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(cluster_.call(1, "GET", "/v1/kv/big").parsed().value("value", ""), just_under);
  const auto over = curl_put("/v1/kv/big", just_under + "vv");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 413) << over->body;
  EXPECT_NE(over->body.find("1048576"), std::string::npos) << over->body;
  const auto fields = curl_put("/v1/kv/form", "lease=12345&client_id=x");
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->status, 200) << fields->body;
  const json stored = cluster_.call(1, "GET", "/v1/kv/form").parsed();
  EXPECT_EQ(stored.value("value", ""), "lease=12345&client_id=x");
  EXPECT_EQ(stored.value("lease", std::uint64_t{0}), 0u);
}

TEST_F(HttpE2e, ExpectContinueGetsContinueOrTheRefusalBeforeTheBody) {
  // curl asks for 100 Continue before a large body: a body within the limit is let in, one
  // over it is refused at once, naming the limit, without the body being sent.
  const std::string head =
      "PUT /v1/kv/e HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Expect: 100-continue\r\nConnection: close\r\n";
  const Exchange ok =
      send_raw(port_, head + "Content-Length: 20000\r\n\r\n" + std::string(20000, 'e'));
  EXPECT_EQ(ok.reply.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", 0), 0u) << ok.reply;
  EXPECT_TRUE(ok.closed);
  const Exchange over = send_raw(port_, head + "Content-Length: 3000000\r\n\r\n");
  EXPECT_EQ(over.reply.rfind("HTTP/1.1 413", 0), 0u) << over.reply;
  EXPECT_NE(over.reply.find("limit of 2097152 bytes"), std::string::npos) << over.reply;
  EXPECT_TRUE(over.closed);
}

TEST_F(HttpE2e, JsonBodiesPastTheNestingOrValueLimitAreRefused) {
  const std::string deep = R"({"key":"k","value":"v","expect_mod_revision":0,"x":)" +
                           std::string(40, '[') + std::string(40, ']') + "}";
  const HttpReply d = cluster_.call(1, "POST", "/v1/txn", deep);
  EXPECT_EQ(d.status, 400) << d.body;
  EXPECT_NE(d.body.find("nests deeper than the limit of 32"), std::string::npos) << d.body;
  std::string many = R"({"key":"k","value":"v","expect_mod_revision":0,"x":[0)";
  for (int i = 0; i < 20000; ++i) {
    many += ",0";
  }
  const HttpReply m = cluster_.call(1, "POST", "/v1/txn", many + "]}");
  EXPECT_EQ(m.status, 400) << m.body;
  EXPECT_NE(m.body.find("more than the limit of 10000 values"), std::string::npos) << m.body;
  // The issue's body: 2 MB of '[' (just under the body limit), answered at once.
  const HttpReply b = cluster_.call(1, "POST", "/v1/txn", "{" + std::string(2'000'000, '['));
  EXPECT_EQ(b.status, 400) << b.body;
  // Within the limits, a txn still works.
  const std::string fine =
      R"({"key":"k","value":"v","expect_mod_revision":0,"x":[[1,2],{"a":[]}]})";
  EXPECT_EQ(cluster_.call(1, "POST", "/v1/txn", fine).status, 200);
}

TEST_F(HttpE2e, AddingAnExistingMemberIsRefusedAndAddressChangesAreValidated) {
  const HttpReply again =
      cluster_.call(1, "POST", "/members", R"({"id":1,"address":"127.0.0.1:1"})");
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(again.parsed()["code"], "AlreadyMember");
  EXPECT_EQ(again.parsed()["id"], 1);
  const HttpReply learner =
      cluster_.call(1, "POST", "/members", R"({"id":1,"address":"127.0.0.1:1","learner":true})");
  EXPECT_EQ(learner.status, 409) << learner.body;
  // The member still works, at its own address.
  EXPECT_EQ(cluster_.call(1, "PUT", "/v1/kv/after", "x").status, 200);
  for (const char* bad :
       {R"({"address":"127.0.0.1"})", R"({"address":"127.0.0.1:0"})",
        R"({"address":"127.0.0.1:65536"})", R"({"address":":80"})", R"({"address":7})", R"({})"}) {
    const HttpReply r = cluster_.call(1, "PUT", "/members/1/address", bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
  }
  const HttpReply unknown =
      cluster_.call(1, "PUT", "/members/9/address", R"({"address":"127.0.0.1:9"})");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(unknown.parsed()["code"], "NotMember");
  // A valid change goes through the log (here: the member's own address, where it stays).
  const HttpReply moved =
      cluster_.call(1, "PUT", "/members/1/address", R"({"address":")" + cluster_.raft(1) + R"("})");
  EXPECT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(cluster_.call(1, "PUT", "/v1/kv/after-move", "x").status, 200);
}

}  // namespace
}  // namespace skiff::examples::testing
