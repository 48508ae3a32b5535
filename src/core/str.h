// str_cat: builds log and error text without iostreams or <format> (not in g++ 12).
#pragma once

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>

#include "skiff/types.h"

namespace skiff::detail {

inline void str_append(std::string& out, std::string_view s) {
  out.append(s);
}
inline void str_append(std::string& out, const char* s) {
  out.append(s);
}
inline void str_append(std::string& out, const std::string& s) {
  out.append(s);
}
inline void str_append(std::string& out, char c) {
  out.push_back(c);
}
inline void str_append(std::string& out, bool b) {
  out.append(b ? "true" : "false");
}
template <std::integral T>
requires(!std::same_as<T, bool> && !std::same_as<T, char>) void str_append(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  out.append(buf, end);
}
inline void str_append(std::string& out, NodeId v) {
  str_append(out, v.value);
}
inline void str_append(std::string& out, Term v) {
  str_append(out, v.value);
}
inline void str_append(std::string& out, Index v) {
  str_append(out, v.value);
}

/// Concatenates the text forms of `parts`.
template <typename... Parts>
std::string str_cat(const Parts&... parts) {
  std::string out;
  (str_append(out, parts), ...);
  return out;
}

}  // namespace skiff::detail
