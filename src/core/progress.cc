#include "core/progress.h"

#include <algorithm>

#include "core/assert.h"
#include "core/str.h"

namespace skiff::detail {

std::string_view to_string(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "?";
}

Progress::Progress(Index next, std::size_t max_inflight, std::uint64_t max_inflight_bytes)
    : next_(next), inflights_(max_inflight, max_inflight_bytes) {}

void Progress::become_probe() {
  state_ = ProgressState::kProbe;
  next_ = match_ + 1;
  probe_sent_ = false;
  pending_snapshot_ = Index{};
  inflights_.reset();
}

void Progress::become_replicate() {
  state_ = ProgressState::kReplicate;
  next_ = match_ + 1;
  probe_sent_ = false;
  pending_snapshot_ = Index{};
  inflights_.reset();
}

void Progress::become_snapshot(Index index) {
  state_ = ProgressState::kSnapshot;
  pending_snapshot_ = index;
  probe_sent_ = false;
  inflights_.reset();
}

void Progress::snapshot_done() {
  const Index after = std::max(match_, pending_snapshot_) + 1;
  become_probe();
  next_ = after;
  probe_sent_ = true;
}

void Progress::snapshot_failed() {
  become_probe();
  probe_sent_ = true;
}

void Progress::sent_entries(Index prev, std::uint64_t count, std::uint64_t bytes, Index commit) {
  const Index last = prev + count;
  switch (state_) {
    case ProgressState::kReplicate:
      if (count > 0) {
        next_ = last + 1;
        inflights_.add(last, bytes);
      }
      break;
    case ProgressState::kProbe:
      probe_sent_ = true;
      break;
    case ProgressState::kSnapshot:
      SKIFF_ASSERT(false, "no Append is sent to a follower waiting for a snapshot");
      break;
  }
  // The follower commits min(commit, last entry this Append matched), Raft Figure 2.
  sent_commit_ = std::max(sent_commit_, std::min(commit, last));
}

void Progress::sent_commit_index(Index commit) {
  sent_commit_ = std::max(sent_commit_, commit);
}

bool Progress::maybe_update(Index index) {
  bool updated = false;
  if (match_ < index) {
    match_ = index;
    updated = true;
    probe_sent_ = false;
  }
  next_ = std::max(next_, index + 1);
  return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index match_hint) {
  if (state_ == ProgressState::kSnapshot) {
    // An answer to an Append sent before the snapshot: the snapshot decides now.
    return false;
  }
  if (state_ == ProgressState::kReplicate) {
    // Only a rejection of an index past match can be news; older ones are duplicates.
    if (rejected <= match_) {
      return false;
    }
    next_ = match_ + 1;
    sent_commit_ = std::min(sent_commit_, match_);
    return true;
  }
  // Probe: only the answer to the last probe (prev == next - 1) matters.
  if (next_ - 1 != rejected) {
    return false;
  }
  next_ = std::max(std::min(rejected, match_hint + 1), match_ + 1);
  sent_commit_ = std::min(sent_commit_, next_ - 1);
  probe_sent_ = false;
  return true;
}

bool Progress::is_paused() const {
  switch (state_) {
    case ProgressState::kProbe:
      return probe_sent_;
    case ProgressState::kReplicate:
      return inflights_.full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

void Progress::on_heartbeat_response() {
  probe_sent_ = false;
  if (state_ == ProgressState::kReplicate && inflights_.full()) {
    inflights_.free_first_one();
  }
}

bool Progress::can_bump_commit(Index commit) const {
  return commit > sent_commit_ && sent_commit_ < next_ - 1;
}

std::string Progress::describe() const {
  return str_cat(
      to_string(state_), " match ", match_, " next ", next_, " inflight ", inflights_.count(),
      probe_sent_ ? " paused" : "",
      state_ == ProgressState::kSnapshot ? str_cat(" snap ", pending_snapshot_) : std::string());
}

void Progress::check_invariants() const {
  SKIFF_ASSERT(match_ < next_, describe());
  inflights_.check_invariants();
}

}  // namespace skiff::detail
