// The integers of the node's own formats (command envelopes, member records, node
// snapshots): little-endian u64, and LEB128 varints (seven bits per byte, low group first,
// the high bit set on every byte but the last).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace skiff::node_detail {

/// Appends `v` as 8 bytes, little-endian.
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int k = 0; k < 8; ++k) {
    out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  }
}

/// Reads 8 little-endian bytes from the front of `in` (consuming them); false when fewer
/// remain.
inline bool get_u64(std::string_view& in, std::uint64_t& v) {
  if (in.size() < 8) {
    return false;
  }
  v = 0;
  for (int k = 0; k < 8; ++k) {
    v |= std::uint64_t{static_cast<unsigned char>(in[static_cast<std::size_t>(k)])} << (8 * k);
  }
  in.remove_prefix(8);
  return true;
}

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
