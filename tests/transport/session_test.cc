// The TCP transport's connection protocol without sockets (transport/asio/session.h): the
// handshake's refusals, what counts as bad input, and snapshot streaming and assembly.
#include "session.h"

#include <gtest/gtest.h>

#include "log_limiter.h"

#include <string>
#include <vector>

namespace skiff::transport_detail {
namespace {

using codec::encode_frame;

constexpr std::uint64_t kCluster = 42;

InboundSession inbound(std::uint64_t max_snapshot = 1 << 20) {
  return InboundSession({kCluster, NodeId{1}, 1 << 16, max_snapshot}, [](NodeId id, std::uint64_t) {
    return id == NodeId{2} || id == NodeId{3} ? std::string() : std::string("not a known peer");
  });
}

Message message(MessageType type, std::uint64_t from, std::uint64_t to) {
  Message m;
  m.type = type;
  m.from = NodeId{from};
  m.to = NodeId{to};
  m.term = Term{5};
  m.index = Index{9};
  return m;
}

Message snapshot_message(std::string data) {
  Message m = message(MessageType::kSnapshot, 2, 1);
  m.snapshot.meta.last = EntryId{Term{4}, Index{100}};
  m.snapshot.meta.conf_state.voters = {NodeId{1}, NodeId{2}};
  m.snapshot.data = Bytes(std::move(data));
  return m;
}

// The frames a SnapshotStreamer makes for `m`, one by one.
std::vector<std::string> stream_frames(const Message& m, std::uint32_t chunk) {
  SnapshotStreamer s(m, chunk);
  std::vector<std::string> out;
  while (auto f = s.next()) {
    out.push_back(std::move(*f));
  }
  return out;
}

// The same, concatenated.
std::string streamed(const Message& m, std::uint32_t chunk) {
  std::string out;
  for (const std::string& f : stream_frames(m, chunk)) {
    out += f;
  }
  return out;
}

InboundSession::Output feed(InboundSession& s, const std::string& bytes) {
  InboundSession::Output out;
  s.feed(bytes, out);
  return out;
}

std::string hello(std::uint64_t cluster, std::uint64_t node) {
  return encode_frame(codec::Hello{cluster, NodeId{node}, codec::kFormatVersion});
}

codec::HelloReply reply_of(const InboundSession::Output& out) {
  codec::FrameDecoder d;
  d.feed(out.writes.at(0));
  auto f = d.next();
  return codec::decode_hello_reply((**f).body).value();
}

TEST(InboundSession, AcceptsAKnownPeerAndDeliversItsMessages) {
  InboundSession s = inbound();
  std::string bytes = hello(kCluster, 2);
  for (int k = 0; k < 3; ++k) {
    bytes += encode_frame(message(MessageType::kAppend, 2, 1));
  }
  // Byte by byte: frames may arrive in any pieces.
  std::vector<Message> got;
  bool handshake = false;
  for (char c : bytes) {
    InboundSession::Output out = feed(s, std::string(1, c));
    ASSERT_EQ(out.close, CloseReason::kNone) << out.reason;
    handshake = handshake || out.handshake_done;
    got.insert(got.end(), out.messages.begin(), out.messages.end());
  }
  EXPECT_TRUE(handshake);
  EXPECT_EQ(s.peer(), NodeId{2});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], message(MessageType::kAppend, 2, 1));
}

TEST(InboundSession, RefusalsNameBothSides) {
  struct Case {
    std::string hello;
    std::string why;
  };
  const Case cases[] = {
      {hello(99, 2), "node 2 of cluster 99 refused by node 1 of cluster 42: another cluster"},
      {hello(kCluster, 7), "node 7 of cluster 42 refused by node 1 of cluster 42: not a known"},
      {hello(kCluster, 1), "this node's own id"},
      {encode_frame(codec::Hello{kCluster, NodeId{2}, 2}), "format version 2"},
  };
  for (const Case& c : cases) {
    InboundSession s = inbound();
    InboundSession::Output out =
        feed(s, c.hello + encode_frame(message(MessageType::kAppend, 2, 1)));
    EXPECT_EQ(out.close, CloseReason::kRefused) << c.why;
    EXPECT_NE(out.reason.find(c.why), std::string::npos) << out.reason;
    EXPECT_TRUE(out.messages.empty()) << "nothing is delivered after a refusal";
    ASSERT_EQ(out.writes.size(), 1u);
    const codec::HelloReply reply = reply_of(out);
    EXPECT_FALSE(reply.accepted);
    EXPECT_EQ(reply.reason, out.reason);
    EXPECT_EQ(s.peer(), kNoNode);
  }
}

