// An immutable, shared byte buffer for entry payloads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace skiff {

/// Immutable bytes shared by reference count: copying a `Bytes` never copies the payload, so an
/// entry travels from the proposer through the log, the messages and the state machine without
/// copies (DESIGN.md §6). Thread-safe to copy and read from several threads.
class Bytes {
 public:
  /// Empty bytes.
  Bytes() = default;
  /// Takes ownership of `s` without copying its contents.
  explicit Bytes(std::string s)
      : buf_(s.empty() ? nullptr : std::make_shared<const std::string>(std::move(s))) {}
  /// Copies `s`.
  static Bytes copy_of(std::string_view s) { return Bytes(std::string(s)); }

  std::string_view view() const { return buf_ ? std::string_view(*buf_) : std::string_view(); }
  const char* data() const { return view().data(); }
  std::size_t size() const { return buf_ ? buf_->size() : 0; }
  bool empty() const { return size() == 0; }

  /// Compares contents, not identity.
  friend bool operator==(const Bytes& a, const Bytes& b) { return a.view() == b.view(); }

 private:
  std::shared_ptr<const std::string> buf_;
};

}  // namespace skiff
