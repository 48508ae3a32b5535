// SnapshotWriter and SnapshotReader over memory (internal to skiff::node): the core holds a
// snapshot's data as Bytes, so the state machine writes into a string and reads from Bytes.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "skiff/bytes.h"
#include "skiff/node/state_machine.h"

namespace skiff::node_detail {

class StringWriter final : public SnapshotWriter {
 public:
  Status write(std::string_view bytes) override {
    data.append(bytes);
    return Status();
  }
  std::string data;
};

// Reads a snapshot from bytes the caller keeps alive during the restore.
class ViewReader final : public SnapshotReader {
 public:
  explicit ViewReader(std::string_view bytes) : bytes_(bytes) {}
  std::size_t read(char* out, std::size_t max) override {
    const std::size_t n = std::min(max, bytes_.size() - at_);
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
    return n;
  }
  std::size_t size() const override { return bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

}  // namespace skiff::node_detail