TEST(InboundSession, TheAdmitCheckSeesTheIncarnationAndItsRefusalIsSent) {
  std::uint64_t seen = 0;
  InboundSession s({kCluster, NodeId{1}, 1 << 16, 1 << 20, /*incarnation=*/77},
                   [&](NodeId, std::uint64_t inc) {
                     seen = inc;
                     return std::string("it came back with another data directory");
                   });
  InboundSession::Output out =
      feed(s, encode_frame(codec::Hello{kCluster, NodeId{2}, codec::kFormatVersion, 1234}));
  EXPECT_EQ(seen, 1234u);
  EXPECT_EQ(out.close, CloseReason::kRefused);
  EXPECT_NE(out.reason.find("another data directory"), std::string::npos) << out.reason;
  EXPECT_EQ(reply_of(out).incarnation, 0u) << "a refusal must not disclose our incarnation";
}

// Issue 15: before the handshake the first frame could be max_frame_bytes (16 MiB) and was
// buffered whole; 64 such connections took a member past 1 GiB. Until the peer is admitted
// only a handshake frame's size is accepted, refused on its header before any body.
TEST(InboundSession, AnOversizedFrameBeforeTheHandshakeIsRefusedOnItsHeader) {
  InboundSession s({kCluster, NodeId{1}, 16 << 20, 1 << 20},
                   [](NodeId, std::uint64_t) { return std::string(); });
  std::string header = "SKF1";
  header.push_back(static_cast<char>(codec::kFormatVersion));
  header.push_back(static_cast<char>(codec::FrameKind::kHello));
  header.append(2, '\0');
  const std::uint32_t length = 16 << 20;
  for (int k = 0; k < 4; ++k) {
    header.push_back(static_cast<char>((length >> (8 * k)) & 0xff));
  }
  header.append(8, '\0');  // checksum: never reached
  InboundSession::Output out = feed(s, header + std::string(1000, 'x'));
  EXPECT_EQ(out.close, CloseReason::kBadInput);
  EXPECT_NE(out.reason.find("over the limit of 4096"), std::string::npos) << out.reason;
  EXPECT_NE(out.reason.find("before the handshake"), std::string::npos) << out.reason;

  // Once admitted, frames up to max_frame_bytes are taken.
  InboundSession t({kCluster, NodeId{1}, 16 << 20, 1 << 20},
                   [](NodeId, std::uint64_t) { return std::string(); });
  Message big = message(MessageType::kAppend, 2, 1);
  big.entries.push_back(
      Entry{Term{5}, Index{10}, EntryType::kNormal, Bytes(std::string(100 << 10, 'e'))});
  InboundSession::Output ok = feed(t, hello(kCluster, 2) + encode_frame(big));
  EXPECT_EQ(ok.close, CloseReason::kNone) << ok.reason;
  EXPECT_EQ(ok.messages.size(), 1u);
}

TEST(OutboundSession, APeerAnsweringWithARefusedIncarnationIsClosed) {
  OutboundSession s(kCluster, NodeId{2}, NodeId{1}, /*incarnation=*/5,
                    [](NodeId, std::uint64_t inc) {
                      return inc == 9 ? std::string() : std::string("another data directory");
                    });
  codec::FrameDecoder d;
  d.feed(s.hello());
  EXPECT_EQ(codec::decode_hello((**d.next()).body).value().incarnation, 5u);
  OutboundSession::Output out;
  s.feed(encode_frame(codec::HelloReply{true, kCluster, NodeId{1}, {}, 8}), out);
  EXPECT_EQ(out.close, CloseReason::kRefused);
  EXPECT_NE(out.reason.find("another data directory"), std::string::npos) << out.reason;
  OutboundSession ok(kCluster, NodeId{2}, NodeId{1}, 5, [](NodeId, std::uint64_t inc) {
    return inc == 9 ? std::string() : std::string("no");
  });
  OutboundSession::Output fine;
  ok.feed(encode_frame(codec::HelloReply{true, kCluster, NodeId{1}, {}, 9}), fine);
  EXPECT_TRUE(fine.handshake_done);
}

