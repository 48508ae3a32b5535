// The command envelope (envelope.h).
#include "envelope.h"

#include "varint.h"

namespace skiff::node_detail {
namespace {

constexpr char kVersion = 1;

}  // namespace

Bytes wrap(NodeId origin, std::uint64_t request, std::string_view command) {
  std::string out;
  out.reserve(1 + 10 + 10 + command.size());
  out.push_back(kVersion);
  put_varint(out, origin.value);
  put_varint(out, request);
  out.append(command);
  return Bytes(std::move(out));
}

Result<Envelope> unwrap(std::string_view data) {
  if (data.empty() || data.front() != kVersion) {
    return Status(ErrorCode::kCorruption, "command envelope: unknown version");
  }
  data.remove_prefix(1);
  Envelope e;
  std::uint64_t origin = 0;
  if (!get_varint(data, origin) || !get_varint(data, e.request) || origin == 0) {
    return Status(ErrorCode::kCorruption, "command envelope: bad header");
  }
  e.origin = NodeId{origin};
  e.command = data;
  return e;
}

}  // namespace skiff::node_detail
