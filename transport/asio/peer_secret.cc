// HMAC proofs of the shared-secret handshake (peer_secret.h).
#include "peer_secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace skiff::transport_detail {
namespace {

void put_le(std::string& out, std::uint64_t v) {
  for (int k = 0; k < 8; ++k) {
    out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  }
}

// What the MAC covers, in the order of peer_secret.h. Nonces of another length are padded
// or cut to kNonceBytes, so the layout is fixed; the sessions refuse such nonces anyway.
std::string transcript(AuthRole role, const AuthContext& ctx) {
  std::string out = role == AuthRole::kAcceptor ? "skiff-v1 acceptor" : "skiff-v1 opener";
  put_le(out, ctx.cluster_id);
  put_le(out, ctx.opener.value);
  put_le(out, ctx.acceptor.value);
  for (const std::string* n : {&ctx.opener_nonce, &ctx.acceptor_nonce}) {
    std::string fixed = n->substr(0, kNonceBytes);
    fixed.resize(kNonceBytes, '\0');
    out += fixed;
  }
  return out;
}

// OpenSSL failing to make random bytes or an HMAC leaves nothing safe to do: a weak nonce or
// an unchecked proof would break the handshake's guarantee.
void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "skiff transport: %s failed\n", what);
    std::abort();
  }
}

}  // namespace

std::string PeerSecret::nonce() {
  std::string out(kNonceBytes, '\0');
  require(
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) == 1,
      "RAND_bytes");
  return out;
}

std::string PeerSecret::proof(AuthRole role, const AuthContext& ctx) const {
  const std::string data = transcript(role, ctx);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const unsigned char* ok =
      HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  require(ok != nullptr && length == kProofBytes, "HMAC-SHA256");
  return std::string(reinterpret_cast<const char*>(mac), length);
}

bool PeerSecret::verify(AuthRole role, const AuthContext& ctx, std::string_view proof) const {
  if (proof.size() != kProofBytes) {
    return false;
  }
  const std::string expected = this->proof(role, ctx);
  return CRYPTO_memcmp(expected.data(), proof.data(), kProofBytes) == 0;
}

}  // namespace skiff::transport_detail
