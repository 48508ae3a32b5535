// Gateway check for inbound messages: a malformed message never touches protocol state
// (DESIGN.md §4, "Inbound messages are validated").
#pragma once

#include "skiff/message.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff::detail {

/// Ok if `m` is well-formed for delivery to node `self` per the field table in message.h;
/// otherwise kInvalidArgument naming the first broken rule. Checks shape only, not protocol
/// state (stale terms are normal and handled by the protocol). Terms above kMaxTerm are
/// malformed (and so, by the ordering rules, are log and entry terms above it).
Status validate_message(const Message& m, NodeId self);

}  // namespace skiff::detail
