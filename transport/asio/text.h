// Building messages for logs and errors (internal to skiff::transport_asio).
#pragma once

#include <sstream>
#include <string>

namespace skiff::transport_detail {

/// Everything streamed into one string: cat("node ", 3, ": ", why).
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace skiff::transport_detail
