// How the node runtime wraps each command in the log (internal to skiff::node): the command
// plus the identity of the request that proposed it — the proposing node, the process
// (a random 64-bit number drawn at Node::create, so it never repeats across restarts) and the
// request number within that process — so whichever node applies the entry can tell whether
// one of its own callers waits for the result, whoever the leader was (forwarded proposals,
// leader changes), and never mistakes an entry proposed by one of its earlier processes for a
// request of the current one (after a restart the log after the snapshot is applied again).
// Format, stable (it is in the log):
//
//   byte 0   version: 3 (1 is still read: written before processes had an identity;
//            2 is a member record, registry.h)
//   varint   origin node id (LEB128)
//   8 bytes  origin process, little-endian (version 3 only; never 0)
//   varint   request number in that process
//   rest     the command, as the application gave it
//
// Read contexts (RawNode::read_index) carry the same identity: 8 bytes process, 8 bytes
// request number, both little-endian.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "skiff/bytes.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff::node_detail {

/// One request of one process of one node; equal identities are the same request.
struct RequestId {
  std::uint64_t process = 0;  ///< never 0 for a live process (see new_process_id)
  std::uint64_t number = 0;
  friend bool operator==(const RequestId&, const RequestId&) = default;
};

struct Envelope {
  NodeId origin;
  RequestId request;         // process 0: a version 1 entry, nobody's request now
  std::string_view command;  // a view into the entry's data
};

/// A number for this process that no earlier or later process of any node repeats (drawn
/// from the system's random source, mixed with the clocks; never 0).
std::uint64_t new_process_id();

/// The entry data for `command` proposed by `origin` as its request `request`.
Bytes wrap(NodeId origin, RequestId request, std::string_view command);
/// Parses entry data written by wrap() (either version); kCorruption for anything else.
Result<Envelope> unwrap(std::string_view data);

/// The read context of request `request`.
Bytes read_context(RequestId request);
/// The request whose read context is `context`, or nullopt for bytes of another shape.
std::optional<RequestId> read_context_request(std::string_view context);

}  // namespace skiff::node_detail
