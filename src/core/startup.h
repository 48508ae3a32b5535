// Startup: the durable state a core starts from, read from a LogStorage and checked for the
// contradictions a lost or mixed write would leave (RawNode::create's errors come from here).
#pragma once

#include "core/membership.h"
#include "skiff/config.h"
#include "skiff/log_storage.h"
#include "skiff/result.h"
#include "skiff/state.h"
#include "skiff/types.h"

namespace skiff::detail {

struct StartState {
  HardState hard_state;
  /// The stored commit index, raised to the snapshot's index (a snapshot covers committed
  /// entries only; the commit index may be persisted lazily).
  Index commit;
  /// The stored membership (snapshot's or bootstrap) with the configuration entries stored
  /// after the snapshot replayed on top (thesis §4.1: the latest one is in effect).
  Membership membership;
};

/// Reads and checks what `storage` holds for a core configured by `config` (already
/// validated). kCorruption for stored state that contradicts itself or a term above kMaxTerm
/// (types.h); kInvalidArgument for a
/// Config::applied outside [snapshot index, commit]; the storage's own errors.
Result<StartState> load_start_state(const Config& config, const LogStorage& storage);

}  // namespace skiff::detail
