// The codec: every value type round-trips through a frame, and anything the network can hand
// the decoder — garbage, truncation, a length over the limit, a bad checksum, unknown types —
// is a clear kCorruption, sticky for the connection, never a crash.
#include "skiff/codec/codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "skiff/conf_change.h"

namespace skiff::codec {
namespace {

Message full_message(MessageType type) {
  Message m;
  m.type = type;
  m.from = NodeId{2};
  m.to = NodeId{3};
  m.term = Term{7};
  m.log_term = Term{6};
  m.index = Index{41};
  m.commit = Index{40};
  m.reject = true;
  m.reject_hint = Index{12};
  m.context = Bytes(std::string("ctx\0binary", 10));
  m.leader_transfer = true;
  Entry normal{Term{7}, Index{42}, EntryType::kNormal, Bytes("payload")};
  Entry noop{Term{7}, Index{43}, EntryType::kNoop, Bytes()};
  ConfState cs;
  cs.voters = {NodeId{1}, NodeId{2}};
  cs.voters_outgoing = {NodeId{1}, NodeId{2}, NodeId{3}};
  cs.learners_next = {NodeId{3}};
  cs.auto_leave = true;
  Entry conf{Term{7}, Index{44}, EntryType::kConfChange,
             encode_conf_change_entry(ConfChangeEntry{{}, cs})};
  m.entries = {normal, noop, conf};
  m.snapshot.meta.last = EntryId{Term{5}, Index{30}};
  m.snapshot.meta.conf_state = cs;
  m.snapshot.data = Bytes(std::string(100000, 's'));
  return m;
}

// Splits a stream into frames through a decoder fed `step` bytes at a time.
std::vector<Frame> split(const std::string& stream, std::size_t step) {
  FrameDecoder d;
  std::vector<Frame> out;
  for (std::size_t at = 0; at < stream.size(); at += step) {
    d.feed(std::string_view(stream).substr(at, step));
    for (;;) {
      auto f = d.next();
      EXPECT_TRUE(f.ok()) << f.status().to_string();
      if (!f.ok() || !f->has_value()) {
        break;
      }
      out.push_back(std::move(**f));
    }
  }
  EXPECT_EQ(d.buffered(), 0u);
  return out;
}

TEST(Codec, EveryMessageTypeRoundTrips) {
  for (int t = 1; t <= 13; ++t) {
    const Message m = full_message(static_cast<MessageType>(t));
    const std::vector<Frame> frames = split(encode_frame(m), 1 << 20);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].kind, FrameKind::kMessage);
    auto back = decode_message(frames[0].body);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, m) << describe(m);
  }
  const Message empty;  // all defaults
  auto back = decode_message(split(encode_frame(empty), 7)[0].body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, empty);
}

TEST(Codec, HandshakeAndSnapshotFramesRoundTrip) {
  const Hello hello{42, NodeId{3}, kFormatVersion};
  const HelloReply reply{false, 42, NodeId{1}, "node 3 is not a member of cluster 42"};
  SnapshotChunk chunk;
  chunk.from = NodeId{1};
  chunk.to = NodeId{3};
  chunk.term = Term{4};
  chunk.snapshot = EntryId{Term{3}, Index{900}};
  chunk.offset = 65536;
  chunk.data = Bytes(std::string(4096, 'c'));
  chunk.last = true;
  const SnapshotStatus status{NodeId{3}, NodeId{1}, EntryId{Term{3}, Index{900}}, false,
                              "over the limit"};
  const std::string stream =
      encode_frame(hello) + encode_frame(reply) + encode_frame(chunk) + encode_frame(status);
  for (std::size_t step : {1, 3, 20, 100000}) {
    const std::vector<Frame> frames = split(stream, step);
    ASSERT_EQ(frames.size(), 4u) << "step " << step;
    EXPECT_EQ(decode_hello(frames[0].body).value(), hello);
    EXPECT_EQ(decode_hello_reply(frames[1].body).value(), reply);
    EXPECT_EQ(decode_snapshot_chunk(frames[2].body).value(), chunk);
    EXPECT_EQ(frames[3].kind, FrameKind::kSnapshotStatus);
    EXPECT_EQ(decode_snapshot_status(frames[3].body).value(), status);
  }
}