TEST(InboundSession, BadInputCloses) {
  const std::string ok = hello(kCluster, 2);
  Message inline_snapshot = snapshot_message("inline");
  codec::SnapshotChunk orphan;
  orphan.from = NodeId{2};
  orphan.to = NodeId{1};
  orphan.snapshot = EntryId{Term{4}, Index{100}};
  orphan.last = true;
  struct Case {
    std::string bytes;
    std::string why;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\n\r\n........", "magic"},
      {encode_frame(message(MessageType::kAppend, 2, 1)), "first frame is not Hello"},
      {ok + ok, "a second Hello"},
      {ok + encode_frame(message(MessageType::kAppend, 3, 1)), "from node 3"},
      {ok + encode_frame(message(MessageType::kAppend, 2, 4)), "to node 4"},
      {ok + encode_frame(codec::HelloReply{true, kCluster, NodeId{2}, {}}), "accepting side"},
      {ok + encode_frame(inline_snapshot), "stream its data in chunks"},
      {ok + encode_frame(orphan), "without its Snapshot message"},
  };
  for (const Case& c : cases) {
    InboundSession s = inbound();
    InboundSession::Output out = feed(s, c.bytes);
    EXPECT_EQ(out.close, CloseReason::kBadInput) << c.why;
    EXPECT_NE(out.reason.find(c.why), std::string::npos) << c.why << ": " << out.reason;
    InboundSession::Output after = feed(s, encode_frame(message(MessageType::kAppend, 2, 1)));
    EXPECT_TRUE(after.messages.empty()) << "a closed session delivers nothing more";
  }
}

TEST(InboundSession, AssemblesAStreamedSnapshotAndAnswers) {
  const std::string data = "0123456789abcdefghij";  // 20 bytes in chunks of 6
  const Message snap = snapshot_message(data);
  InboundSession s = inbound();
  // A heartbeat in the middle of the stream is delivered at once; the snapshot when whole.
  const std::vector<std::string> frames = stream_frames(snap, 6);
  ASSERT_EQ(frames.size(), 5u);  // metadata and chunks of 6, 6, 6, 2
  const std::string bytes = hello(kCluster, 2) + frames[0] + frames[1] + frames[2];
  InboundSession::Output first =
      feed(s, bytes + encode_frame(message(MessageType::kHeartbeat, 2, 1)));
  ASSERT_EQ(first.close, CloseReason::kNone) << first.reason;
  ASSERT_EQ(first.messages.size(), 1u);
  EXPECT_EQ(first.messages[0].type, MessageType::kHeartbeat);
  InboundSession::Output rest = feed(s, frames[3] + frames[4]);
  ASSERT_EQ(rest.close, CloseReason::kNone) << rest.reason;
  ASSERT_EQ(rest.messages.size(), 1u);
  EXPECT_EQ(rest.messages[0], snap);
  ASSERT_EQ(rest.writes.size(), 1u);
  codec::FrameDecoder d;
  d.feed(rest.writes[0]);
  auto f = d.next();
  const codec::SnapshotStatus status = codec::decode_snapshot_status((**f).body).value();
  EXPECT_TRUE(status.ok);
  EXPECT_EQ(status.snapshot, snap.snapshot.meta.last);
  EXPECT_EQ(status.from, NodeId{1});
  EXPECT_EQ(status.to, NodeId{2});
}

TEST(InboundSession, AnEmptySnapshotIsOneChunk) {
  const Message snap = snapshot_message("");
  InboundSession s = inbound();
  InboundSession::Output out = feed(s, hello(kCluster, 2) + streamed(snap, 6));
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_EQ(out.messages[0], snap);
}

