// The codec: skiff's value types to and from bytes on the wire (target skiff::codec).
//
// Frame format, version 1. A connection carries a sequence of frames, each a 20-byte header
// followed by a body:
//
//   offset  size  field
//   0       4     magic "SKF1"
//   4       1     format version (1)
//   5       1     kind: 1 Hello, 2 HelloReply, 3 Message, 4 SnapshotChunk, 5 SnapshotStatus,
//                 6 AuthChallenge, 7 AuthProof (the shared-secret handshake, docs/wire_format.md)
//   6       2     reserved, zero
//   8       4     body length, little-endian (at most the decoder's limit)
//   12      8     xxh3 (64-bit) of the body, little-endian
//
// The body is the protobuf encoding (src/codec/proto/skiff/v1/wire.proto) of the kind's
// message. Decoding is where input from the network is checked: a frame that fails any check
// is an error for the whole connection (the stream cannot be resynchronised), never a crash.
// The core's own rules (validate_message) still apply to decoded messages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/bytes.h"
#include "skiff/message.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff::codec {

/// The frame format version this build writes and reads.
inline constexpr std::uint8_t kFormatVersion = 1;
/// Bytes in a frame header.
inline constexpr std::size_t kFrameHeaderSize = 20;

/// What a frame's body holds.
enum class FrameKind : std::uint8_t {
  kHello = 1,
  kHelloReply = 2,
  kMessage = 3,
  kSnapshotChunk = 4,
  kSnapshotStatus = 5,
  kAuthChallenge = 6,  // acceptor -> opener, only in answer to a Hello that carries a nonce
  kAuthProof = 7,      // opener -> acceptor, the answer to AuthChallenge
};

/// The largest frame body accepted before a peer is admitted: a Hello or an auth frame is a
/// few dozen bytes, so a connection cannot make the acceptor buffer more than this until the
/// handshake is done (then the limit is max_frame_bytes).
inline constexpr std::uint32_t kMaxHandshakeBodyBytes = 4096;

/// A connection's first frame, from the side that opened it.
struct Hello {
  std::uint64_t cluster_id = 0;
  NodeId node_id;
  std::uint32_t format_version = kFormatVersion;
  std::uint64_t incarnation = 0;  // the sender's Storage::incarnation (0: none)
  std::string nonce;              // the opener's challenge when it has a peer secret; else ""
  friend bool operator==(const Hello&, const Hello&) = default;
};

/// The answer to Hello.
struct HelloReply {
  bool accepted = false;
  std::uint64_t cluster_id = 0;
  NodeId node_id;
  std::string reason;             // why it was refused
  std::uint64_t incarnation = 0;  // the acceptor's Storage::incarnation (0: none)
  friend bool operator==(const HelloReply&, const HelloReply&) = default;
};

/// The acceptor's half of the shared-secret handshake: its own challenge and its proof that it
/// knows the secret (an HMAC over both nonces, the cluster and both ids; docs/wire_format.md).
struct AuthChallenge {
  std::string nonce;
  std::string proof;
  friend bool operator==(const AuthChallenge&, const AuthChallenge&) = default;
};

/// The opener's proof that it knows the secret, answering AuthChallenge.
struct AuthProof {
  std::string proof;
  friend bool operator==(const AuthProof&, const AuthProof&) = default;
};

/// A piece of a streamed snapshot (see wire.proto).
struct SnapshotChunk {
  NodeId from;
  NodeId to;
  Term term;
  EntryId snapshot;  // the snapshot's last entry
  std::uint64_t offset = 0;
  Bytes data;
  bool last = false;
  friend bool operator==(const SnapshotChunk&, const SnapshotChunk&) = default;
};

/// The receiver's answer to a streamed snapshot: delivered whole (ok) or abandoned.
struct SnapshotStatus {
  NodeId from;       // the receiver
  NodeId to;         // the sender
  EntryId snapshot;  // the snapshot's last entry
  bool ok = false;
  std::string reason;  // why not, when !ok
  friend bool operator==(const SnapshotStatus&, const SnapshotStatus&) = default;
};

/// One decoded frame.
struct Frame {
  FrameKind kind = FrameKind::kMessage;
  std::string body;
};

/// Whole frames, header included, ready to write.
std::string encode_frame(const Hello& hello);
std::string encode_frame(const HelloReply& reply);
std::string encode_frame(const AuthChallenge& challenge);
std::string encode_frame(const AuthProof& proof);
/// Encodes a message, snapshot data inline.
std::string encode_frame(const Message& m);
std::string encode_frame(const SnapshotChunk& chunk);
std::string encode_frame(const SnapshotStatus& status);

/// Bodies to values. kCorruption for bytes that do not parse or values out of range (an
/// unknown message or entry type, a node id or term that cannot be right); never crashes.
Result<Hello> decode_hello(std::string_view body);
Result<HelloReply> decode_hello_reply(std::string_view body);
Result<AuthChallenge> decode_auth_challenge(std::string_view body);
Result<AuthProof> decode_auth_proof(std::string_view body);
Result<Message> decode_message(std::string_view body);
Result<SnapshotChunk> decode_snapshot_chunk(std::string_view body);
Result<SnapshotStatus> decode_snapshot_status(std::string_view body);

/// Splits a byte stream into frames. Feed it what the socket returns; take frames as they
/// complete. After an error every later call fails too: close the connection.
class FrameDecoder {
 public:
  /// Frames whose body exceeds `max_body` bytes are refused before any of it is buffered.
  explicit FrameDecoder(std::uint32_t max_body = 64 << 20) : max_body_(max_body) {}

  /// Changes the limit for frames not yet started (a session raises it once the peer is
  /// admitted).
  void set_max_body(std::uint32_t max_body) { max_body_ = max_body; }
  /// Appends received bytes.
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  /// The next complete frame, nullopt if more bytes are needed, or kCorruption (bad magic,
  /// version, kind or reserved bytes, a length over the limit, a checksum mismatch).
  Result<std::optional<Frame>> next();
  /// Bytes held for an incomplete frame.
  std::size_t buffered() const { return buffer_.size() - pos_; }

 private:
  std::uint32_t max_body_;
  std::string buffer_;
  std::size_t pos_ = 0;
  Status error_;
};

}  // namespace skiff::codec