// Corrupts byte `at` of a valid frame and expects the decoder to refuse it, then stay refused.
void expect_refused(std::string frame, const std::string& why) {
  FrameDecoder d(1 << 20);
  d.feed(frame);
  auto f = d.next();
  ASSERT_FALSE(f.ok()) << why;
  EXPECT_EQ(f.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(f.status().message().find(why), std::string::npos) << f.status().message();
  d.feed(encode_frame(Hello{1, NodeId{1}}));
  EXPECT_FALSE(d.next().ok()) << "a decoder must stay failed: the stream cannot resynchronise";
}

TEST(FrameDecoder, BadHeadersAreRefused) {
  const std::string good = encode_frame(full_message(MessageType::kAppend));
  std::string f = good;
  f[0] = 'X';
  expect_refused(f, "magic");
  f = good;
  f[4] = 2;
  expect_refused(f, "format version 2");
  f = good;
  f[5] = 9;
  expect_refused(f, "unknown frame kind 9");
  f = good;
  f[6] = 1;
  expect_refused(f, "reserved");
  f = good;
  f[f.size() - 1] ^= 1;
  expect_refused(f, "checksum");
}

TEST(FrameDecoder, ALengthOverTheLimitIsRefusedBeforeTheBodyArrives) {
  std::string header = encode_frame(Hello{1, NodeId{1}}).substr(0, kFrameHeaderSize);
  header[8] = '\xff';
  header[9] = '\xff';
  header[10] = '\xff';
  header[11] = '\x7f';  // about 2 GiB
  FrameDecoder d(1 << 20);
  d.feed(header);
  auto f = d.next();
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("over the limit"), std::string::npos);
  EXPECT_EQ(d.buffered(), 0u) << "nothing is held for a refused frame";
}

TEST(FrameDecoder, ATruncatedFrameWaitsForMoreBytes) {
  const std::string good = encode_frame(full_message(MessageType::kSnapshot));
  FrameDecoder d;
  d.feed(std::string_view(good).substr(0, good.size() - 1));
  auto f = d.next();
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->has_value());
  EXPECT_EQ(d.buffered(), good.size() - 1);
}

// The core's term ceiling (kMaxTerm) and the codec agree: every term the core accepts or
// campaigns for crosses the wire, including the ceiling itself; a term above it still
// decodes (the core, not the codec, refuses it: RawNode::step).
TEST(Codec, TermsUpToTheCoresCeilingRoundTrip) {
  for (Term term : {kMaxTerm, kMaxTerm.next()}) {
    Message m = full_message(MessageType::kVote);
    m.term = term;
    m.log_term = term;
    m.entries[0].term = term;
    FrameDecoder d;
    d.feed(encode_frame(m));
    auto back = decode_message(d.next().value()->body);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, m);
  }
}

TEST(Codec, BadBodiesAreCorruptionNotCrashes) {
  EXPECT_EQ(decode_message("\xff\xff\xff").status().code(), ErrorCode::kCorruption);
  Message m = full_message(MessageType::kAppend);
  m.type = static_cast<MessageType>(99);
  FrameDecoder d;
  d.feed(encode_frame(m));
  const Frame f = std::move(*d.next().value());
  auto r = decode_message(f.body);
  EXPECT_EQ(r.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(r.status().message().find("unknown message type 99"), std::string::npos);

  m = full_message(MessageType::kAppend);
  m.entries[0].type = static_cast<EntryType>(9);
  d = FrameDecoder();
  d.feed(encode_frame(m));
  EXPECT_NE(decode_message(d.next().value()->body).status().message().find("entry type 9"),
            std::string::npos);

  m = full_message(MessageType::kAppend);
  m.term = Term{~std::uint64_t{0}};
  d = FrameDecoder();
  d.feed(encode_frame(m));
  EXPECT_EQ(decode_message(d.next().value()->body).status().code(), ErrorCode::kCorruption);

  EXPECT_EQ(
      decode_hello(encode_frame(Hello{1, NodeId{7}}).substr(kFrameHeaderSize, 2)).status().code(),
      ErrorCode::kCorruption);
}

// Seeded random bytes, whole and as bodies: the decoder and every body decoder return errors or
// values, never crash (the fuzz target does the same, much longer).
TEST(Codec, RandomBytesNeverCrash) {
  std::uint64_t x = 88172645463325252ULL;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const std::string valid = encode_frame(full_message(MessageType::kAppend));
  int errors = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = round % 2 == 0 ? valid : std::string(next() % 200, '\0');
    for (char& c : bytes) {
      if (round % 2 == 1 || next() % 50 == 0) {
        c = static_cast<char>(next());
      }
    }
    FrameDecoder d(1 << 16);
    d.feed(bytes);
    auto f = d.next();
    errors += f.ok() ? 0 : 1;
    const std::string_view body =
        std::string_view(bytes).substr(std::min<std::size_t>(bytes.size(), kFrameHeaderSize));
    (void)decode_message(body);
    (void)decode_hello(body);
    (void)decode_hello_reply(body);
    (void)decode_snapshot_chunk(body);
  }
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace skiff::codec
