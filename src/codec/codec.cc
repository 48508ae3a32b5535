// The codec (include/skiff/codec/codec.h): frames, and protobuf bodies to and from the core's
// value types. Generated protobuf types stay in this file.
#include "skiff/codec/codec.h"

#include <xxhash.h>

#include <limits>
#include <sstream>

#include "skiff/v1/wire.pb.h"

namespace skiff::codec {
namespace {

constexpr std::string_view kMagic = "SKF1";
// Indexes and terms this large would overflow the core's arithmetic; no real log gets there.
constexpr std::uint64_t kMaxValue = std::numeric_limits<std::uint64_t>::max() / 2;

template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

Status corrupt(const std::string& why) {
  return Status(ErrorCode::kCorruption, cat("codec: ", why));
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) {
    out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  }
}

std::uint64_t get_le(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int k = 0; k < bytes; ++k) {
    v |= std::uint64_t{static_cast<unsigned char>(in[at + k])} << (8 * k);
  }
  return v;
}

// Serializes `body` straight after the header, in one allocation and one copy.
std::string frame(FrameKind kind, const google::protobuf::MessageLite& body) {
  const std::size_t length = body.ByteSizeLong();
  std::string out(kFrameHeaderSize + length, '\0');
  auto* payload = reinterpret_cast<std::uint8_t*>(out.data() + kFrameHeaderSize);
  body.SerializeWithCachedSizesToArray(payload);
  std::string header(kMagic);
  header.push_back(static_cast<char>(kFormatVersion));
  header.push_back(static_cast<char>(kind));
  put_le(header, 0, 2);
  put_le(header, length, 4);
  put_le(header, XXH3_64bits(payload, length), 8);
  out.replace(0, kFrameHeaderSize, header);
  return out;
}

void to_wire(const ConfState& cs, wire::v1::ConfState* out) {
  for (NodeId id : cs.voters) {
    out->add_voters(id.value);
  }
  for (NodeId id : cs.learners) {
    out->add_learners(id.value);
  }
  for (NodeId id : cs.voters_outgoing) {
    out->add_voters_outgoing(id.value);
  }
  for (NodeId id : cs.learners_next) {
    out->add_learners_next(id.value);
  }
  out->set_auto_leave(cs.auto_leave);
}

ConfState from_wire(const wire::v1::ConfState& in) {
  ConfState cs;
  for (std::uint64_t id : in.voters()) {
    cs.voters.push_back(NodeId{id});
  }
  for (std::uint64_t id : in.learners()) {
    cs.learners.push_back(NodeId{id});
  }
  for (std::uint64_t id : in.voters_outgoing()) {
    cs.voters_outgoing.push_back(NodeId{id});
  }
  for (std::uint64_t id : in.learners_next()) {
    cs.learners_next.push_back(NodeId{id});
  }
  cs.auto_leave = in.auto_leave();
  return cs;
}

bool known_message_type(std::uint32_t t) {
  return t >= static_cast<std::uint32_t>(MessageType::kAppend) &&
         t <= static_cast<std::uint32_t>(MessageType::kReadIndexResponse);
}

}  // namespace

std::string encode_frame(const Hello& hello) {
  wire::v1::Hello w;
  w.set_cluster_id(hello.cluster_id);
  w.set_node_id(hello.node_id.value);
  w.set_format_version(hello.format_version);
  w.set_incarnation(hello.incarnation);
  if (!hello.nonce.empty()) {
    w.set_nonce(hello.nonce);
  }
  return frame(FrameKind::kHello, w);
}

std::string encode_frame(const AuthChallenge& challenge) {
  wire::v1::AuthChallenge w;
  w.set_nonce(challenge.nonce);
  w.set_proof(challenge.proof);
  return frame(FrameKind::kAuthChallenge, w);
}

std::string encode_frame(const AuthProof& proof) {
  wire::v1::AuthProof w;
  w.set_proof(proof.proof);
  return frame(FrameKind::kAuthProof, w);
}

std::string encode_frame(const HelloReply& reply) {
  wire::v1::HelloReply w;
  w.set_accepted(reply.accepted);
  w.set_cluster_id(reply.cluster_id);
  w.set_node_id(reply.node_id.value);
  w.set_reason(reply.reason);
  w.set_incarnation(reply.incarnation);
  return frame(FrameKind::kHelloReply, w);
}

