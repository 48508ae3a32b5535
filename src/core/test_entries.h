// Entry builders shared by the core's unit tests. Test-only: included by *_test.cc files,
// never by a library source.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <vector>

#include "skiff/entry.h"

namespace skiff::test_entries {

/// A byte limit that never stops a read.
inline constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();

/// The entry (index, term) with a 4-byte payload, so entry_size() is 20.
inline Entry ent(std::uint64_t index, std::uint64_t term) {
  return Entry{.term = Term{term}, .index = Index{index}, .data = Bytes::copy_of("data")};
}

/// Entries from `first` on with the given terms, in order.
inline std::vector<Entry> ents(std::uint64_t first, std::initializer_list<std::uint64_t> terms) {
  std::vector<Entry> out;
  for (std::uint64_t t : terms) {
    out.push_back(ent(first++, t));
  }
  return out;
}

/// The indexes of `es`, for compact assertions.
inline std::vector<std::uint64_t> indexes(const std::vector<Entry>& es) {
  std::vector<std::uint64_t> out;
  for (const Entry& e : es) {
    out.push_back(e.index.value);
  }
  return out;
}

}  // namespace skiff::test_entries
