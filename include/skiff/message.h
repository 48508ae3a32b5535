// Messages exchanged between the cores of a Raft group.
//
// Plain value types: the transport serializes them (a later codec), the core never sees bytes.
// The meaning of each field depends on the type; the table is the contract the core validates
// inbound messages against (see `describe` for the text form).
//
// clang-format off
// | type             | log_term / index                        | other fields                   |
// |------------------|-----------------------------------------|--------------------------------|
// | Append           | term/index of the entry before entries  | entries, commit                |
// | AppendResponse   | ok: index = last matched entry          |                                |
// |                  | reject: index = rejected prev index,    | reject, reject_hint = an index |
// |                  | log_term = our term at reject_hint      | where our log may match        |
// | Heartbeat        | index = the leader's heartbeat round    | commit                         |
// | HeartbeatResponse| index = the round answered              |                                |
// | Vote, PreVote    | the candidate's last entry term/index   | leader_transfer                |
// | Vote/PreVoteResp |                                         | reject                         |
// | Propose          | - (term 0: forwarded by a follower)     | entries                        |
// | Snapshot         | -                                       | snapshot                       |
// | TimeoutNow       | -                                       |                                |
// | ReadIndex        | - (term 0: forwarded by a follower)     | context                        |
// | ReadIndexResponse| index = the read index                  | context, reject                |
// clang-format on
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/bytes.h"
#include "skiff/entry.h"
#include "skiff/snapshot.h"
#include "skiff/types.h"

namespace skiff {

/// The kinds of message. Values are stable: they appear in recorded traces and on the wire.
enum class MessageType : std::uint8_t {
  kAppend = 1,              // leader -> follower: entries after (log_term, index) (Raft §5.3)
  kAppendResponse = 2,      // follower -> leader: accepted up to index, or rejected with a hint
  kHeartbeat = 3,           // leader -> follower: keeps authority, carries a safe commit index
  kHeartbeatResponse = 4,   // follower -> leader
  kVote = 5,                // candidate -> voter (Raft §5.2)
  kVoteResponse = 6,        // voter -> candidate
  kPreVote = 7,             // pre-candidate -> voter, for term+1 without changing terms (§9.6)
  kPreVoteResponse = 8,     // voter -> pre-candidate
  kPropose = 9,             // follower -> leader: forwarded proposal entries
  kSnapshot = 10,           // leader -> follower: install this snapshot (Raft §7)
  kTimeoutNow = 11,         // leader -> transfer target: campaign now (thesis §3.10)
  kReadIndex = 12,          // follower -> leader: confirm leadership for a read (thesis §6.4)
  kReadIndexResponse = 13,  // leader -> follower: the read index, once confirmed
};

/// Stable short name, e.g. "App", "AppResp", "Vote".
std::string_view to_string(MessageType type);

/// A message between two members of one group. `term` is the sender's term, except in
/// PreVote (the term the sender would campaign in), PreVoteResponse granting (that same term),
/// and Propose and ReadIndex forwarded by a follower (0).
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
  /// Snapshot: the snapshot to install.
  Snapshot snapshot;
  /// ReadIndex and its response: the requester's context, handed back in the ReadState.
  Bytes context;
  /// Vote: the candidate campaigns because the leader handed over (TimeoutNow); voters that
  /// heard from the leader recently grant anyway.
  bool leader_transfer = false;

  friend bool operator==(const Message&, const Message&) = default;
};

/// Compact text form, e.g. "1->2 App t3 prev 7/2 commit 6 [8/3 9/3]".
std::string describe(const Message& m);

}  // namespace skiff
