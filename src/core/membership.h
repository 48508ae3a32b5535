// Membership: the configurations in a node's log, so that the latest one is in effect as soon
// as it is appended and the previous one returns if its entry is truncated (thesis §4.1:
// "a server always uses the latest configuration in its log, regardless of whether the entry
// is committed").
#pragma once

#include <string>
#include <vector>

#include "skiff/entry.h"
#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/types.h"

namespace skiff::detail {

class Membership {
 public:
  /// Starts from `base`, the membership in effect at `base_index` (a snapshot or bootstrap).
  Membership(Index base_index, ConfState base);

  /// The configuration in effect: the latest in the log.
  const ConfState& current() const;
  /// Index of the entry that set current() (the base index if none).
  Index current_index() const;
  /// Index of the base (snapshot or bootstrap): at() answers for indexes from here on.
  Index base_index() const { return items_.front().index; }
  /// The configuration in effect at `index` (the latest at or before it). Precondition:
  /// index >= base_index().
  const ConfState& at(Index index) const;

  /// Entries were written to the log from `from` on, replacing anything at or after it:
  /// configurations there are forgotten and those among `ents` (index >= from) recorded.
  /// kCorruption if a configuration entry does not decode (the caller validated it first).
  Status on_append(Index from, const std::vector<Entry>& ents);
  /// A snapshot replaced the log: start over from its membership.
  void reset(Index base_index, ConfState base);
  /// Entries up to `index` will never be needed again (applied): fold configurations at or
  /// before it into the base, keeping memory bounded.
  void compact_to(Index index);

  /// "base [1 2 3]@0, [1 2 3 4]@7".
  std::string describe() const;
  void check_invariants() const;

 private:
  struct Item {
    Index index;
    ConfState conf;
  };
  // Invariant: items_ is non-empty, sorted by strictly increasing index; items_[0] is the base.
  std::vector<Item> items_;
};

}  // namespace skiff::detail
