// Socket plumbing (stream.h).
#include "stream.h"

#include <charconv>
#include <sstream>

#include "text.h"

namespace skiff::transport_detail {

Result<tcp::endpoint> parse_endpoint(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return Status(ErrorCode::kInvalidArgument, cat("address \"", address, "\" is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = address.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("address \"", address, "\": port \"", port_text, "\" is not 0-65535"));
  }
  asio::error_code aec;
  const asio::ip::address ip = asio::ip::make_address(host, aec);
  if (aec) {
    return Status(ErrorCode::kInvalidArgument,
                  cat("address \"", address, "\": host \"", host,
                      "\" is not an IP address (names are not resolved)"));
  }
  return tcp::endpoint(ip, static_cast<unsigned short>(port));
}

std::string to_text(const tcp::endpoint& ep) {
  std::ostringstream out;
  out << ep;
  return out.str();
}

}  // namespace skiff::transport_detail
