// LEB128 varints for the node's own formats (command envelopes, member records, node
// snapshots): seven bits per byte, low group first, the high bit set on every byte but the
// last.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace skiff::node_detail {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

/// Reads one varint from the front of `in` (consuming it); false when `in` ends inside one or
/// it does not fit in 64 bits.
inline bool get_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
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

}  // namespace skiff::node_detail
