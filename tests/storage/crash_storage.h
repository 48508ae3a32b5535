// The storage the crash test's child writes and its parent reopens (storage_crash_test.cc,
// storage_crash_child.cc): one place for the options, so both open the same thing.
#pragma once

#include <memory>
#include <string>

#include "skiff/storage/lmdb_storage.h"
#include "skiff/storage/wal_storage.h"

namespace skiff::test {

// Opens the adapter `kind` ("lmdb" or "wal") at `dir` as node 1 of cluster 1, founding a
// one-voter group if the directory is new. Small sizes, so that LMDB's map grows and the
// WAL's segments roll over (and are deleted) under the kills too.
inline Result<std::unique_ptr<Storage>> open_crash_storage(const std::string& kind,
                                                           const std::string& dir) {
  ConfState members;
  members.voters = {NodeId{1}};
  Result<std::unique_ptr<Storage>> out = Status(ErrorCode::kInvalidArgument, "unknown " + kind);
  if (kind == "wal") {
    WalOptions o{.path = dir, .cluster_id = 1, .node_id = NodeId{1}, .bootstrap = members};
    o.segment_size = 256 << 10;
    auto s = WalStorage::open(o);
    out = s.ok() ? Result<std::unique_ptr<Storage>>(std::move(*s))
                 : Result<std::unique_ptr<Storage>>(s.status());
  } else if (kind == "lmdb") {
    LmdbOptions o{.path = dir, .cluster_id = 1, .node_id = NodeId{1}, .bootstrap = members};
    o.initial_map_size = 1 << 20;
    auto s = LmdbStorage::open(o);
    out = s.ok() ? Result<std::unique_ptr<Storage>>(std::move(*s))
                 : Result<std::unique_ptr<Storage>>(s.status());
  }
  return out;
}

}  // namespace skiff::test
