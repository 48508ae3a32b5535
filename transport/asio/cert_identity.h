// Which node a TLS certificate belongs to (internal to skiff::transport_asio). A peer's
// certificate binds its node id in a URI subject alternative name
//
//   skiff://node/<id>          (id in decimal, 1..2^64-1, no sign, no leading zero)
//
// and the transport checks it against the id the peer's Hello claims (as etcd checks a peer
// certificate's names). The subject CN is not consulted (RFC 6125 §6.4.4: prefer SANs).
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string_view>
#include <vector>

#include "skiff/types.h"

namespace skiff::transport_detail {

/// The node id in one URI SAN, or nullopt when it is not of the form above.
std::optional<NodeId> node_id_of_uri(std::string_view uri);
/// Every node id the verified peer certificate of `ssl` names (none without a certificate).
std::vector<NodeId> certificate_node_ids(SSL* ssl);

}  // namespace skiff::transport_detail