std::string encode_frame(const Message& m) {
  wire::v1::Message w;
  w.set_type(static_cast<std::uint32_t>(m.type));
  w.set_from(m.from.value);
  w.set_to(m.to.value);
  w.set_term(m.term.value);
  w.set_log_term(m.log_term.value);
  w.set_index(m.index.value);
  for (const Entry& e : m.entries) {
    wire::v1::Entry* we = w.add_entries();
    we->set_term(e.term.value);
    we->set_index(e.index.value);
    we->set_type(static_cast<std::uint32_t>(e.type));
    we->set_data(std::string(e.data.view()));
  }
  w.set_commit(m.commit.value);
  w.set_reject(m.reject);
  w.set_reject_hint(m.reject_hint.value);
  if (!m.snapshot.empty()) {
    wire::v1::SnapshotMeta* meta = w.mutable_snapshot();
    meta->set_index(m.snapshot.meta.last.index.value);
    meta->set_term(m.snapshot.meta.last.term.value);
    to_wire(m.snapshot.meta.conf_state, meta->mutable_conf_state());
    w.set_snapshot_data(std::string(m.snapshot.data.view()));
  }
  w.set_context(std::string(m.context.view()));
  w.set_leader_transfer(m.leader_transfer);
  return frame(FrameKind::kMessage, w);
}

std::string encode_frame(const SnapshotChunk& chunk) {
  wire::v1::SnapshotChunk w;
  w.set_from(chunk.from.value);
  w.set_to(chunk.to.value);
  w.set_term(chunk.term.value);
  w.set_index(chunk.snapshot.index.value);
  w.set_snapshot_term(chunk.snapshot.term.value);
  w.set_offset(chunk.offset);
  w.set_data(std::string(chunk.data.view()));
  w.set_last(chunk.last);
  return frame(FrameKind::kSnapshotChunk, w);
}

std::string encode_frame(const SnapshotStatus& status) {
  wire::v1::SnapshotStatus w;
  w.set_from(status.from.value);
  w.set_to(status.to.value);
  w.set_index(status.snapshot.index.value);
  w.set_snapshot_term(status.snapshot.term.value);
  w.set_ok(status.ok);
  w.set_reason(status.reason);
  return frame(FrameKind::kSnapshotStatus, w);
}

Result<Hello> decode_hello(std::string_view body) {
  wire::v1::Hello w;
  if (!w.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return corrupt("Hello does not parse");
  }
  if (w.node_id() == 0) {
    return corrupt("Hello names node id 0");
  }
  return Hello{w.cluster_id(), NodeId{w.node_id()}, w.format_version(), w.incarnation(), w.nonce()};
}

Result<AuthChallenge> decode_auth_challenge(std::string_view body) {
  wire::v1::AuthChallenge w;
  if (!w.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return corrupt("AuthChallenge does not parse");
  }
  return AuthChallenge{w.nonce(), w.proof()};
}

Result<AuthProof> decode_auth_proof(std::string_view body) {
  wire::v1::AuthProof w;
  if (!w.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return corrupt("AuthProof does not parse");
  }
  return AuthProof{w.proof()};
}

Result<HelloReply> decode_hello_reply(std::string_view body) {
  wire::v1::HelloReply w;
  if (!w.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return corrupt("HelloReply does not parse");
  }
  return HelloReply{w.accepted(), w.cluster_id(), NodeId{w.node_id()}, w.reason(), w.incarnation()};
}

