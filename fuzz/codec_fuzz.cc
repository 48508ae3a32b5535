// skiff_codec_fuzz: a libFuzzer target over the codec (issue 6): arbitrary bytes, fed in
// pieces to a FrameDecoder; every frame it accepts is decoded by its kind, and every value
// decoded is encoded and decoded again and must come back equal. Bad input must give errors,
// never crashes, hangs or unbounded memory. Linked into skiff_codec_replay as well, which
// replays fuzz/corpus/codec_fuzz/ in every build (ctest fuzz_corpus_codec).
//
// The same stream is also fed to both ends of the TCP transport's connection protocol
// (transport/asio/session.h, when built): the accepting end as node 1 of cluster 42 knowing
// nodes 2-5, the opening end as node 2 connecting to node 1. Whatever they do with it, they
// must not crash, must stop at their first refusal, must deliver only messages from the
// announced node to node 1, and must hold no more snapshot bytes than their limit.
//
// Input: byte 0 sets the piece size (1 + byte % 64); the rest is the byte stream.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "skiff/codec/codec.h"
#ifdef SKIFF_FUZZ_SESSIONS
#include "session.h"
#endif

namespace {

using namespace skiff::codec;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "skiff_codec_fuzz: %s\n", what);
  std::abort();
}

template <typename T, typename Decode>
void round_trip(const T& value, Decode decode) {
  FrameDecoder again;
  again.feed(encode_frame(value));
  auto frame = again.next();
  if (!frame.ok() || !frame->has_value()) {
    fail("a re-encoded value does not frame");
  }
  auto back = decode((*frame)->body);
  if (!back.ok() || !(*back == value)) {
    fail("a re-encoded value does not decode to itself");
  }
}

#ifdef SKIFF_FUZZ_SESSIONS
void fuzz_sessions(std::string_view stream, std::size_t piece) {
  using namespace skiff::transport_detail;
  constexpr std::uint64_t kMaxSnapshot = 1 << 20;
  InboundSession in({42, skiff::NodeId{1}, 1 << 16, kMaxSnapshot},
                    [](skiff::NodeId id, std::uint64_t) {
                      return id.value >= 2 && id.value <= 5 ? std::string() : std::string("no");
                    });
  OutboundSession out(42, skiff::NodeId{2}, skiff::NodeId{1});
  // With a peer secret, bytes that do not know it never get a peer admitted: the proof
  // covers this session's fresh nonce (transport/asio/peer_secret.h).
  InboundSession guarded({42, skiff::NodeId{1}, 1 << 16, kMaxSnapshot, 0, "fuzz-peer-secret-0123"},
                         [](skiff::NodeId, std::uint64_t) { return std::string(); });
  bool in_closed = false;
  bool out_closed = false;
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    InboundSession::Output io;
    in.feed(stream.substr(at, piece), io);
    if (in_closed && (!io.messages.empty() || !io.writes.empty() || io.handshake_done)) {
      fail("an inbound session acted after closing");
    }
    for (const skiff::Message& m : io.messages) {
      if (m.from != in.peer() || m.to != skiff::NodeId{1} || in.peer() == skiff::kNoNode) {
        fail("an inbound session delivered a message not from its peer to node 1");
      }
    }
    if (in.snapshot_bytes() > kMaxSnapshot) {
      fail("an inbound session holds more snapshot bytes than its limit");
    }
    in_closed = in_closed || io.close != CloseReason::kNone;
    InboundSession::Output go;
    guarded.feed(stream.substr(at, piece), go);
    if (go.handshake_done || !go.messages.empty() || guarded.authenticated()) {
      fail("a session with a peer secret admitted bytes that do not know it");
    }
    OutboundSession::Output oo;
    out.feed(stream.substr(at, piece), oo);
    if (out_closed && (oo.handshake_done || !oo.snapshots.empty())) {
      fail("an outbound session acted after closing");
    }
    if (!out.established() && !oo.snapshots.empty()) {
      fail("an outbound session reported a snapshot before its handshake");
    }
    out_closed = out_closed || oo.close != CloseReason::kNone;
  }
}
#endif

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::size_t piece = 1 + data[0] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  FrameDecoder decoder(1 << 16);
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    decoder.feed(stream.substr(at, piece));
    for (int frames = 0; frames < 10000; ++frames) {
      auto f = decoder.next();
      if (!f.ok() || !f->has_value()) {
        break;
      }
      const Frame& frame = **f;
      switch (frame.kind) {
        case FrameKind::kHello:
          if (auto v = decode_hello(frame.body); v.ok()) {
            round_trip(*v, decode_hello);
          }
          break;
        case FrameKind::kHelloReply:
          if (auto v = decode_hello_reply(frame.body); v.ok()) {
            round_trip(*v, decode_hello_reply);
          }
          break;
        case FrameKind::kMessage:
          if (auto v = decode_message(frame.body); v.ok()) {
            round_trip(*v, decode_message);
          }
          break;
        case FrameKind::kSnapshotChunk:
          if (auto v = decode_snapshot_chunk(frame.body); v.ok()) {
            round_trip(*v, decode_snapshot_chunk);
          }
          break;
        case FrameKind::kSnapshotStatus:
          if (auto v = decode_snapshot_status(frame.body); v.ok()) {
            round_trip(*v, decode_snapshot_status);
          }
          break;
        case FrameKind::kAuthChallenge:
          if (auto v = decode_auth_challenge(frame.body); v.ok()) {
            round_trip(*v, decode_auth_challenge);
          }
          break;
        case FrameKind::kAuthProof:
          if (auto v = decode_auth_proof(frame.body); v.ok()) {
            round_trip(*v, decode_auth_proof);
          }
          break;
      }
    }
    if (decoder.buffered() > (1 << 16) + kFrameHeaderSize) {
      fail("the decoder holds more than one frame's worth of bytes");
    }
  }
#ifdef SKIFF_FUZZ_SESSIONS
  fuzz_sessions(stream, piece);
#endif
  return 0;
}
