// skiff_codec_fuzz: a libFuzzer target over the codec (issue 6): arbitrary bytes, fed in
// pieces to a FrameDecoder; every frame it accepts is decoded by its kind, and every value
// decoded is encoded and decoded again and must come back equal. Bad input must give errors,
// never crashes, hangs or unbounded memory. Linked into skiff_codec_replay as well, which
// replays fuzz/corpus/codec_fuzz/ in every build (ctest fuzz_corpus_codec).
//
// Input: byte 0 sets the piece size (1 + byte % 64); the rest is the byte stream.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "skiff/codec/codec.h"

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
      }
    }
    if (decoder.buffered() > (1 << 16) + kFrameHeaderSize) {
      fail("the decoder holds more than one frame's worth of bytes");
    }
  }
  return 0;
}
