// The node runtime's replicated record of the members (internal to skiff::node): each
// member's storage incarnation and address. It lives in the log as member records (entries
// the state machine never sees) and in the node's snapshots, so every member — including one
// that restarted and never met the others — knows which incarnation each member must come
// with (a member that lost its data comes with another and is refused until it is removed
// and added back) and where it listens.
//
// Formats, stable (they are in logs and snapshots):
//   member record entry:  u8 2 (envelope version: not a command) · varint node id ·
//                         varint incarnation · the address bytes (the rest)
//   node snapshot:        "SKNS" · u8 1 · u64 count · count × (u64 id, u64 incarnation,
//                         u64 address length, address) · the state machine's snapshot (the rest)
// Integers in snapshots are little-endian; varints are LEB128.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "skiff/bytes.h"
#include "skiff/log_storage.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff::node_detail {

struct MemberRecord {
  std::uint64_t incarnation = 0;
  std::string address;
  friend bool operator==(const MemberRecord&, const MemberRecord&) = default;
};
using MemberRegistry = std::map<NodeId, MemberRecord>;

/// Applies member record `r` for `id` to `registry`: a record without an incarnation (0) or
/// without an address keeps the one already known (an address change need not know the
/// incarnation, and the leader's own records need not know the address). The one rule for the
/// log, snapshots and the startup scan.
void merge_member_record(MemberRegistry& registry, NodeId id, MemberRecord r);

/// Whether entry data is a member record (rather than a command envelope).
bool is_member_record(std::string_view data);
/// A member record's entry data.
Bytes encode_member_record(NodeId id, const MemberRecord& record);
/// Parses encode_member_record's output; kCorruption for anything else.
Result<std::pair<NodeId, MemberRecord>> decode_member_record(std::string_view data);

/// A node snapshot: the registry, then the state machine's bytes.
std::string encode_node_snapshot(const MemberRegistry& registry, std::string_view state);
/// The registry and a view of the state machine's bytes inside `data`. Data without the
/// node snapshot's magic is all state machine (snapshots taken before the registry existed).
/// kCorruption for a damaged registry.
Result<std::pair<MemberRegistry, std::string_view>> decode_node_snapshot(std::string_view data);

/// Brings `registry` (as of the snapshot at `from`) to `commit`: the member records and
/// removals among the committed entries (from, commit] of `storage`.
Status scan_registry(const LogStorage& storage, Index from, Index commit, MemberRegistry& registry);

}  // namespace skiff::node_detail
