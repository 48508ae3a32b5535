// The connection protocol without sockets (session.h).
#include "session.h"

#include <algorithm>
#include <utility>

#include "text.h"

namespace skiff::transport_detail {

// --- InboundSession -----------------------------------------------------------------------------

namespace {

// "1, 3" for a certificate's ids.
std::string id_list(const std::vector<NodeId>& ids) {
  std::string out;
  for (NodeId id : ids) {
    out += cat(out.empty() ? "" : ", ", id.value);
  }
  return out;
}

// What a certificate says about `claimed`: why it is refused ("" if not), and whether it
// named the id (proved it).
struct CertCheck {
  std::string why;
  bool proved = false;
};
CertCheck check_certificate(const std::optional<CertificateIds>& cert, NodeId claimed) {
  if (!cert) {
    return {};
  }
  if (cert->ids.empty()) {
    return {cert->required ? "its TLS certificate names no node id (a URI SAN skiff://node/<id>)"
                           : ""};
  }
  if (std::find(cert->ids.begin(), cert->ids.end(), claimed) == cert->ids.end()) {
    return {
        cat("its TLS certificate is for node ", id_list(cert->ids), ", not node ", claimed.value)};
  }
  return {"", true};
}

}  // namespace

InboundSession::InboundSession(Limits limits, Admit admit)
    : limits_(std::move(limits)),
      admit_(std::move(admit)),
      // Until the peer is admitted only handshake frames are due: a stranger cannot make this
      // side buffer a max_frame_bytes frame (docs/wire_format.md, "Trust model").
      decoder_(std::min(limits_.max_frame_bytes, codec::kMaxHandshakeBodyBytes)) {}

void InboundSession::feed(std::string_view bytes, Output& out) {
  if (closed_) {
    return;
  }
  decoder_.feed(bytes);
  while (!closed_) {
    auto frame = decoder_.next();
    if (!frame.ok()) {
      bad(state_ == State::kOpen ? frame.status().message()
                                 : cat(frame.status().message(), " (before the handshake)"),
          out);
      return;
    }
    if (!frame->has_value()) {
      return;
    }
    on_frame(**frame, out);
  }
}

void InboundSession::on_frame(const codec::Frame& frame, Output& out) {
  if (state_ == State::kHello && frame.kind != codec::FrameKind::kHello) {
    bad("the first frame is not Hello", out);
    return;
  }
  if (state_ == State::kProof && frame.kind != codec::FrameKind::kAuthProof) {
    bad("a frame other than AuthProof during the shared-secret handshake", out);
    return;
  }
  switch (frame.kind) {
    case codec::FrameKind::kHello:
      on_hello(frame.body, out);
      return;
    case codec::FrameKind::kAuthProof:
      on_proof(frame.body, out);
      return;
    case codec::FrameKind::kMessage:
      on_message(frame.body, out);
      return;
    case codec::FrameKind::kSnapshotChunk:
      on_chunk(frame.body, out);
      return;
    case codec::FrameKind::kHelloReply:
    case codec::FrameKind::kSnapshotStatus:
    case codec::FrameKind::kAuthChallenge:
      bad("a frame only the accepting side sends", out);
      return;
  }
  bad("unknown frame kind", out);
}

void InboundSession::on_hello(std::string_view body, Output& out) {
  if (state_ != State::kHello) {
    bad("a second Hello", out);
    return;
  }
  auto hello = codec::decode_hello(body);
  if (!hello.ok()) {
    bad(hello.status().message(), out);
    return;
  }
  hello_ = *hello;
  const bool offers_secret = !hello->nonce.empty();
  if (offers_secret && hello->nonce.size() != kNonceBytes) {
    bad(cat("a Hello nonce of ", hello->nonce.size(), " bytes, expected ", kNonceBytes), out);
    return;
  }
  std::string why;
  if (hello->format_version != codec::kFormatVersion) {
    why = cat("format version ", hello->format_version, ", this node speaks ",
              int{codec::kFormatVersion});
  } else if (hello->cluster_id != limits_.cluster_id) {
    why = "another cluster";
  } else if (hello->node_id == limits_.self) {
    why = "it uses this node's own id";
  } else if (!limits_.secret.empty() && !offers_secret) {
    why = "this node requires the shared-secret handshake (a peer secret) and the Hello has none";
  } else if (limits_.secret.empty() && offers_secret) {
    why = "the Hello offers the shared-secret handshake but this node has no peer secret";
  }
  if (!why.empty()) {
    refuse(why, "", out);
    return;
  }
  if (offers_secret) {
    // Prove ourselves over the opener's fresh nonce; its proof must then cover ours.
    nonce_ = PeerSecret::nonce();
    const AuthContext ctx{limits_.cluster_id, hello->node_id, limits_.self, hello->nonce, nonce_};
    out.writes.push_back(codec::encode_frame(
        codec::AuthChallenge{nonce_, PeerSecret(limits_.secret).proof(AuthRole::kAcceptor, ctx)}));
    state_ = State::kProof;
    return;
  }
  admit_peer(out);
}

void InboundSession::on_proof(std::string_view body, Output& out) {
  auto proof = codec::decode_auth_proof(body);
  if (!proof.ok()) {
    bad(proof.status().message(), out);
    return;
  }
  const AuthContext ctx{limits_.cluster_id, hello_->node_id, limits_.self, hello_->nonce, nonce_};
  if (!PeerSecret(limits_.secret).verify(AuthRole::kOpener, ctx, proof->proof)) {
    out.auth_failed = true;
    refuse("its shared-secret proof is wrong (the peer secrets differ)", "", out);
    return;
  }
  authenticated_ = true;
  admit_peer(out);
}

void InboundSession::admit_peer(Output& out) {
  const codec::Hello& hello = *hello_;
  const CertCheck cert = check_certificate(cert_, hello.node_id);
  if (!cert.why.empty()) {
    out.auth_failed = true;
    refuse(cert.why, "", out);
    return;
  }
  authenticated_ = authenticated_ || cert.proved;
  if (Verdict v = admit_(hello.node_id, hello.incarnation); !v.admitted()) {
    refuse(v.why, v.detail, out);
    return;
  }
  peer_ = hello.node_id;
  state_ = State::kOpen;
  decoder_.set_max_body(limits_.max_frame_bytes);
  out.writes.push_back(codec::encode_frame(
      codec::HelloReply{true, limits_.cluster_id, limits_.self, {}, limits_.incarnation}));
  out.handshake_done = true;
}

void InboundSession::refuse(const std::string& why, const std::string& detail, Output& out) {
  const codec::Hello& hello = *hello_;
  const std::string who = cat("node ", hello.node_id.value, " of cluster ", hello.cluster_id);
  const std::string us = cat("node ", limits_.self.value, " of cluster ", limits_.cluster_id);
  // No incarnation in a refusal: it would tell a forger what to claim.
  codec::HelloReply reply{false, limits_.cluster_id, limits_.self, {}, 0};
  reply.reason = cat(who, " refused by ", us, ": ", why);
  out.writes.push_back(codec::encode_frame(reply));
  out.close = CloseReason::kRefused;
  out.reason = detail.empty() ? reply.reason : cat(reply.reason, " (", detail, ")");
  closed_ = true;
}

void InboundSession::on_message(std::string_view body, Output& out) {
  auto m = codec::decode_message(body);
  if (!m.ok()) {
    bad(m.status().message(), out);
    return;
  }
  if (m->from != peer_ || m->to != limits_.self) {
    bad(cat("a message from node ", m->from.value, " to node ", m->to.value, " on node ",
            peer_.value, "'s connection to node ", limits_.self.value),
        out);
    return;
  }
  if (m->type != MessageType::kSnapshot) {
    out.messages.push_back(std::move(*m));
    return;
  }
  if (m->snapshot.empty() || !m->snapshot.data.empty()) {
    bad("a Snapshot message must carry metadata and stream its data in chunks", out);
    return;
  }
  if (assembly_) {
    abandon("superseded by a newer snapshot", out);
  }
  assembly_ = Assembly{std::move(*m), {}};
}

void InboundSession::on_chunk(std::string_view body, Output& out) {
  auto chunk = codec::decode_snapshot_chunk(body);
  if (!chunk.ok()) {
    bad(chunk.status().message(), out);
    return;
  }
  if (!assembly_) {
    bad("a snapshot chunk without its Snapshot message", out);
    return;
  }
  const Message& m = assembly_->message;
  if (chunk->from != peer_ || chunk->to != limits_.self ||
      chunk->snapshot != m.snapshot.meta.last || chunk->term != m.term) {
    bad(cat("a chunk of snapshot ", describe(chunk->snapshot), " during snapshot ",
            describe(m.snapshot.meta.last)),
        out);
    return;
  }
  if (chunk->offset != assembly_->data.size()) {
    bad(cat("a snapshot chunk at offset ", chunk->offset, ", expected ", assembly_->data.size()),
        out);
    return;
  }
  if (chunk->data.size() > limits_.max_snapshot_bytes - assembly_->data.size()) {
    const std::string why = cat("snapshot ", describe(m.snapshot.meta.last),
                                " is over the limit of ", limits_.max_snapshot_bytes, " bytes");
    abandon(why, out);
    bad(why, out);  // the rest of it would follow: close instead of reading it
    return;
  }
  assembly_->data.append(chunk->data.view());
  if (!chunk->last) {
    return;
  }
  Assembly done = std::move(*assembly_);
  assembly_.reset();
  const codec::SnapshotStatus status{
      limits_.self, peer_, done.message.snapshot.meta.last, true, {}};
  done.message.snapshot.data = Bytes(std::move(done.data));
  out.messages.push_back(std::move(done.message));
  out.writes.push_back(codec::encode_frame(status));
}

void InboundSession::abandon(const std::string& why, Output& out) {
  const codec::SnapshotStatus status{limits_.self, peer_, assembly_->message.snapshot.meta.last,
                                     false, why};
  out.writes.push_back(codec::encode_frame(status));
  assembly_.reset();
}

void InboundSession::bad(const std::string& why, Output& out) {
  out.close = CloseReason::kBadInput;
  out.reason = why;
  closed_ = true;
  assembly_.reset();
}

// --- OutboundSession ----------------------------------------------------------------------------

OutboundSession::OutboundSession(std::uint64_t cluster_id, NodeId self, NodeId peer,
                                 std::uint64_t incarnation, InboundSession::Admit admit,
                                 std::string secret)
    : cluster_id_(cluster_id),
      self_(self),
      peer_(peer),
      incarnation_(incarnation),
      admit_(std::move(admit)),
      secret_(std::move(secret)),
      nonce_(secret_.empty() ? std::string() : PeerSecret::nonce()) {}

std::string OutboundSession::hello() const {
  return codec::encode_frame(
      codec::Hello{cluster_id_, self_, codec::kFormatVersion, incarnation_, nonce_});
}

void OutboundSession::feed(std::string_view bytes, Output& out) {
  if (closed_) {
    return;
  }
  decoder_.feed(bytes);
  while (!closed_) {
    auto frame = decoder_.next();
    if (!frame.ok()) {
      bad(CloseReason::kBadInput, frame.status().message(), out);
      return;
    }
    if (!frame->has_value()) {
      return;
    }
    const codec::Frame& f = **frame;
    if (!established_) {
      if (f.kind == codec::FrameKind::kAuthChallenge) {
        on_challenge(f.body, out);
      } else if (f.kind == codec::FrameKind::kHelloReply) {
        on_reply(f.body, out);
      } else {
        bad(CloseReason::kBadInput, "the first frame is not HelloReply", out);
      }
      continue;
    }
    if (f.kind != codec::FrameKind::kSnapshotStatus) {
      bad(CloseReason::kBadInput, "a frame only the opening side sends", out);
      return;
    }
    auto status = codec::decode_snapshot_status(f.body);
    if (!status.ok()) {
      bad(CloseReason::kBadInput, status.status().message(), out);
      return;
    }
    if (status->from != peer_ || status->to != self_) {
      bad(CloseReason::kBadInput, "a snapshot status for another pair of nodes", out);
      return;
    }
    out.snapshots.push_back(std::move(*status));
  }
}

void OutboundSession::on_challenge(std::string_view body, Output& out) {
  if (secret_.empty() || challenged_) {
    bad(CloseReason::kBadInput, "an AuthChallenge this node did not ask for", out);
    return;
  }
  auto challenge = codec::decode_auth_challenge(body);
  if (!challenge.ok()) {
    bad(CloseReason::kBadInput, challenge.status().message(), out);
    return;
  }
  if (challenge->nonce.size() != kNonceBytes) {
    bad(CloseReason::kBadInput,
        cat("an AuthChallenge nonce of ", challenge->nonce.size(), " bytes"), out);
    return;
  }
  const AuthContext ctx{cluster_id_, self_, peer_, nonce_, challenge->nonce};
  const PeerSecret secret(secret_);
  if (!secret.verify(AuthRole::kAcceptor, ctx, challenge->proof)) {
    out.auth_failed = true;
    bad(CloseReason::kRefused,
        cat("the address of node ", peer_.value,
            " failed the shared-secret check (the peer secrets differ, or it is not node ",
            peer_.value, ")"),
        out);
    return;
  }
  challenged_ = true;
  out.writes.push_back(codec::encode_frame(codec::AuthProof{secret.proof(AuthRole::kOpener, ctx)}));
}

void OutboundSession::on_reply(std::string_view body, Output& out) {
  auto reply = codec::decode_hello_reply(body);
  if (!reply.ok()) {
    bad(CloseReason::kBadInput, reply.status().message(), out);
  } else if (!reply->accepted) {
    bad(CloseReason::kRefused, cat("refused: ", reply->reason), out);
  } else if (!secret_.empty() && !challenged_) {
    out.auth_failed = true;
    bad(CloseReason::kRefused,
        cat("node ", peer_.value,
            " accepted without the shared-secret handshake: it has no peer secret, and this node "
            "requires one"),
        out);
  } else if (reply->cluster_id != cluster_id_ || reply->node_id != peer_) {
    bad(CloseReason::kRefused,
        cat("the address answered as node ", reply->node_id.value, " of cluster ",
            reply->cluster_id, ", expected node ", peer_.value, " of cluster ", cluster_id_),
        out);
  } else if (std::string why = check_certificate(cert_, peer_).why; !why.empty()) {
    out.auth_failed = true;
    bad(CloseReason::kRefused, cat("node ", peer_.value, " is refused: ", why), out);
  } else if (Verdict v = admit_ ? admit_(peer_, reply->incarnation) : Verdict(); !v.admitted()) {
    bad(CloseReason::kRefused,
        cat("node ", peer_.value, " answered but is refused: ", v.why,
            v.detail.empty() ? std::string() : cat(" (", v.detail, ")")),
        out);
  } else {
    established_ = true;
    out.handshake_done = true;
  }
}

void OutboundSession::bad(CloseReason reason, const std::string& why, Output& out) {
  out.close = reason;
  out.reason = why;
  closed_ = true;
}

// --- SnapshotStreamer ---------------------------------------------------------------------------

SnapshotStreamer::SnapshotStreamer(const Message& snapshot, std::uint32_t chunk_bytes)
    : meta_(snapshot),
      data_(snapshot.snapshot.data),
      chunk_bytes_(std::max<std::uint32_t>(chunk_bytes, 1)),
      to_(snapshot.to),
      id_(snapshot.snapshot.meta.last) {
  meta_.snapshot.data = Bytes();
}

std::optional<std::string> SnapshotStreamer::next() {
  if (!meta_sent_) {
    meta_sent_ = true;
    return codec::encode_frame(meta_);
  }
  if (done_) {
    return std::nullopt;
  }
  const std::uint64_t n = std::min<std::uint64_t>(chunk_bytes_, data_.size() - offset_);
  codec::SnapshotChunk chunk;
  chunk.from = meta_.from;
  chunk.to = meta_.to;
  chunk.term = meta_.term;
  chunk.snapshot = id_;
  chunk.offset = offset_;
  chunk.data = Bytes::copy_of(data_.view().substr(offset_, n));
  offset_ += n;
  chunk.last = offset_ == data_.size();
  done_ = chunk.last;
  return codec::encode_frame(chunk);
}

}  // namespace skiff::transport_detail