TEST(InboundSession, ASnapshotOverTheLimitIsRefusedAndClosed) {
  InboundSession s = inbound(/*max_snapshot=*/10);
  InboundSession::Output out =
      feed(s, hello(kCluster, 2) + streamed(snapshot_message(std::string(25, 's')), 4));
  EXPECT_EQ(out.close, CloseReason::kBadInput);
  EXPECT_NE(out.reason.find("over the limit of 10"), std::string::npos) << out.reason;
  EXPECT_TRUE(out.messages.empty());
  EXPECT_LE(s.snapshot_bytes(), 10u);
  ASSERT_EQ(out.writes.size(), 2u);  // HelloReply, then the refusal
  codec::FrameDecoder d;
  d.feed(out.writes[1]);
  auto f = d.next();
  EXPECT_FALSE(codec::decode_snapshot_status((**f).body).value().ok);
}

TEST(InboundSession, AChunkOutOfPlaceIsBadInput) {
  // The metadata, then a chunk at offset 4 where offset 0 was due (a chunk went missing).
  codec::SnapshotChunk late;
  late.from = NodeId{2};
  late.to = NodeId{1};
  late.term = Term{5};
  late.snapshot = EntryId{Term{4}, Index{100}};
  late.offset = 4;
  late.data = Bytes("ssss");
  InboundSession s = inbound();
  const std::string meta = encode_frame(snapshot_message(""));
  InboundSession::Output out = feed(s, hello(kCluster, 2) + meta + encode_frame(late));
  EXPECT_EQ(out.close, CloseReason::kBadInput);
  EXPECT_NE(out.reason.find("offset 4, expected 0"), std::string::npos) << out.reason;
  // A chunk of another snapshot is refused too.
  InboundSession t = inbound();
  late.offset = 0;
  late.snapshot = EntryId{Term{4}, Index{99}};
  out = feed(t, hello(kCluster, 2) + meta + encode_frame(late));
  EXPECT_EQ(out.close, CloseReason::kBadInput);
  EXPECT_NE(out.reason.find("a chunk of snapshot 99/4 during snapshot 100/4"), std::string::npos)
      << out.reason;
}

TEST(InboundSession, ANewerSnapshotSupersedesAnUnfinishedOne) {
  Message older = snapshot_message(std::string(8, 'o'));
  Message newer = snapshot_message(std::string(8, 'n'));
  newer.snapshot.meta.last = EntryId{Term{4}, Index{200}};
  const std::string old_frames = streamed(older, 4);
  codec::FrameDecoder d;
  d.feed(old_frames);
  auto meta = d.next();
  ASSERT_TRUE(meta.ok() && meta->has_value());
  InboundSession s = inbound();
  const std::string old_meta = old_frames.substr(0, codec::kFrameHeaderSize + (**meta).body.size());
  InboundSession::Output out = feed(s, hello(kCluster, 2) + old_meta + streamed(newer, 4));
  ASSERT_EQ(out.close, CloseReason::kNone) << out.reason;
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_EQ(out.messages[0], newer);
  ASSERT_EQ(out.writes.size(), 3u);  // HelloReply, "superseded" for the older, ok for the newer
}

TEST(OutboundSession, EstablishesThenTakesSnapshotStatuses) {
  OutboundSession s(kCluster, NodeId{2}, NodeId{1});
  EXPECT_EQ(s.hello(), hello(kCluster, 2));
  OutboundSession::Output out;
  const codec::SnapshotStatus status{NodeId{1}, NodeId{2}, EntryId{Term{4}, Index{100}}, true, {}};
  s.feed(encode_frame(codec::HelloReply{true, kCluster, NodeId{1}, {}}) + encode_frame(status),
         out);
  EXPECT_TRUE(out.handshake_done);
  EXPECT_TRUE(s.established());
  ASSERT_EQ(out.snapshots.size(), 1u);
  EXPECT_EQ(out.snapshots[0], status);
}

