// The transport's option checks and TLS context (options.h).
#include "options.h"

#include <chrono>
#include <string>

#include "text.h"

namespace skiff::transport_detail {
namespace {

Status invalid(const std::string& why) {
  return Status(ErrorCode::kInvalidArgument, "asio transport: " + why);
}

}  // namespace

Status check_options(const AsioTransportOptions& o) {
  if (o.cluster_id == 0) {
    return invalid("cluster_id must not be 0");
  }
  if (o.self == kNoNode) {
    return invalid("self must be a node id (not 0)");
  }
  if (o.max_frame_bytes < 4096) {
    return invalid("max_frame_bytes must be at least 4096");
  }
  if (o.snapshot_chunk_bytes == 0 || o.snapshot_chunk_bytes > o.max_frame_bytes - 1024) {
    return invalid("snapshot_chunk_bytes must be 1..max_frame_bytes - 1024");
  }
  if (o.queue_messages == 0 || o.queue_bytes == 0 || o.max_write_bytes == 0 ||
      o.max_connections == 0) {
    return invalid("queue_messages, queue_bytes, max_write_bytes and max_connections must be > 0");
  }
  using std::chrono::milliseconds;
  for (milliseconds t : {o.connect_timeout, o.handshake_timeout, o.idle_timeout, o.write_timeout,
                         o.backoff_initial, o.backoff_max}) {
    if (t <= milliseconds(0)) {
      return invalid("timeouts and backoff delays must be positive");
    }
  }
  if (!o.cluster_secret.empty() && o.cluster_secret.size() < 16) {
    return invalid(
        cat("cluster_secret must be at least 16 bytes (it has ", o.cluster_secret.size(), ")"));
  }
  if (o.warning_interval < milliseconds(0)) {
    return invalid("warning_interval must not be negative");
  }
  if (o.backoff_max < o.backoff_initial) {
    return invalid("backoff_max must be at least backoff_initial");
  }
  return Status();
}

Status configure_tls(asio::ssl::context& ctx, const AsioTlsOptions& t) {
  asio::error_code ec;
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1,
                  ec);
  if (ctx.load_verify_file(t.ca_file, ec); ec) {
    return invalid(cat("TLS CA file \"", t.ca_file, "\": ", ec.message()));
  }
  if (ctx.use_certificate_chain_file(t.cert_file, ec); ec) {
    return invalid(cat("TLS certificate file \"", t.cert_file, "\": ", ec.message()));
  }
  if (ctx.use_private_key_file(t.key_file, asio::ssl::context::pem, ec); ec) {
    return invalid(cat("TLS key file \"", t.key_file, "\": ", ec.message()));
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return invalid(cat("TLS key file \"", t.key_file, "\" does not match the certificate \"",
                       t.cert_file, "\""));
  }
  ctx.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
  return Status();
}

}  // namespace skiff::transport_detail
