// Messages exchanged between the cores of a Raft group.
//
// Plain value types: the transport serializes them (a later codec), the core never sees bytes.
// The meaning of each field depends on the type; the table is the contract the core validates
// inbound messages against (see `describe` for the text form).
//
// | type              | log_term / index                      | entries | commit | reject,
// reject_hint |
// |-------------------|---------------------------------------|---------|--------|---------------------|
// | Append            | term/index of the entry before entries| yes     | leader | - | |
// AppendResponse    | ok: index = last matched; reject:     | -       | -      | reject_hint = hint
// | |                   | index = rejected prev index, log_term |         |        | index | | | =
// term of the follower at reject_hint |         |        |                     | | Heartbeat | - |
// -       | yes    | -                   | | HeartbeatResponse | - | -       | -      | - | | Vote,
// PreVote     | candidate's last entry term/index     | -       | -      | -                   | |
// Vote/PreVote Resp | -                                     | -       | -      | reject | | Propose
// | - (term 0: forwarded by a follower)   | yes     | -      | -                   |
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/entry.h"
#include "skiff/types.h"

namespace skiff {

/// The kinds of message. Values are stable: they appear in recorded traces and on the wire.
enum class MessageType : std::uint8_t {
  kAppend = 1,             // leader -> follower: entries after (log_term, index) (Raft §5.3)
  kAppendResponse = 2,     // follower -> leader: accepted up to index, or rejected with a hint
  kHeartbeat = 3,          // leader -> follower: keeps authority, carries a safe commit index
  kHeartbeatResponse = 4,  // follower -> leader
  kVote = 5,               // candidate -> voter (Raft §5.2)
  kVoteResponse = 6,       // voter -> candidate
  kPreVote = 7,            // pre-candidate -> voter, for term+1 without changing terms (§9.6)
  kPreVoteResponse = 8,    // voter -> pre-candidate
  kPropose = 9,            // follower -> leader: forwarded proposal entries
};

/// Stable short name, e.g. "App", "AppResp", "Vote".
std::string_view to_string(MessageType type);

/// A message between two members of one group. `term` is the sender's term, except in
/// PreVote (the term the sender would campaign in), PreVoteResponse granting (that same term)
/// and Propose (0).
struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from;
  NodeId to;
  Term term;
  Term log_term;
  Index index;
  std::vector<Entry> entries;
  Index commit;
  bool reject = false;
  Index reject_hint;

  friend bool operator==(const Message&, const Message&) = default;
};

/// Compact text form, e.g. "1->2 App t3 prev 7/2 commit 6 [8/3 9/3]".
std::string describe(const Message& m);

}  // namespace skiff
