// Snapshots in memory for the example services' state machine tests.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "skiff/node/state_machine.h"

namespace skiff::examples::testing {

/// Collects what a state machine writes into `text`.
class StringWriter final : public SnapshotWriter {
 public:
  Status write(std::string_view bytes) override {
    text.append(bytes);
    return Status();
  }
  std::string text;
};

/// Reads a snapshot from a string.
class StringReader final : public SnapshotReader {
 public:
  explicit StringReader(std::string text) : text_(std::move(text)) {}
  std::size_t read(char* out, std::size_t max) override {
    const std::size_t n = std::min(max, text_.size() - at_);
    text_.copy(out, n, at_);
    at_ += n;
    return n;
  }
  std::size_t size() const override { return text_.size(); }

 private:
  std::string text_;
  std::size_t at_ = 0;
};

}  // namespace skiff::examples::testing