TEST(OutboundSession, RefusalsAndWrongAnswersClose) {
  struct Case {
    std::string bytes;
    CloseReason close;
    std::string why;
  };
  const codec::SnapshotStatus stray{NodeId{3}, NodeId{2}, EntryId{Term{4}, Index{100}}, true, {}};
  const std::string accepted = encode_frame(codec::HelloReply{true, kCluster, NodeId{1}, {}});
  const Case cases[] = {
      {encode_frame(codec::HelloReply{false, kCluster, NodeId{1}, "another cluster"}),
       CloseReason::kRefused, "refused: another cluster"},
      {encode_frame(codec::HelloReply{true, kCluster, NodeId{3}, {}}), CloseReason::kRefused,
       "answered as node 3 of cluster 42, expected node 1"},
      {encode_frame(stray), CloseReason::kBadInput, "first frame is not HelloReply"},
      {accepted + encode_frame(stray), CloseReason::kBadInput, "another pair of nodes"},
      {accepted + encode_frame(message(MessageType::kAppend, 1, 2)), CloseReason::kBadInput,
       "only the opening side sends"},
      {"\x01\x02garbage-garbage-garbage", CloseReason::kBadInput, "magic"},
  };
  for (const Case& c : cases) {
    OutboundSession s(kCluster, NodeId{2}, NodeId{1});
    OutboundSession::Output out;
    s.feed(c.bytes, out);
    EXPECT_EQ(out.close, c.close) << c.why;
    EXPECT_NE(out.reason.find(c.why), std::string::npos) << c.why << ": " << out.reason;
    EXPECT_TRUE(out.snapshots.empty());
  }
}

// --- the shared-secret handshake --------------------------------------------------------------

// Runs the handshake between an opener (node 2) and an acceptor (node 1) in memory: every
// write of one side is fed to the other until neither has anything more to say.
struct Handshake {
  InboundSession::Output in;    // the acceptor's last output
  OutboundSession::Output out;  // the opener's last output
  bool opener_established = false;
  bool acceptor_established = false;
};
Handshake handshake(const std::string& opener_secret, const std::string& acceptor_secret) {
  InboundSession acceptor({kCluster, NodeId{1}, 1 << 16, 1 << 20, 0, acceptor_secret},
                          [](NodeId, std::uint64_t) { return std::string(); });
  OutboundSession opener(kCluster, NodeId{2}, NodeId{1}, 0, {}, opener_secret);
  Handshake h;
  std::string to_acceptor = opener.hello();
  for (int round = 0; round < 4 && !to_acceptor.empty(); ++round) {
    h.in = {};
    acceptor.feed(to_acceptor, h.in);
    h.acceptor_established = h.acceptor_established || h.in.handshake_done;
    std::string to_opener;
    for (const std::string& w : h.in.writes) {
      to_opener += w;
    }
    h.out = {};
    opener.feed(to_opener, h.out);
    h.opener_established = h.opener_established || h.out.handshake_done;
    to_acceptor.clear();
    for (const std::string& w : h.out.writes) {
      to_acceptor += w;
    }
  }
  return h;
}

TEST(SharedSecret, TheSameSecretEstablishesBothSides) {
  Handshake h = handshake("sixteen-byte-key", "sixteen-byte-key");
  EXPECT_TRUE(h.acceptor_established) << h.in.reason;
  EXPECT_TRUE(h.opener_established) << h.out.reason;
}

TEST(SharedSecret, ADifferentSecretIsRefusedByTheOpenerFirst) {
  Handshake h = handshake("sixteen-byte-key", "another-16b-key!");
  EXPECT_FALSE(h.acceptor_established);
  EXPECT_FALSE(h.opener_established);
  EXPECT_TRUE(h.out.auth_failed);
  EXPECT_NE(h.out.reason.find("failed the shared-secret check"), std::string::npos) << h.out.reason;
}

TEST(SharedSecret, OnlyOneSideWithASecretIsRefused) {
  Handshake opener_only = handshake("sixteen-byte-key", "");
  EXPECT_FALSE(opener_only.opener_established);
  EXPECT_NE(opener_only.out.reason.find("this node has no peer secret"), std::string::npos)
      << opener_only.out.reason;
  Handshake acceptor_only = handshake("", "sixteen-byte-key");
  EXPECT_FALSE(acceptor_only.opener_established);
  EXPECT_FALSE(acceptor_only.acceptor_established);
  EXPECT_NE(acceptor_only.in.reason.find("requires the shared-secret handshake"), std::string::npos)
      << acceptor_only.in.reason;
}

