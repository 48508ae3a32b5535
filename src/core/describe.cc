// Text forms of the vocabulary types (DESIGN.md §5.5): stable, compact, one line each.
#include <string>

#include "core/str.h"
#include "skiff/entry.h"
#include "skiff/message.h"
#include "skiff/ready.h"
#include "skiff/result.h"
#include "skiff/snapshot.h"
#include "skiff/state.h"
#include "skiff/status.h"
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
  } else if (e.type == EntryType::kConfChange) {
    out += " conf";
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
    case MessageType::kSnapshot:
      return "Snapshot";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResponse:
      return "ReadIndexResp";
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
      out += str_cat(" round ", m.index, " commit ", m.commit);
      break;
    case MessageType::kHeartbeatResponse:
      out += str_cat(" round ", m.index);
      break;
    case MessageType::kVote:
    case MessageType::kPreVote:
      out += str_cat(" last ", describe(EntryId{m.log_term, m.index}),
                     m.leader_transfer ? " transfer" : "");
      break;
    case MessageType::kSnapshot:
      out += str_cat(" ", describe(m.snapshot));
      break;
    case MessageType::kTimeoutNow:
      break;
    case MessageType::kReadIndex:
      out += str_cat(" ctx ", m.context.size(), "B");
      break;
    case MessageType::kReadIndexResponse:
      out += m.reject ? str_cat(" reject") : str_cat(" index ", m.index);
      break;
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse:
      out += m.reject ? " reject" : " grant";
      break;
    case MessageType::kPropose:
      out += str_cat(" ", describe(m.entries));
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
  if (!cs.voters_outgoing.empty()) {
    out += str_cat(" outgoing ", describe_ids(cs.voters_outgoing));
  }
  if (!cs.learners.empty()) {
    out += str_cat(" learners ", describe_ids(cs.learners));
  }
  if (!cs.learners_next.empty()) {
    out += str_cat(" learners_next ", describe_ids(cs.learners_next));
  }
  if (cs.auto_leave) {
    out += " auto";
  }
  return out;
}

std::string describe(const Snapshot& s) {
  return str_cat("snap ", describe(s.meta.last), " ", describe(s.meta.conf_state), " (",
                 s.data.size(), "B)");
}

std::string_view to_string(ReplicationState s) {
  switch (s) {
    case ReplicationState::kProbe:
      return "probe";
    case ReplicationState::kReplicate:
      return "replicate";
    case ReplicationState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

std::string describe(const NodeStatus& s) {
  std::string out =
      str_cat("node ", s.id, " ", to_string(s.role), " t", s.term, " vote ", s.vote, " leader ",
              s.leader, " log [", s.first_index, ",", s.last_index, "] commit ", s.commit,
              " applied ", s.applied, "\n  config ", describe(s.config), " at ", s.config_index,
              s.config_committed ? "" : " (uncommitted)");
  if (s.transfer_target != kNoNode) {
    out += str_cat("\n  transferring to ", s.transfer_target);
  }
  if (s.pending_reads > 0) {
    out += str_cat("\n  pending reads ", s.pending_reads);
  }
  for (const auto& [id, p] : s.progress) {
    out += str_cat("\n  ", id, p.learner ? " learner " : " ", to_string(p.state), " match ",
                   p.match, " next ", p.next, " inflight ", p.inflight,
                   p.state == ReplicationState::kSnapshot ? str_cat(" snap ", p.pending_snapshot)
                                                          : std::string(),
                   p.recent_active ? "" : " inactive");
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
  if (rd.snapshot) {
    out += str_cat("\n  snapshot: ", describe(*rd.snapshot));
  }
  if (!rd.entries.empty()) {
    out += str_cat("\n  entries: ", describe(rd.entries));
  }
  if (!rd.committed_entries.empty()) {
    out += str_cat("\n  committed: ", describe(rd.committed_entries));
  }
  for (const ReadState& rs : rd.read_states) {
    out += str_cat("\n  read: index ", rs.index, " ctx ", rs.context.size(), "B");
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
    case ErrorCode::kTimedOut:
      return "TimedOut";
    case ErrorCode::kStopped:
      return "Stopped";
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
