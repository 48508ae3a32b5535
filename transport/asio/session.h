// The TCP transport's connection protocol without sockets (internal to skiff::transport_asio):
// what each end of a connection does with the bytes it reads. The asio layer only moves bytes
// and acts on the outputs, so the handshake, the frame checks and snapshot assembly are
// tested and fuzzed here (fuzz/codec_fuzz.cc) without a network.
//
// A connection is opened by the sender. The opener (OutboundSession) writes Hello and then
// Message and SnapshotChunk frames; the acceptor (InboundSession) answers HelloReply and, for
// each streamed snapshot, SnapshotStatus. With a peer secret, Hello carries the opener's nonce,
// the acceptor answers AuthChallenge (its nonce and proof), the opener AuthProof, and only
// then does the acceptor check the peer list and answer HelloReply (peer_secret.h).
//
// The acceptor checks, in this order (docs/wire_format.md, "Trust model"): frame limits (at
// most codec::kMaxHandshakeBodyBytes until admitted), format version, cluster, its own id,
// that both sides agree on using a secret, the secret's proof, the TLS certificate's node id,
// then the peer list and incarnation (Admit). A refusal tells the peer why in words, never an
// incarnation.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "peer_secret.h"
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

/// An admission check's answer: admitted when `why` is empty. `why` is told to the peer;
/// `detail` goes only to the local log (it may name incarnations, which a refused peer must
/// not learn, or it could forge them).
struct Verdict {
  Verdict() = default;
  Verdict(std::string w) : why(std::move(w)) {}  // a reason alone (implicit on purpose)
  Verdict(std::string w, std::string d) : why(std::move(w)), detail(std::move(d)) {}
  bool admitted() const { return why.empty(); }
  std::string why;
  std::string detail;
};

/// What a TLS handshake proved: the node ids the peer's certificate names (its URI SANs
/// skiff://node/<id>), and whether a certificate naming none is refused.
struct CertificateIds {
  std::vector<NodeId> ids;
  bool required = true;
};

/// The accepting end of a connection.
class InboundSession {
 public:
  struct Limits {
    std::uint64_t cluster_id = 0;
    NodeId self;
    std::uint32_t max_frame_bytes = 16 << 20;
    std::uint64_t max_snapshot_bytes = std::uint64_t{4} << 30;
    std::uint64_t incarnation = 0;  // ours, sent in an accepting HelloReply only
    std::string secret;             // the peer secret; "" for none
  };
  /// Whether node `id` with storage incarnation `incarnation` may connect (not a configured
  /// peer; a peer that came back with another incarnation; a forged incarnation 0).
  using Admit = std::function<Verdict(NodeId id, std::uint64_t incarnation)>;

  /// What feeding bytes produced, in order of effect: deliver `messages`, write `writes`,
  /// then close if `close` says so (after writing: a refusal's reply goes out first).
  struct Output {
    std::vector<Message> messages;
    std::vector<std::string> writes;
    bool handshake_done = false;  // the Hello was accepted by this feed
    bool auth_failed = false;     // a wrong secret proof or certificate id closed it
    CloseReason close = CloseReason::kNone;
    std::string reason;  // for the log when closing
  };

  InboundSession(Limits limits, Admit admit);

  /// After a TLS handshake: what the peer's certificate proves (checked against the Hello).
  void set_certificate_ids(CertificateIds ids) { cert_ = std::move(ids); }
  /// Consumes bytes read from the connection. After a close, later feeds do nothing.
  void feed(std::string_view bytes, Output& out);
  /// The node that announced itself (kNoNode before the handshake).
  NodeId peer() const { return peer_; }
  /// Whether the acceptor's challenge went out and the opener's proof is still due (an opener
  /// with another secret closes here: the acceptor then logs why it may have).
  bool awaiting_proof() const { return state_ == State::kProof && !closed_; }
  /// Whether the peer proved its id (a certificate naming it, or the secret), rather than only
  /// claiming it: only such a connection may displace another one from the same id.
  bool authenticated() const { return authenticated_; }
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
  void on_proof(std::string_view body, Output& out);
  void admit_peer(Output& out);
  void refuse(const std::string& why, const std::string& detail, Output& out);
  void on_message(std::string_view body, Output& out);
  void on_chunk(std::string_view body, Output& out);
  void abandon(const std::string& why, Output& out);
  void bad(const std::string& why, Output& out);

  enum class State : std::uint8_t { kHello, kProof, kOpen };

  Limits limits_;
  Admit admit_;
  codec::FrameDecoder decoder_;
  State state_ = State::kHello;
  NodeId peer_;
  std::optional<codec::Hello> hello_;
  std::optional<CertificateIds> cert_;
  std::string nonce_;  // ours, in the AuthChallenge
  bool authenticated_ = false;
  std::optional<Assembly> assembly_;
  bool closed_ = false;
};

/// The opening end of a connection to `peer`.
class OutboundSession {
 public:
  /// `admit` checks the incarnation the peer answers with (as InboundSession::Admit);
  /// `secret` ("" for none) makes the handshake authenticate both sides.
  OutboundSession(std::uint64_t cluster_id, NodeId self, NodeId peer, std::uint64_t incarnation = 0,
                  InboundSession::Admit admit = {}, std::string secret = {});

  /// What feeding bytes produced.
  struct Output {
    bool handshake_done = false;                   // the peer accepted us in this feed
    std::vector<codec::SnapshotStatus> snapshots;  // snapshot outcomes the peer reported
    std::vector<std::string> writes;               // handshake frames to write (AuthProof)
    bool auth_failed = false;  // the peer's secret proof or certificate id was wrong
    CloseReason close = CloseReason::kNone;
    std::string reason;
  };

  /// After a TLS handshake: what the acceptor's certificate proves (it must name `peer`).
  void set_certificate_ids(CertificateIds ids) { cert_ = std::move(ids); }
  /// The first frame to write.
  std::string hello() const;
  /// Consumes bytes read from the connection.
  void feed(std::string_view bytes, Output& out);
  bool established() const { return established_; }

 private:
  void bad(CloseReason reason, const std::string& why, Output& out);
  void on_challenge(std::string_view body, Output& out);
  void on_reply(std::string_view body, Output& out);

  std::uint64_t cluster_id_;
  NodeId self_;
  NodeId peer_;
  std::uint64_t incarnation_;
  InboundSession::Admit admit_;
  std::string secret_;
  std::string nonce_;  // ours, in the Hello, when there is a secret
  bool challenged_ = false;
  std::optional<CertificateIds> cert_;
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
