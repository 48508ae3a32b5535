// The log storage port: what the core reads from durable storage.
//
// The core only reads through this interface. The application (or the node runtime) writes:
// it persists each Ready's hard state and entries before telling the core with advance().
// Storage adapters (MemoryStorage, the LMDB adapter, or a user's own) implement this
// interface and add their own write methods.
#pragma once

#include <cstdint>
#include <vector>

#include "skiff/entry.h"
#include "skiff/result.h"
#include "skiff/snapshot.h"
#include "skiff/state.h"
#include "skiff/types.h"

namespace skiff {

/// What a node starts from: the persisted hard state and the membership in effect at the
/// stored snapshot's index (the snapshot's own, or the bootstrap membership when there is no
/// snapshot). The core replays configuration entries stored after that index.
struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

/// Read access to a node's durable log. The log holds the entries [first_index(),
/// last_index()]; the entry just before first_index() was compacted away but its term is
/// still known (`term(first_index() - 1)`), as in Raft §7. A fresh log has first_index() == 1,
/// last_index() == 0 and term(0) == Term{0}.
///
/// Thread safety: the core calls these from the thread that drives it, while the application
/// may be writing between ready() and advance(); adapters must make that safe. Reads must see
/// every write completed before the last advance().
class LogStorage {
 public:
  virtual ~LogStorage() = default;

  /// The persisted hard state and membership, read once when a core starts.
  virtual Result<InitialState> initial_state() const = 0;

  /// Entries with index in [lo, hi), in order, stopping early once their total entry_size
  /// would exceed `max_bytes`, but always at least one entry if lo < hi.
  /// Errors: kCompacted if lo < first_index(); kUnavailable if hi > last_index() + 1;
  /// kStorage or kCorruption if the adapter fails to read.
  virtual Result<std::vector<Entry>> entries(Index lo, Index hi, std::uint64_t max_bytes) const = 0;

  /// The term of the entry at `i`, for i in [first_index() - 1, last_index()].
  /// Errors: kCompacted below that range, kUnavailable above it, kStorage/kCorruption.
  virtual Result<Term> term(Index i) const = 0;

  /// Index of the first entry still present (last_index() + 1 when the log is empty).
  /// Answered from memory: adapters cache it.
  virtual Index first_index() const = 0;

  /// Index of the last entry (first_index() - 1 when the log is empty). Answered from memory.
  virtual Index last_index() const = 0;

  /// The most recent snapshot, sent by a leader to followers that need compacted entries. Its
  /// index is at least first_index() - 1 whenever entries were compacted. An empty Snapshot
  /// when none exists. kUnavailable if one is being prepared (the leader retries later).
  virtual Result<Snapshot> snapshot() const = 0;
};

/// The errors LogStorage::entries owes for [lo, hi) on a log holding [first, last]: kCompacted
/// if lo < first, kUnavailable if hi > last + 1, else ok. For adapters to share the wording.
Status check_entries_range(Index lo, Index hi, Index first, Index last);

/// The errors LogStorage::term owes for `i` on a log holding [first, last]: kCompacted if
/// i < first - 1, kUnavailable if i > last, else ok.
Status check_term_index(Index i, Index first, Index last);

}  // namespace skiff