Result<Message> decode_message(std::string_view body) {
  wire::v1::Message w;
  if (!w.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return corrupt("Message does not parse");
  }
  if (!known_message_type(w.type())) {
    return corrupt(cat("unknown message type ", w.type()));
  }
  for (std::uint64_t v : {w.term(), w.log_term(), w.index(), w.commit(), w.reject_hint()}) {
    if (v > kMaxValue) {
      return corrupt("a term or index out of range");
    }
  }
  Message m;
  m.type = static_cast<MessageType>(w.type());
  m.from = NodeId{w.from()};
  m.to = NodeId{w.to()};
  m.term = Term{w.term()};
  m.log_term = Term{w.log_term()};
  m.index = Index{w.index()};
  m.entries.reserve(static_cast<std::size_t>(w.entries_size()));
  for (wire::v1::Entry& we : *w.mutable_entries()) {
    if (we.type() > static_cast<std::uint32_t>(EntryType::kConfChange)) {
      return corrupt(cat("unknown entry type ", we.type()));
    }
    if (we.term() > kMaxValue || we.index() > kMaxValue) {
      return corrupt("an entry's term or index out of range");
    }
    Entry e;
    e.term = Term{we.term()};
    e.index = Index{we.index()};
    e.type = static_cast<EntryType>(we.type());
    e.data = Bytes(std::move(*we.mutable_data()));  // the parsed copy, not another
    m.entries.push_back(std::move(e));
  }
  m.commit = Index{w.commit()};
  m.reject = w.reject();
  m.reject_hint = Index{w.reject_hint()};
  if (w.has_snapshot()) {
    const wire::v1::SnapshotMeta& meta = w.snapshot();
    if (meta.index() > kMaxValue || meta.term() > kMaxValue) {
      return corrupt("snapshot index or term out of range");
    }
    m.snapshot.meta.last = EntryId{Term{meta.term()}, Index{meta.index()}};
    m.snapshot.meta.conf_state = from_wire(meta.conf_state());
    m.snapshot.data = Bytes(std::move(*w.mutable_snapshot_data()));
  }
  m.context = Bytes(std::move(*w.mutable_context()));
  m.leader_transfer = w.leader_transfer();
  return m;
}

Result<SnapshotChunk> decode_snapshot_chunk(std::string_view body) {
  wire::v1::SnapshotChunk w;
  if (!w.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return corrupt("SnapshotChunk does not parse");
  }
  if (w.index() > kMaxValue || w.snapshot_term() > kMaxValue || w.term() > kMaxValue ||
      w.offset() > kMaxValue) {
    return corrupt("snapshot chunk value out of range");
  }
  SnapshotChunk c;
  c.from = NodeId{w.from()};
  c.to = NodeId{w.to()};
  c.term = Term{w.term()};
  c.snapshot = EntryId{Term{w.snapshot_term()}, Index{w.index()}};
  c.offset = w.offset();
  c.data = Bytes(std::move(*w.mutable_data()));
  c.last = w.last();
  return c;
}

Result<SnapshotStatus> decode_snapshot_status(std::string_view body) {
  wire::v1::SnapshotStatus w;
  if (!w.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return corrupt("SnapshotStatus does not parse");
  }
  if (w.index() > kMaxValue || w.snapshot_term() > kMaxValue) {
    return corrupt("snapshot status value out of range");
  }
  return SnapshotStatus{NodeId{w.from()}, NodeId{w.to()},
                        EntryId{Term{w.snapshot_term()}, Index{w.index()}}, w.ok(), w.reason()};
}

Result<std::optional<Frame>> FrameDecoder::next() {
  if (!error_.ok()) {
    return error_;
  }
  std::string_view in(buffer_);
  in.remove_prefix(pos_);
  if (in.size() < kFrameHeaderSize) {
    return std::optional<Frame>();
  }
  auto fail = [&](const std::string& why) {
    error_ = corrupt(why);
    buffer_.clear();
    pos_ = 0;
    return error_;
  };
  if (in.substr(0, 4) != kMagic) {
    return fail("bad frame magic");
  }
  if (static_cast<std::uint8_t>(in[4]) != kFormatVersion) {
    return fail(cat("frame format version ", static_cast<int>(static_cast<std::uint8_t>(in[4])),
                    ", expected ", static_cast<int>(kFormatVersion)));
  }
  const auto kind = static_cast<std::uint8_t>(in[5]);
  if (kind < 1 || kind > 7) {
    return fail(cat("unknown frame kind ", static_cast<int>(kind)));
  }
  if (get_le(in, 6, 2) != 0) {
    return fail("reserved frame bytes are not zero");
  }
  const std::uint64_t length = get_le(in, 8, 4);
  if (length > max_body_) {
    return fail(cat("frame of ", length, " bytes is over the limit of ", max_body_));
  }
  if (in.size() < kFrameHeaderSize + length) {
    return std::optional<Frame>();
  }
  const std::string_view body = in.substr(kFrameHeaderSize, length);
  if (XXH3_64bits(body.data(), body.size()) != get_le(in, 12, 8)) {
    return fail("frame checksum mismatch");
  }
  Frame f{static_cast<FrameKind>(kind), std::string(body)};
  pos_ += kFrameHeaderSize + length;
  if (pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ > (1 << 20) && pos_ > buffer_.size() / 2) {
    buffer_.erase(0, pos_);  // keep the buffer from growing with consumed bytes
    pos_ = 0;
  }
  return std::optional<Frame>(std::move(f));
}

}  // namespace skiff::codec
