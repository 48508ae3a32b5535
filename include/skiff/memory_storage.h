// MemoryStorage: a LogStorage kept in memory, for tests, simulations and examples.
#pragma once

#include <cstdint>
#include <vector>

#include "skiff/entry.h"
#include "skiff/log_storage.h"
#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/storage.h"

namespace skiff {

/// An in-memory Storage. "Durable" here means "written to this object": a test that keeps the
/// MemoryStorage of a node and recreates its core models a crash and restart. Not
/// thread-safe: use it from the thread that drives the core.
class MemoryStorage final : public Storage {
 public:
  /// An empty log with no members: a node that waits to be added to a group.
  MemoryStorage() = default;
  /// An empty log bootstrapped with the membership of a new group.
  explicit MemoryStorage(ConfState conf_state) : conf_state_(std::move(conf_state)) {}

  Result<InitialState> initial_state() const override;
  Result<std::vector<Entry>> entries(Index lo, Index hi, std::uint64_t max_bytes) const override;
  Result<Term> term(Index i) const override;
  Index first_index() const override;
  Index last_index() const override;
  Result<Snapshot> snapshot() const override;
  Status save(const WriteBatch& batch) override;
  Status create_snapshot(Index index, const ConfState& conf_state, Bytes data) override;
  Status compact(Index index) override;

  /// What save(batch) would refuse, changing nothing: for adapters that keep their log in a
  /// MemoryStorage and must check a batch before making it durable.
  Status check_save(const WriteBatch& batch) const;
  /// What create_snapshot(index, conf_state, ...) would refuse, changing nothing; otherwise
  /// the term of the entry at `index`.
  Result<Term> check_create_snapshot(Index index, const ConfState& conf_state) const;

  /// Appends `entries`, which must be contiguous with increasing index and start no later
  /// than last_index() + 1. Existing entries from the first new index on are replaced (the
  /// core only hands out such overlaps after a real conflict). Entries at or below the
  /// compaction point or the snapshot's index are skipped. Errors: kInvalidArgument on a gap
  /// or disorder. (save() is the Storage way to write a whole Ready.)
  Status append(const std::vector<Entry>& entries);
  /// Installs a snapshot received from a leader (Ready::snapshot): the whole log is replaced
  /// by it. kFailedPrecondition if it is older than the stored snapshot.
  Status apply_snapshot(Snapshot snapshot);
  /// Replaces the persisted hard state.
  void set_hard_state(const HardState& hs) { hard_state_ = hs; }
  /// Replaces the persisted membership.
  void set_conf_state(ConfState cs) { conf_state_ = std::move(cs); }
  /// The persisted hard state.
  const HardState& hard_state() const { return hard_state_; }

 private:
  // The errors append() owes for `entries` after a log ending at `last`.
  static Status check_append(const std::vector<Entry>& entries, Index last);

  HardState hard_state_;
  // The bootstrap membership, replaced by the snapshot's once there is one.
  ConfState conf_state_;
  Snapshot snapshot_;
  // The compaction point: the entry just before entries_.front(). {0, 0} for a fresh log.
  EntryId compacted_;
  // Invariant: entries_[k].index == compacted_.index + 1 + k.
  std::vector<Entry> entries_;
};

}  // namespace skiff
