// The TCP transport's connection protocol without sockets (internal to skiff::transport_asio):
// what each end of a connection does with the bytes it reads. The asio layer only moves bytes
// and acts on the outputs, so the handshake, the frame checks and snapshot assembly are
// tested and fuzzed here (fuzz/codec_fuzz.cc) without a network.
//
// A connection is opened by the sender. The opener (OutboundSession) writes Hello and then
// Message and SnapshotChunk frames; the acceptor (InboundSession) answers HelloReply and, for
// each streamed snapshot, SnapshotStatus.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/codec/codec.h"
#include "skiff/message.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff::transport_detail {

/// Why a session wants its connection closed.
enum class CloseReason : std::uint8_t {
  kNone,
  kRefused,   // the handshake was refused (a HelloReply saying why is in `writes`)
  kBadInput,  // the peer sent something malformed or out of place
};

/// The accepting end of a connection.
class InboundSession {
 public:
  struct Limits {
    std::uint64_t cluster_id = 0;
    NodeId self;
    std::uint32_t max_frame_bytes = 16 << 20;
    std::uint64_t max_snapshot_bytes = std::uint64_t{4} << 30;
    std::uint64_t incarnation = 0;  // ours, sent in the HelloReply
  };
  /// Whether node `id` with storage incarnation `incarnation` may connect: "" if so, else why
  /// not (not a configured peer; a peer that came back with another incarnation).
  using Admit = std::function<std::string(NodeId id, std::uint64_t incarnation)>;

  /// What feeding bytes produced, in order of effect: deliver `messages`, write `writes`,
  /// then close if `close` says so (after writing: a refusal's reply goes out first).
  struct Output {
    std::vector<Message> messages;
    std::vector<std::string> writes;
    bool handshake_done = false;  // the Hello was accepted by this feed
    CloseReason close = CloseReason::kNone;
    std::string reason;  // for the log when closing
  };

  InboundSession(Limits limits, Admit admit);

  /// Consumes bytes read from the connection. After a close, later feeds do nothing.
  void feed(std::string_view bytes, Output& out);
  /// The node that announced itself (kNoNode before the handshake).
  NodeId peer() const { return peer_; }
  /// The cluster and node a refused or accepted Hello named (for log lines).
  const std::optional<codec::Hello>& hello() const { return hello_; }
  /// Snapshot bytes held for an assembly in progress.
  std::uint64_t snapshot_bytes() const { return assembly_ ? assembly_->data.size() : 0; }

 private:
  struct Assembly {
    Message message;
    std::string data;
  };
  void on_frame(const codec::Frame& frame, Output& out);
  void on_hello(std::string_view body, Output& out);
  void on_message(std::string_view body, Output& out);
  void on_chunk(std::string_view body, Output& out);
  void abandon(const std::string& why, Output& out);
  void bad(const std::string& why, Output& out);

  Limits limits_;
  Admit admit_;
  codec::FrameDecoder decoder_;
  NodeId peer_;
  std::optional<codec::Hello> hello_;
  std::optional<Assembly> assembly_;
  bool closed_ = false;
};

/// The opening end of a connection to `peer`.
class OutboundSession {
 public:
  /// `admit` checks the incarnation the peer answers with (as InboundSession::Admit).
  OutboundSession(std::uint64_t cluster_id, NodeId self, NodeId peer, std::uint64_t incarnation = 0,
                  InboundSession::Admit admit = {});

  /// What feeding bytes produced.
  struct Output {
    bool handshake_done = false;                   // the peer accepted us in this feed
    std::vector<codec::SnapshotStatus> snapshots;  // snapshot outcomes the peer reported
    CloseReason close = CloseReason::kNone;
    std::string reason;
  };

  /// The first frame to write.
  std::string hello() const;
  /// Consumes bytes read from the connection.
  void feed(std::string_view bytes, Output& out);
  bool established() const { return established_; }

 private:
  void bad(CloseReason reason, const std::string& why, Output& out);

  std::uint64_t cluster_id_;
  NodeId self_;
  NodeId peer_;
  std::uint64_t incarnation_;
  InboundSession::Admit admit_;
  codec::FrameDecoder decoder_{1 << 16};  // the acceptor only sends small frames
  bool established_ = false;
  bool closed_ = false;
};

/// The frames that carry a Snapshot message: its metadata (no data inline), then the data in
/// chunks of at most `chunk_bytes`, the last one marked (an empty snapshot is one empty chunk).
class SnapshotStreamer {
 public:
  SnapshotStreamer(const Message& snapshot, std::uint32_t chunk_bytes);
  /// The next frame to write, or nullopt when all were returned.
  std::optional<std::string> next();
  /// Which snapshot this is, and to whom.
  NodeId to() const { return to_; }
  EntryId id() const { return id_; }

 private:
  Message meta_;
  Bytes data_;
  std::uint32_t chunk_bytes_;
  std::uint64_t offset_ = 0;
  bool meta_sent_ = false;
  bool done_ = false;
  NodeId to_;
  EntryId id_;
};

}  // namespace skiff::transport_detail
