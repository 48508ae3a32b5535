// The command envelope (envelope.h).
#include "envelope.h"

namespace skiff::node_detail {
namespace {

constexpr char kVersion = 1;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) {
      return false;
    }
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    if (shift == 63 && byte > 1) {
      return false;  // more than 64 bits
    }
    v |= std::uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      return true;
    }
  }
  return false;
}

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
