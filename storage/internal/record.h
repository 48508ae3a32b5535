// Byte-level helpers shared by the storage adapters (not installed): little-endian integers,
// xxh3 checksums, and the membership encoding both on-disk formats use.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "skiff/conf_change.h"
#include "skiff/state.h"
#include "skiff/types.h"

namespace skiff::storage_internal {

inline void put_u64(std::string& out, std::uint64_t v) {
  for (int k = 0; k < 8; ++k) {
    out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  }
}

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) {
    out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  }
}

// Reads little-endian values from a buffer; every read reports whether the bytes were there.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u64(std::uint64_t& v) { return uint(v, 8); }
  bool u32(std::uint32_t& v) {
    std::uint64_t wide = 0;
    const bool ok = uint(wide, 4);
    v = static_cast<std::uint32_t>(wide);
    return ok;
  }
  bool u8(std::uint8_t& v) {
    if (pos_ >= data_.size()) {
      return false;
    }
    v = static_cast<std::uint8_t>(data_[pos_++]);
    return true;
  }
  bool bytes(std::uint64_t n, std::string_view& out) {
    if (n > data_.size() - pos_) {
      return false;
    }
    out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return data_.size() - pos_; }

 private:
  bool uint(std::uint64_t& v, int width) {
    if (data_.size() - pos_ < static_cast<std::size_t>(width)) {
      return false;
    }
    v = 0;
    for (int k = 0; k < width; ++k) {
      v |= std::uint64_t{static_cast<unsigned char>(data_[pos_ + k])} << (8 * k);
    }
    pos_ += width;
    return true;
  }
  std::string_view data_;
  std::size_t pos_ = 0;
};

inline std::uint64_t checksum(std::string_view data) {
  return XXH3_64bits(data.data(), data.size());
}

// Appends the checksum of everything in `out` so far.
inline void seal(std::string& out) {
  put_u64(out, checksum(out));
}

// Checks and strips a trailing checksum; false if it does not match.
inline bool unseal(std::string_view record, std::string_view& body) {
  if (record.size() < 8) {
    return false;
  }
  body = record.substr(0, record.size() - 8);
  Reader r(record.substr(record.size() - 8));
  std::uint64_t sum = 0;
  r.u64(sum);
  return sum == checksum(body);
}

inline void put_ids(std::string& out, const std::vector<NodeId>& ids) {
  put_u64(out, ids.size());
  for (NodeId id : ids) {
    put_u64(out, id.value);
  }
}

inline bool read_ids(Reader& r, std::vector<NodeId>& ids) {
  std::uint64_t n = 0;
  if (!r.u64(n) || n > r.left() / 8) {
    return false;
  }
  for (std::uint64_t k = 0; k < n; ++k) {
    std::uint64_t id = 0;
    r.u64(id);
    ids.push_back(NodeId{id});
  }
  return true;
}

// The membership: voters, learners, voters_outgoing, learners_next, auto_leave.
inline void put_conf(std::string& out, const ConfState& cs) {
  put_ids(out, cs.voters);
  put_ids(out, cs.learners);
  put_ids(out, cs.voters_outgoing);
  put_ids(out, cs.learners_next);
  out.push_back(cs.auto_leave ? 1 : 0);
}

inline bool read_conf(Reader& r, ConfState& cs) {
  std::uint8_t auto_leave = 0;
  if (!read_ids(r, cs.voters) || !read_ids(r, cs.learners) || !read_ids(r, cs.voters_outgoing) ||
      !read_ids(r, cs.learners_next) || !r.u8(auto_leave) || auto_leave > 1) {
    return false;
  }
  cs.auto_leave = auto_leave == 1;
  return check_conf_state(cs).ok();
}

}  // namespace skiff::storage_internal
