// Socket plumbing of the TCP transport (internal to skiff::transport_asio): a socket that is
// plain or inside TLS behind one interface, and "host:port" parsing.
#pragma once

// gcc 12 reports a "potential null pointer dereference" inside asio's scheduler when it is
// inlined; silenced for asio's code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <asio.hpp>
#include <asio/ssl.hpp>
#pragma GCC diagnostic pop
#include <string>
#include <utility>
#include <variant>

#include "skiff/result.h"

namespace skiff::transport_detail {

using asio::ip::tcp;

/// "host:port" with an IP address host ("[::1]:7000" for IPv6); kInvalidArgument otherwise.
Result<tcp::endpoint> parse_endpoint(const std::string& address);
/// "127.0.0.1:7000".
std::string to_text(const tcp::endpoint& ep);

// A socket, plain or inside TLS.
class Stream {
 public:
  using Tls = asio::ssl::stream<tcp::socket>;

  explicit Stream(tcp::socket s) : v_(std::move(s)) {}
  Stream(tcp::socket s, asio::ssl::context& ctx) : v_(std::in_place_type<Tls>, std::move(s), ctx) {}

  tcp::socket& socket() {
    if (auto* tls = std::get_if<Tls>(&v_)) {
      return tls->next_layer();
    }
    return std::get<tcp::socket>(v_);
  }
  bool tls() const { return std::holds_alternative<Tls>(v_); }
  /// The OpenSSL connection (after the TLS handshake: the peer's certificate); null if plain.
  SSL* ssl() {
    auto* tls = std::get_if<Tls>(&v_);
    return tls != nullptr ? tls->native_handle() : nullptr;
  }

  template <typename Handler>
  void handshake(asio::ssl::stream_base::handshake_type type, Handler&& h) {
    std::get<Tls>(v_).async_handshake(type, std::forward<Handler>(h));
  }
  template <typename Buffers, typename Handler>
  void write(const Buffers& b, Handler&& h) {
    std::visit([&](auto& s) { asio::async_write(s, b, std::forward<Handler>(h)); }, v_);
  }
  template <typename Handler>
  void read_some(asio::mutable_buffer b, Handler&& h) {
    std::visit([&](auto& s) { s.async_read_some(b, std::forward<Handler>(h)); }, v_);
  }
  void close() {
    asio::error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

 private:
  std::variant<tcp::socket, Tls> v_;
};

}  // namespace skiff::transport_detail
