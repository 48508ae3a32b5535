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
  }
  return "?";
}

Progress::Progress(Index next, std::size_t max_inflight, std::uint64_t max_inflight_bytes)
    : next_(next), inflights_(max_inflight, max_inflight_bytes) {}

void Progress::become_probe() {
  state_ = ProgressState::kProbe;
  next_ = match_ + 1;
  probe_sent_ = false;
  inflights_.reset();
}

void Progress::become_replicate() {
  state_ = ProgressState::kReplicate;
  next_ = match_ + 1;
  probe_sent_ = false;
  inflights_.reset();
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
  return str_cat(to_string(state_), " match ", match_, " next ", next_, " inflight ",
                 inflights_.count(), probe_sent_ ? " paused" : "");
}

void Progress::check_invariants() const {
  SKIFF_ASSERT(match_ < next_, describe());
  inflights_.check_invariants();
}

}  // namespace skiff::detail
