#include "core/startup.h"

#include <algorithm>

#include "core/str.h"
#include "skiff/conf_change.h"

namespace skiff::detail {

Result<StartState> load_start_state(const Config& config, const LogStorage& storage) {
  auto init = storage.initial_state();
  if (!init.ok()) {
    return init.status();
  }
  if (Status s = check_conf_state(init->conf_state); !s.ok()) {
    return Status(ErrorCode::kCorruption, str_cat("stored ", s.message()));
  }
  const HardState& hs = init->hard_state;
  if (hs.term > kMaxTerm) {
    // Validation never lets a term past the ceiling in (types.h): the storage was corrupted
    // or written by something else. Starting would leave a node that can never campaign.
    return Status(ErrorCode::kCorruption, str_cat("stored term ", hs.term, " is above the ceiling ",
                                                  kMaxTerm, " (kMaxTerm)"));
  }
  const Index last = storage.last_index();
  if (storage.first_index() > last + 1) {
    return Status(ErrorCode::kCorruption, str_cat("storage first index ", storage.first_index(),
                                                  " is past last index ", last, " + 1"));
  }
  auto snapshot = storage.snapshot();
  if (!snapshot.ok()) {
    return snapshot.status();
  }
  const Index snap_index = snapshot->meta.last.index;
  if (snap_index + 1 < storage.first_index()) {
    return Status(ErrorCode::kCorruption,
                  str_cat("storage compacted up to ", storage.first_index() - 1,
                          " but its snapshot only covers up to ", snap_index));
  }
  if (snap_index > last) {
    return Status(ErrorCode::kCorruption,
                  str_cat("stored snapshot at ", snap_index, " is past the last index ", last));
  }
  // A snapshot covers committed entries only; a commit index persisted lazily may lag it.
  const Index commit = std::max(hs.commit, snap_index);
  if (commit > last) {
    return Status(ErrorCode::kCorruption, str_cat("stored commit index ", hs.commit,
                                                  " is past the last stored entry ", last));
  }
  // Entries and hard state are persisted together (Ready contract), and a node only accepts
  // entries from leaders of its own term: a last entry above the stored term means the
  // storage lost or mixed writes.
  auto last_term = storage.term(last);
  if (!last_term.ok()) {
    return last_term.status();
  }
  if (*last_term > hs.term) {
    return Status(ErrorCode::kCorruption,
                  str_cat("last stored entry ", describe(EntryId{*last_term, last}),
                          " has a term above the stored term ", hs.term));
  }
  if (config.applied > commit) {
    return Status(
        ErrorCode::kInvalidArgument,
        str_cat("Config::applied ", config.applied, " is past the stored commit index ", commit));
  }
  if (config.applied < snap_index) {
    return Status(
        ErrorCode::kInvalidArgument,
        str_cat("Config::applied ", config.applied, " is below the stored snapshot at ", snap_index,
                ": restore the state machine from the snapshot and set applied to its "
                "index"));
  }
  StartState start{hs, commit, Membership(snap_index, init->conf_state)};
  // Thesis §4.1: the latest configuration in the log is in effect, committed or not: replay
  // the configuration entries stored after the snapshot.
  const Index from = std::max(snap_index + 1, storage.first_index());
  for (Index lo = from; lo <= last;) {
    auto ents = storage.entries(lo, last + 1, 4 << 20);
    if (!ents.ok()) {
      return ents.status();
    }
    if (ents->empty()) {
      break;
    }
    for (const Entry& e : *ents) {
      if (e.type == EntryType::kConfChange) {
        if (Status s = start.membership.on_append(e.index, {e}); !s.ok()) {
          return s;
        }
      }
    }
    lo = ents->back().index + 1;
  }
  return start;
}

}  // namespace skiff::detail
