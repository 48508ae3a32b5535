// Ready: the batch of work a core hands to the application. docs/ready_contract.md has the
// full contract with examples; the rules are repeated here because they are the API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "skiff/bytes.h"
#include "skiff/entry.h"
#include "skiff/message.h"
#include "skiff/snapshot.h"
#include "skiff/state.h"

namespace skiff {

/// A linearizable read that may now be served (thesis §6.4): once the state machine has
/// applied `index`, reading it reflects every write acknowledged before read_index() was
/// called. `context` is what the caller passed to read_index().
struct ReadState {
  Index index;
  Bytes context;

  friend bool operator==(const ReadState&, const ReadState&) = default;
};

/// Work for the application. Take one with RawNode::ready(), do it, hand it back with
/// RawNode::advance(). Only one Ready is outstanding at a time. For each Ready, in order:
///
///  1. `messages` may be sent at any time, even before step 2 completes (the leader replicates
///     in parallel with its own disk write, thesis §10.2.1).
///  2. Persist `snapshot` (if set: it replaces the whole stored log), then `hard_state` (if
///     set) and `entries` (appended, replacing any stored entries from the first one's index
///     on), atomically. When `must_sync` is true they must be
///     durable (fsync) before step 3; when false only the commit index changed and a lazy
///     write is enough.
///  3. Only then send `persisted_messages`: votes and acknowledgements that promise what
///     step 2 wrote (Raft Figure 2: respond after persisting).
///  4. Restore the state machine from `snapshot` (if set), then apply `committed_entries`
///     in order (after step 2: they may include entries of this same Ready). Serve each of
///     `read_states` once the state machine has applied its index.
///  5. Call advance(ready). The core then counts this node's own copy of `entries` as
///     durable (a leader counts itself towards commit only now) and the snapshot and the
///     committed entries as applied.
///
/// Calls to tick(), step() and propose() are allowed between ready() and advance(); what they
/// produce goes into the next Ready.
struct Ready {
  /// Sequence number of this Ready, starting at 1; advance() checks it.
  std::uint64_t number = 0;
  /// Set when the role or leader changed since the previous Ready.
  std::optional<SoftState> soft_state;
  /// Set when term, vote or commit changed since the previous Ready; persist it.
  std::optional<HardState> hard_state;
  /// A snapshot from the leader to install in storage and in the state machine, replacing
  /// the log up to its index. Comes before `entries` and `committed_entries`.
  std::optional<Snapshot> snapshot;
  /// Entries to append to storage. Contiguous; may overwrite a stored suffix.
  std::vector<Entry> entries;
  /// Entries committed by the group, to apply in order.
  std::vector<Entry> committed_entries;
  /// Reads confirmed since the previous Ready, in the order they were requested.
  std::vector<ReadState> read_states;
  /// Messages that may be sent at once.
  std::vector<Message> messages;
  /// Messages to send only once hard_state and entries are durable.
  std::vector<Message> persisted_messages;
  /// Whether snapshot/hard_state/entries must be synced to disk before persisted_messages leave.
  bool must_sync = false;

  /// True if there is nothing to do (a Ready with only a number).
  bool empty() const {
    return !soft_state && !hard_state && !snapshot && entries.empty() &&
           committed_entries.empty() && read_states.empty() && messages.empty() &&
           persisted_messages.empty();
  }
};

/// Multi-line text form for logs and transcripts.
std::string describe(const Ready& rd);

}  // namespace skiff
