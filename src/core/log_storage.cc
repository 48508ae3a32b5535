#include "skiff/log_storage.h"

#include "core/str.h"

namespace skiff {

using detail::str_cat;

Status check_entries_range(Index lo, Index hi, Index first, Index last) {
  if (lo < first) {
    return Status(ErrorCode::kCompacted,
                  str_cat("entries from ", lo, " are compacted (first index ", first, ")"));
  }
  if (hi > last + 1) {
    return Status(ErrorCode::kUnavailable,
                  str_cat("entries up to ", hi, " are past the last index ", last));
  }
  return Status();
}

Status check_term_index(Index i, Index first, Index last) {
  if (i + 1 < first) {
    return Status(ErrorCode::kCompacted,
                  str_cat("index ", i, " is compacted (first index ", first, ")"));
  }
  if (i > last) {
    return Status(ErrorCode::kUnavailable, str_cat("index ", i, " is past the last index ", last));
  }
  return Status();
}

}  // namespace skiff
