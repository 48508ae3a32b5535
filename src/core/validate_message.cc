#include "core/validate_message.h"

#include <limits>

#include "core/str.h"
#include "skiff/conf_change.h"

namespace skiff::detail {
namespace {

Status invalid(const Message& m, const std::string& why) {
  return Status(ErrorCode::kInvalidArgument, str_cat("invalid message (", describe(m), "): ", why));
}

bool known_type(MessageType t) {
  const auto v = static_cast<std::uint8_t>(t);
  return v >= static_cast<std::uint8_t>(MessageType::kAppend) &&
         v <= static_cast<std::uint8_t>(MessageType::kReadIndexResponse);
}

bool known_entry_type(EntryType t) {
  return t == EntryType::kNormal || t == EntryType::kNoop || t == EntryType::kConfChange;
}

// Indexes this close to the top could overflow arithmetic such as index + entries.size().
constexpr std::uint64_t kMaxIndex = std::numeric_limits<std::uint64_t>::max() / 2;

}  // namespace

Status validate_message(const Message& m, NodeId self) {
  if (!known_type(m.type)) {
    return Status(ErrorCode::kInvalidArgument,
                  str_cat("invalid message: unknown type ", static_cast<int>(m.type)));
  }
  if (m.to != self) {
    return invalid(m, str_cat("addressed to ", m.to, ", not to this node ", self));
  }
  if (m.from == kNoNode || m.from == self) {
    return invalid(m, "sender must be another node");
  }
  if (m.index.value > kMaxIndex || m.commit.value > kMaxIndex || m.reject_hint.value > kMaxIndex) {
    return invalid(m, "index out of range");
  }
  if (m.type == MessageType::kPropose) {
    if (m.term != Term{0}) {
      return invalid(m, "a forwarded proposal carries term 0");
    }
    if (m.entries.empty()) {
      return invalid(m, "a forwarded proposal carries entries");
    }
    for (const Entry& e : m.entries) {
      if (e.term != Term{0} || e.index != Index{0} || e.type != EntryType::kNormal) {
        return invalid(m, "forwarded entries are normal and carry no term or index");
      }
    }
    return Status();
  }
  if (m.type == MessageType::kReadIndex) {
    if (m.term != Term{0} || !m.entries.empty()) {
      return invalid(m, "a forwarded read carries term 0 and no entries");
    }
    return Status();
  }
  if (m.term == Term{0}) {
    return invalid(m, "term 0 is only valid for forwarded proposals and reads");
  }
  if (m.term > kMaxTerm) {
    // No campaign could follow such a term (types.h, kMaxTerm): accepting it would end
    // elections in the group for good, since terms are persisted and only grow.
    return invalid(m, str_cat("term above the ceiling ", kMaxTerm.value));
  }
  if (m.log_term > m.term) {
    return invalid(m, "log term above message term");
  }
  if (m.type != MessageType::kAppend && !m.entries.empty()) {
    return invalid(m, "only Append and Propose carry entries");
  }
  switch (m.type) {
    case MessageType::kAppend: {
      if (m.entries.size() > kMaxIndex - m.index.value) {
        return invalid(m, "too many entries");
      }
      Term prev_term = m.log_term;
      for (std::size_t k = 0; k < m.entries.size(); ++k) {
        const Entry& e = m.entries[k];
        if (e.index != m.index + (k + 1)) {
          return invalid(
              m, str_cat("entry ", k, " has index ", e.index, ", expected ", m.index + (k + 1)));
        }
        if (e.term < prev_term || e.term > m.term) {
          return invalid(m, str_cat("entry ", e.index, " has term ", e.term,
                                    " out of order or above the leader's term"));
        }
        if (!known_entry_type(e.type)) {
          return invalid(m, str_cat("entry ", e.index, " has an unknown type"));
        }
        if (e.type == EntryType::kConfChange) {
          if (auto cc = decode_conf_change_entry(e.data.view()); !cc.ok()) {
            return invalid(m, str_cat("entry ", e.index, ": ", cc.status().message()));
          }
        }
        prev_term = e.term;
      }
      break;
    }
    case MessageType::kAppendResponse:
      if (m.reject && m.reject_hint > m.index) {
        return invalid(m, "reject hint above the rejected index");
      }
      break;
    case MessageType::kSnapshot: {
      const SnapshotMeta& meta = m.snapshot.meta;
      if (meta.last.index == Index{0} || meta.last.index.value > kMaxIndex) {
        return invalid(m, "snapshot index out of range");
      }
      if (meta.last.term == Term{0} || meta.last.term > m.term) {
        return invalid(m, "snapshot term is 0 or above the leader's term");
      }
      if (Status s = check_conf_state(meta.conf_state); !s.ok()) {
        return invalid(m, str_cat("snapshot ", s.message()));
      }
      if (meta.conf_state.voters.empty()) {
        return invalid(m, "snapshot membership has no voter");
      }
      break;
    }
    default:
      break;
  }
  if (m.type != MessageType::kSnapshot && !m.snapshot.empty()) {
    return invalid(m, "only Snapshot carries a snapshot");
  }
  return Status();
}

}  // namespace skiff::detail
