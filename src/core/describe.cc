// Text forms of the vocabulary types (DESIGN.md §5.5): stable, compact, one line each.
#include <string>

#include "core/str.h"
#include "skiff/entry.h"
#include "skiff/message.h"
#include "skiff/ready.h"
#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/types.h"

namespace skiff {

using detail::str_cat;

std::string describe(NodeId id) {
  return str_cat(id.value);
}

std::string describe(EntryId id) {
  return str_cat(id.index, "/", id.term);
}

std::uint64_t entries_size(const std::vector<Entry>& entries) {
  std::uint64_t total = 0;
  for (const Entry& e : entries) {
    total += entry_size(e);
  }
  return total;
}

namespace {

bool short_printable(std::string_view s) {
  if (s.size() > 16) {
    return false;
  }
  for (char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string describe(const Entry& e) {
  std::string out = describe(e.id());
  if (e.type == EntryType::kNoop) {
    out += " noop";
  }
  if (!e.data.empty()) {
    if (short_printable(e.data.view())) {
      out += str_cat(" \"", e.data.view(), "\"");
    } else {
      out += str_cat(" (", e.data.size(), "B)");
    }
  }
  return out;
}

std::string describe(const std::vector<Entry>& entries) {
  std::string out = "[";
  for (std::size_t k = 0; k < entries.size(); ++k) {
    out += str_cat(k == 0 ? "" : " ", describe(entries[k]));
  }
  return out + "]";
}

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::kAppend:
      return "App";
    case MessageType::kAppendResponse:
      return "AppResp";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResponse:
      return "HeartbeatResp";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResponse:
      return "VoteResp";
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResponse:
      return "PreVoteResp";
    case MessageType::kPropose:
      return "Propose";
  }
  return "Unknown";
}

std::string describe(const Message& m) {
  std::string out = str_cat(m.from, "->", m.to, " ", to_string(m.type), " t", m.term);
  switch (m.type) {
    case MessageType::kAppend:
      out += str_cat(" prev ", describe(EntryId{m.log_term, m.index}), " commit ", m.commit, " ",
                     describe(m.entries));
      break;
    case MessageType::kAppendResponse:
      if (m.reject) {
        out += str_cat(" reject ", m.index, " hint ", describe(EntryId{m.log_term, m.reject_hint}));
      } else {
        out += str_cat(" index ", m.index);
      }
      break;
    case MessageType::kHeartbeat:
      out += str_cat(" commit ", m.commit);
      break;
    case MessageType::kVote:
    case MessageType::kPreVote:
      out += str_cat(" last ", describe(EntryId{m.log_term, m.index}));
      break;
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse:
      out += m.reject ? " reject" : " grant";
      break;
    case MessageType::kPropose:
      out += str_cat(" ", describe(m.entries));
      break;
    case MessageType::kHeartbeatResponse:
      break;
  }
  return out;
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kFollower:
      return "Follower";
    case Role::kPreCandidate:
      return "PreCandidate";
    case Role::kCandidate:
      return "Candidate";
    case Role::kLeader:
      return "Leader";
  }
  return "Unknown";
}

std::string describe(const HardState& hs) {
  return str_cat("t", hs.term, " vote ", hs.vote, " commit ", hs.commit);
}

namespace {

std::string describe_ids(const std::vector<NodeId>& ids) {
  std::string out = "[";
  for (std::size_t k = 0; k < ids.size(); ++k) {
    out += str_cat(k == 0 ? "" : " ", ids[k]);
  }
  return out + "]";
}

}  // namespace

std::string describe(const ConfState& cs) {
  std::string out = str_cat("voters ", describe_ids(cs.voters));
  if (!cs.learners.empty()) {
    out += str_cat(" learners ", describe_ids(cs.learners));
  }
  return out;
}

std::string describe(const Ready& rd) {
  std::string out = str_cat("Ready ", rd.number, rd.must_sync ? " sync" : "");
  if (rd.soft_state) {
    out += str_cat("\n  soft: ", to_string(rd.soft_state->role), " leader ", rd.soft_state->leader);
  }
  if (rd.hard_state) {
    out += str_cat("\n  hard: ", describe(*rd.hard_state));
  }
  if (!rd.entries.empty()) {
    out += str_cat("\n  entries: ", describe(rd.entries));
  }
  if (!rd.committed_entries.empty()) {
    out += str_cat("\n  committed: ", describe(rd.committed_entries));
  }
  for (const Message& m : rd.messages) {
    out += str_cat("\n  send: ", describe(m));
  }
  for (const Message& m : rd.persisted_messages) {
    out += str_cat("\n  send after persist: ", describe(m));
  }
  return out;
}

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "OK";
    case ErrorCode::kInvalidArgument:
      return "InvalidArgument";
    case ErrorCode::kNotLeader:
      return "NotLeader";
    case ErrorCode::kProposalDropped:
      return "ProposalDropped";
    case ErrorCode::kCompacted:
      return "Compacted";
    case ErrorCode::kUnavailable:
      return "Unavailable";
    case ErrorCode::kFailedPrecondition:
      return "FailedPrecondition";
    case ErrorCode::kStorage:
      return "Storage";
    case ErrorCode::kCorruption:
      return "Corruption";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  if (ok()) {
    return "OK";
  }
  std::string out = str_cat(skiff::to_string(code_), ": ", message_);
  if (code_ == ErrorCode::kNotLeader) {
    out += str_cat(" (leader hint ", leader_hint_, ")");
  }
  return out;
}

}  // namespace skiff
