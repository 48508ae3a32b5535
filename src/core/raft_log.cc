#include "core/raft_log.h"

#include <algorithm>
#include <span>

#include "core/assert.h"
#include "core/str.h"

namespace skiff::detail {

RaftLog::RaftLog(const LogStorage& storage, Index committed, Index applied)
    : storage_(storage),
      unstable_(storage.last_index() + 1),
      committed_(committed),
      applying_(applied),
      applied_(applied) {}

Index RaftLog::first_index() const {
  if (auto first = unstable_.maybe_first_index()) {
    return *first;
  }
  return storage_.first_index();
}

Index RaftLog::last_index() const {
  if (auto last = unstable_.maybe_last_index()) {
    return *last;
  }
  return storage_.last_index();
}

Result<Term> RaftLog::term(Index i) const {
  if (Status s = check_term_index(i, first_index(), last_index()); !s.ok()) {
    return s;
  }
  if (auto t = unstable_.maybe_term(i)) {
    return *t;
  }
  return storage_.term(i);
}

Term RaftLog::last_term() const {
  auto t = term(last_index());
  return t.ok() ? *t : Term{0};
}

bool RaftLog::match_term(Index i, Term t) const {
  // Outside [first - 1, last] there is no match; answer before term() builds the error's text
  // (a follower asks this for every new entry of every Append).
  if (i > last_index() || i + 1 < first_index()) {
    return false;
  }
  auto got = term(i);
  return got.ok() && *got == t;
}

bool RaftLog::is_up_to_date(EntryId last) const {
  const Term our_term = last_term();
  return last.term > our_term || (last.term == our_term && last.index >= last_index());
}

Result<std::optional<RaftLog::Appended>> RaftLog::maybe_append(EntryId prev, Index commit,
                                                               const std::vector<Entry>& ents) {
  if (!match_term(prev.index, prev.term)) {
    return std::optional<Appended>();
  }
  Appended result{prev.index + ents.size(), std::nullopt};
  if (auto conflict = find_conflict(ents)) {
    if (*conflict <= committed_) {
      return Status(
          ErrorCode::kInvalidArgument,
          str_cat("entry ", *conflict, " conflicts with committed entries up to ", committed_));
    }
    const auto from = static_cast<std::ptrdiff_t>(*conflict - ents.front().index);
    append(std::vector<Entry>(ents.begin() + from, ents.end()));
    result.written_from = *conflict;
  }
  // A follower commits only what this Append proved it shares with the leader (PITFALLS #11).
  commit_to(std::min(commit, result.last_new));
  return std::optional<Appended>(result);
}

void RaftLog::restore(Snapshot s) {
  SKIFF_ASSERT(s.meta.last.index > committed_,
               str_cat("restoring ", skiff::describe(s), " at or below commit ", committed_));
  committed_ = s.meta.last.index;
  unstable_.restore(std::move(s));
}

void RaftLog::snapshot_installed(Index index) {
  unstable_.stable_snapshot_to(index);
  applied_to(index);
}

Index RaftLog::append(const std::vector<Entry>& ents) {
  if (ents.empty()) {
    return last_index();
  }
  SKIFF_ASSERT(ents.front().index > committed_,
               str_cat("append at ", ents.front().index, " below commit ", committed_));
  unstable_.truncate_and_append(ents);
  return last_index();
}

std::optional<Index> RaftLog::find_conflict(const std::vector<Entry>& ents) const {
  const Index first = first_index();
  for (const Entry& e : ents) {
    // Entries in the compacted prefix are committed; a legitimate leader agrees with them
    // (PITFALLS #7d): they are never conflicts.
    if (e.index < first) {
      continue;
    }
    if (!match_term(e.index, e.term)) {
      return e.index;
    }
  }
  return std::nullopt;
}

EntryId RaftLog::find_conflict_by_term(Index index, Term term) const {
  for (;;) {
    auto t = this->term(index);
    if (!t.ok()) {
      return EntryId{Term{0}, index};
    }
    if (*t <= term || index == Index{0}) {
      return EntryId{*t, index};
    }
    index = index - 1;
  }
}

void RaftLog::commit_to(Index to) {
  if (to <= committed_) {
    return;
  }
  SKIFF_ASSERT(to <= last_index(),
               str_cat("commit ", to, " past last index ", last_index(), ": ", describe()));
  committed_ = to;
}

bool RaftLog::maybe_commit(Index index, Term term) {
  if (index > committed_ && match_term(index, term)) {
    commit_to(index);
    return true;
  }
  return false;
}

Result<std::vector<Entry>> RaftLog::slice(Index lo, Index hi, std::uint64_t max_bytes) const {
  if (Status s = check_entries_range(lo, hi, first_index(), last_index()); !s.ok()) {
    return s;
  }
  std::vector<Entry> out;
  if (lo >= hi) {
    return out;
  }
  const Index offset = unstable_.offset();
  std::uint64_t size = 0;
  if (lo < offset) {
    auto stored = storage_.entries(lo, std::min(hi, offset), max_bytes);
    if (!stored.ok()) {
      return stored.status();
    }
    out = std::move(stored).value();
    for (const Entry& e : out) {
      size += entry_size(e);
    }
    // Storage stopped early for the byte limit: we are done.
    if (out.empty() || out.back().index + 1 < std::min(hi, offset)) {
      return out;
    }
  }
  if (hi > offset) {
    // Find where the byte limit cuts first, so that the entries are copied once, into a
    // vector of the right size.
    const std::span<const Entry> held = unstable_.view(std::max(lo, offset), hi);
    std::size_t n = 0;
    for (const Entry& e : held) {
      const std::uint64_t s = entry_size(e);
      if ((!out.empty() || n > 0) && size + s > max_bytes) {
        break;
      }
      size += s;
      ++n;
    }
    out.reserve(out.size() + n);
    out.insert(out.end(), held.begin(), held.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

Index RaftLog::persisted_index() const {
  const Index stored = storage_.last_index();
  if (unstable_.entries().empty() && !unstable_.snapshot()) {
    return stored;
  }
  return std::min(stored, unstable_.offset() - 1);
}

Result<std::vector<Entry>> RaftLog::next_committed_entries(std::uint64_t max_bytes) const {
  return slice(std::max(applying_ + 1, first_index()), committed_ + 1, max_bytes);
}

void RaftLog::accept_applying(Index index) {
  SKIFF_ASSERT(index <= committed_, str_cat("applying ", index, " past commit ", committed_));
  applying_ = std::max(applying_, index);
}

void RaftLog::applied_to(Index index) {
  SKIFF_ASSERT(index <= committed_, str_cat("applied ", index, " past commit ", committed_));
  applied_ = std::max(applied_, index);
  applying_ = std::max(applying_, applied_);
}

std::string RaftLog::describe() const {
  return str_cat("log [", first_index(), ",", last_index(), "] unstable ", unstable_.offset(),
                 " commit ", committed_, " applied ", applied_);
}

void RaftLog::check_invariants() const {
  unstable_.check_invariants();
  SKIFF_ASSERT(applied_ <= applying_ && applying_ <= committed_ && committed_ <= last_index(),
               describe());
}

}  // namespace skiff::detail
