// What AsioTransport::create() checks and builds from its options (internal to
// skiff::transport_asio): the option bounds, and the TLS context from the configured files.
#pragma once

#include "skiff/result.h"
#include "skiff/transport/asio_transport.h"
#include "stream.h"

namespace skiff::transport_detail {

/// kInvalidArgument naming the first option out of bounds ("asio transport: <field> ..."); OK
/// otherwise. listen_address is checked by create() (it needs the parsed endpoint).
Status check_options(const AsioTransportOptions& o);
/// Loads `t`'s CA, certificate and key into `ctx`: TLS 1.2 or later, the peer's certificate
/// required and verified. kInvalidArgument naming the file that is missing or does not fit.
Status configure_tls(asio::ssl::context& ctx, const AsioTlsOptions& t);

}  // namespace skiff::transport_detail
