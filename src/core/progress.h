// Progress: a leader's view of one follower's log (Raft Figure 2: nextIndex, matchIndex),
// plus the flow-control state that decides what to send it next.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/inflights.h"
#include "skiff/types.h"

namespace skiff::detail {

/// How the leader replicates to a follower (etcd-io/raft's progress states).
enum class ProgressState : std::uint8_t {
  /// Last index unknown: send one Append per heartbeat interval and wait for the answer.
  kProbe,
  /// The follower is known to match up to `match`: pipeline Appends within the window.
  kReplicate,
  /// The follower needs compacted entries: a snapshot was sent; nothing else is sent until it
  /// is acknowledged or reported (Raft §7).
  kSnapshot,
};

std::string_view to_string(ProgressState s);

class Progress {
 public:
  /// A follower we know nothing about: probe from `next` (the leader's last index + 1).
  Progress(Index next, std::size_t max_inflight, std::uint64_t max_inflight_bytes);

  ProgressState state() const { return state_; }
  Index match() const { return match_; }
  Index next() const { return next_; }
  Index sent_commit() const { return sent_commit_; }
  bool recent_active() const { return recent_active_; }
  const Inflights& inflights() const { return inflights_; }

  void set_recent_active(bool active) { recent_active_ = active; }

  /// Probe state: resumes probing at match + 1.
  void become_probe();
  /// Replicate state: optimistic next = match + 1, empty window.
  void become_replicate();
  /// Snapshot state: a snapshot at `index` was sent.
  void become_snapshot(Index index);
  /// The snapshot sent is installed (the follower acknowledged it or the transport said so):
  /// probe from after it. Pauses until the follower answers.
  void snapshot_done();
  /// Sending the snapshot failed: probe again from match + 1 after the next heartbeat answer.
  void snapshot_failed();
  /// In the snapshot state: the index of the snapshot sent.
  Index pending_snapshot() const { return pending_snapshot_; }

  /// Records an Append carrying entries (prev, prev + count] of `bytes` bytes and telling the
  /// follower commit `commit`. In replicate state next moves past them and the window grows;
  /// in probe state further Appends pause until an answer arrives.
  void sent_entries(Index prev, std::uint64_t count, std::uint64_t bytes, Index commit);
  /// Records a heartbeat-carried commit index.
  void sent_commit_index(Index commit);

  /// The follower acknowledged entries up to `index`. Returns false if that is stale.
  bool maybe_update(Index index);
  /// The follower rejected an Append whose previous index was `rejected`, hinting that its log
  /// may match up to `match_hint`. Returns false if the rejection is stale (ignore it).
  bool maybe_decrease_to(Index rejected, Index match_hint);

  /// Whether sending Appends is on hold (probe waiting for an answer, or the window is full).
  bool is_paused() const;
  /// The follower acknowledged `index` in the replicate state: free the window up to it.
  void free_inflights_le(Index index) { inflights_.free_le(index); }
  /// A heartbeat response arrived: in replicate state with a full window, free one slot so a
  /// lost Append cannot stall replication forever (PITFALLS #16).
  void on_heartbeat_response();
  /// Whether the follower should hear a commit index higher than it was sent: true when
  /// `commit` exceeds what was sent and the follower has entries to commit.
  bool can_bump_commit(Index commit) const;

  /// "replicate match 7 next 9 inflight 2".
  std::string describe() const;
  /// Aborts on a broken invariant.
  void check_invariants() const;

 private:
  ProgressState state_ = ProgressState::kProbe;
  // Invariant: match_ < next_. The follower's log matches ours up to match_.
  Index match_;
  Index next_;
  // Highest commit index sent to the follower. Invariant: sent_commit_ <= next_ - 1 once it
  // was clamped by a rejection (followers only learn commits they have entries for).
  Index sent_commit_;
  // Probe state: an Append was sent and no answer has arrived yet.
  bool probe_sent_ = false;
  // Heard from the follower since the leader last checked its quorum (check-quorum).
  bool recent_active_ = false;
  // Snapshot state: the index of the snapshot sent.
  Index pending_snapshot_;
  Inflights inflights_;
};

}  // namespace skiff::detail
