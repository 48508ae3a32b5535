// Log entries: the unit of replication.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "skiff/bytes.h"
#include "skiff/types.h"

namespace skiff {

/// What an entry carries. Applications apply kNormal payloads; every entry, whatever its type,
/// advances the applied index.
enum class EntryType : std::uint8_t {
  kNormal = 0,      // an application proposal
  kNoop = 1,        // appended by a new leader to commit entries of earlier terms (Raft §5.4.2)
  kConfChange = 2,  // a membership change: data is a ConfChangeEntry (see conf_change.h)
};

/// One entry of the replicated log. A plain value type; copies share the payload.
struct Entry {
  Term term;
  Index index;
  EntryType type = EntryType::kNormal;
  Bytes data;

  /// (term, index) of this entry.
  EntryId id() const { return EntryId{term, index}; }
  friend bool operator==(const Entry&, const Entry&) = default;
};

/// Bytes an entry is accounted as in size limits: its payload plus a fixed 16-byte overhead
/// for term, index and type.
inline std::uint64_t entry_size(const Entry& e) {
  return e.data.size() + 16;
}

/// Sum of entry_size over `entries`.
std::uint64_t entries_size(const std::vector<Entry>& entries);

/// "8/3" for a normal entry, "8/3 noop" for a leader no-op, with payload size when non-empty:
/// "8/3 (12B)".
std::string describe(const Entry& e);
/// "[8/3 9/3]".
std::string describe(const std::vector<Entry>& entries);

}  // namespace skiff
