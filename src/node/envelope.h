// How the node runtime wraps each command in the log (internal to skiff::node): the command
// plus the node that proposed it and that node's request number, so whichever node applies
// the entry can tell whether one of its own callers waits for the result, whoever the leader
// was (forwarded proposals, leader changes). Format, stable (it is in the log):
//
//   byte 0   version, 1
//   varint   origin node id (LEB128)
//   varint   request number on that node
//   rest     the command, as the application gave it
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "skiff/bytes.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff::node_detail {

struct Envelope {
  NodeId origin;
  std::uint64_t request = 0;
  std::string_view command;  // a view into the entry's data
};

/// The entry data for `command` proposed by `origin` as its request number `request`.
Bytes wrap(NodeId origin, std::uint64_t request, std::string_view command);
/// Parses entry data written by wrap(); kCorruption for anything else.
Result<Envelope> unwrap(std::string_view data);

}  // namespace skiff::node_detail