// A proof recorded from one handshake is worthless in another: the acceptor's nonce differs.
TEST(SharedSecret, AProofCannotBeReplayed) {
  const std::string key = "sixteen-byte-key";
  InboundSession first({kCluster, NodeId{1}, 1 << 16, 1 << 20, 0, key},
                       [](NodeId, std::uint64_t) { return std::string(); });
  OutboundSession opener(kCluster, NodeId{2}, NodeId{1}, 0, {}, key);
  const std::string hello_frame = opener.hello();
  InboundSession::Output challenge = feed(first, hello_frame);
  ASSERT_EQ(challenge.writes.size(), 1u);
  OutboundSession::Output proof;
  opener.feed(challenge.writes[0], proof);
  ASSERT_EQ(proof.writes.size(), 1u) << proof.reason;
  // Replayed, Hello and proof, against a second acceptor session.
  InboundSession second({kCluster, NodeId{1}, 1 << 16, 1 << 20, 0, key},
                        [](NodeId, std::uint64_t) { return std::string(); });
  InboundSession::Output replay = feed(second, hello_frame + proof.writes[0]);
  EXPECT_EQ(replay.close, CloseReason::kRefused);
  EXPECT_TRUE(replay.auth_failed);
  EXPECT_FALSE(replay.handshake_done);
  EXPECT_FALSE(second.authenticated());
  // The original one goes through.
  InboundSession::Output ok = feed(first, proof.writes[0]);
  EXPECT_TRUE(ok.handshake_done) << ok.reason;
  EXPECT_TRUE(first.authenticated());
}

// --- certificates -----------------------------------------------------------------------------

TEST(CertificateIds, AHelloMustClaimTheIdItsCertificateNames) {
  auto accepted = [](CertificateIds ids, std::uint64_t claimed) {
    InboundSession s = inbound();
    s.set_certificate_ids(std::move(ids));
    InboundSession::Output out = feed(s, hello(kCluster, claimed));
    return std::pair(out.handshake_done && s.authenticated(), out.reason);
  };
  EXPECT_TRUE(accepted({{NodeId{2}}, true}, 2).first);
  auto [other, why] = accepted({{NodeId{3}}, true}, 2);
  EXPECT_FALSE(other);
  EXPECT_NE(why.find("its TLS certificate is for node 3, not node 2"), std::string::npos) << why;
  auto [none, why_none] = accepted({{}, true}, 2);
  EXPECT_FALSE(none);
  EXPECT_NE(why_none.find("names no node id"), std::string::npos) << why_none;
  // Allowed without an id, but then not authenticated.
  InboundSession lax = inbound();
  lax.set_certificate_ids({{}, false});
  EXPECT_TRUE(feed(lax, hello(kCluster, 2)).handshake_done);
  EXPECT_FALSE(lax.authenticated());
}

TEST(OutboundSession, TheAcceptorsCertificateMustNameThePeerDialled) {
  OutboundSession s(kCluster, NodeId{2}, NodeId{1});
  s.set_certificate_ids({{NodeId{3}}, true});
  OutboundSession::Output out;
  s.feed(encode_frame(codec::HelloReply{true, kCluster, NodeId{1}, {}}), out);
  EXPECT_EQ(out.close, CloseReason::kRefused);
  EXPECT_NE(out.reason.find("certificate is for node 3, not node 1"), std::string::npos)
      << out.reason;
}

// --- log rate limiting ------------------------------------------------------------------------

TEST(LogLimiter, AllowsABurstPerIntervalThenCountsWhatItSuppressed) {
  using std::chrono::milliseconds;
  LogLimiter limiter(milliseconds(1000));
  const LogLimiter::Clock::time_point t0{};
  for (std::uint64_t k = 0; k < LogLimiter::kBurst; ++k) {
    EXPECT_EQ(limiter.admit(t0 + milliseconds(k)), std::optional<std::uint64_t>(0));
  }
  for (int k = 0; k < 100; ++k) {
    EXPECT_FALSE(limiter.admit(t0 + milliseconds(10 + k)).has_value());
  }
  // The next interval's first line carries the count.
  EXPECT_EQ(limiter.admit(t0 + milliseconds(1000)), std::optional<std::uint64_t>(100));
  EXPECT_EQ(limiter.admit(t0 + milliseconds(1001)), std::optional<std::uint64_t>(0));
}

}  // namespace
}  // namespace skiff::transport_detail
