// The shared cluster secret of the TCP transport (internal to skiff::transport_asio): nonces
// and the HMAC-SHA256 proofs of the mutual challenge-response that authenticates a handshake
// without TLS (docs/wire_format.md, "Trust model").
//
// Each side proves it knows the secret by a MAC over what identifies this one handshake:
//
//   proof = HMAC-SHA256(secret, role || cluster_id || opener_id || acceptor_id
//                               || opener_nonce || acceptor_nonce)
//
// with role "skiff-v1 acceptor" or "skiff-v1 opener" (so one side's proof is never the
// other's), the integers as 8 little-endian bytes and the nonces as 32 bytes each. The
// acceptor proves first over the opener's fresh nonce, the opener then over the acceptor's:
// neither proof can be replayed on another connection, and a peer that does not know the
// secret learns nothing it can use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "skiff/types.h"

namespace skiff::transport_detail {

/// Bytes in a nonce and in a proof.
inline constexpr std::size_t kNonceBytes = 32;
inline constexpr std::size_t kProofBytes = 32;

/// Which side of a connection computes a proof.
enum class AuthRole : std::uint8_t { kOpener, kAcceptor };

/// What a handshake's proofs are bound to.
struct AuthContext {
  std::uint64_t cluster_id = 0;
  NodeId opener;
  NodeId acceptor;
  std::string opener_nonce;
  std::string acceptor_nonce;
};

/// A secret shared by the members of a cluster. Holds a copy of the key; copyable.
class PeerSecret {
 public:
  explicit PeerSecret(std::string key) : key_(std::move(key)) {}

  /// kNonceBytes from the system's CSPRNG (OpenSSL RAND_bytes); aborts if it fails, since a
  /// predictable nonce would let proofs be replayed.
  static std::string nonce();
  /// The proof `role` sends for `ctx`.
  std::string proof(AuthRole role, const AuthContext& ctx) const;
  /// Whether `proof` is the one `role` should have sent for `ctx`; constant time in its
  /// contents (CRYPTO_memcmp).
  bool verify(AuthRole role, const AuthContext& ctx, std::string_view proof) const;

 private:
  std::string key_;
};

}  // namespace skiff::transport_detail
