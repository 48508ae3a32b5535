// The connection protocol without sockets (session.h).
#include "session.h"

#include <algorithm>
#include <utility>

#include "text.h"

namespace skiff::transport_detail {

// --- InboundSession -----------------------------------------------------------------------------

InboundSession::InboundSession(Limits limits, Admit admit)
    : limits_(limits), admit_(std::move(admit)), decoder_(limits.max_frame_bytes) {}

void InboundSession::feed(std::string_view bytes, Output& out) {
  if (closed_) {
    return;
  }
  decoder_.feed(bytes);
  while (!closed_) {
    auto frame = decoder_.next();
    if (!frame.ok()) {
      bad(frame.status().message(), out);
      return;
    }
    if (!frame->has_value()) {
      return;
    }
    on_frame(**frame, out);
  }
}

void InboundSession::on_frame(const codec::Frame& frame, Output& out) {
  if (peer_ == kNoNode && frame.kind != codec::FrameKind::kHello) {
    bad("the first frame is not Hello", out);
    return;
  }
  switch (frame.kind) {
    case codec::FrameKind::kHello:
      on_hello(frame.body, out);
      return;
    case codec::FrameKind::kMessage:
      on_message(frame.body, out);
      return;
    case codec::FrameKind::kSnapshotChunk:
      on_chunk(frame.body, out);
      return;
    case codec::FrameKind::kHelloReply:
    case codec::FrameKind::kSnapshotStatus:
      bad("a frame only the accepting side sends", out);
      return;
  }
  bad("unknown frame kind", out);
}

void InboundSession::on_hello(std::string_view body, Output& out) {
  if (peer_ != kNoNode) {
    bad("a second Hello", out);
    return;
  }
  auto hello = codec::decode_hello(body);
  if (!hello.ok()) {
    bad(hello.status().message(), out);
    return;
  }
  hello_ = *hello;
  std::string why;
  if (hello->format_version != codec::kFormatVersion) {
    why = cat("format version ", hello->format_version, ", this node speaks ",
              int{codec::kFormatVersion});
  } else if (hello->cluster_id != limits_.cluster_id) {
    why = "another cluster";
  } else if (hello->node_id == limits_.self) {
    why = "it uses this node's own id";
  } else {
    why = admit_(hello->node_id, hello->incarnation);
  }
  const std::string who = cat("node ", hello->node_id.value, " of cluster ", hello->cluster_id);
  const std::string us = cat("node ", limits_.self.value, " of cluster ", limits_.cluster_id);
  codec::HelloReply reply{why.empty(), limits_.cluster_id, limits_.self, {}, limits_.incarnation};
  if (!why.empty()) {
    reply.reason = cat(who, " refused by ", us, ": ", why);
    out.writes.push_back(codec::encode_frame(reply));
    out.close = CloseReason::kRefused;
    out.reason = reply.reason;
    closed_ = true;
    return;
  }
  peer_ = hello->node_id;
  out.writes.push_back(codec::encode_frame(reply));
  out.handshake_done = true;
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
                                 std::uint64_t incarnation, InboundSession::Admit admit)
    : cluster_id_(cluster_id),
      self_(self),
      peer_(peer),
      incarnation_(incarnation),
      admit_(std::move(admit)) {}

std::string OutboundSession::hello() const {
  return codec::encode_frame(codec::Hello{cluster_id_, self_, codec::kFormatVersion, incarnation_});
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
      if (f.kind != codec::FrameKind::kHelloReply) {
        bad(CloseReason::kBadInput, "the first frame is not HelloReply", out);
        return;
      }
      auto reply = codec::decode_hello_reply(f.body);
      if (!reply.ok()) {
        bad(CloseReason::kBadInput, reply.status().message(), out);
      } else if (!reply->accepted) {
        bad(CloseReason::kRefused, cat("refused: ", reply->reason), out);
      } else if (reply->cluster_id != cluster_id_ || reply->node_id != peer_) {
        bad(CloseReason::kRefused,
            cat("the address answered as node ", reply->node_id.value, " of cluster ",
                reply->cluster_id, ", expected node ", peer_.value, " of cluster ", cluster_id_),
            out);
      } else if (std::string why = admit_ ? admit_(peer_, reply->incarnation) : std::string();
                 !why.empty()) {
        bad(CloseReason::kRefused, cat("node ", peer_.value, " answered but is refused: ", why),
            out);
      } else {
        established_ = true;
        out.handshake_done = true;
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
