// Node ids in peer certificates (cert_identity.h).
#include "cert_identity.h"

#include <openssl/x509v3.h>

#include <memory>

namespace skiff::transport_detail {

std::optional<NodeId> node_id_of_uri(std::string_view uri) {
  constexpr std::string_view kPrefix = "skiff://node/";
  if (uri.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  const std::string_view digits = uri.substr(kPrefix.size());
  if (digits.empty() || digits.size() > 20 || digits[0] == '0') {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return std::nullopt;
    }
    v = v * 10 + d;
  }
  return NodeId{v};
}

std::vector<NodeId> certificate_node_ids(SSL* ssl) {
  std::vector<NodeId> out;
  if (ssl == nullptr) {
    return out;
  }
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(ssl), &X509_free);
  if (!cert) {
    return out;
  }
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    return out;
  }
  for (int k = 0; k < sk_GENERAL_NAME_num(names); ++k) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, k);
    if (name->type != GEN_URI) {
      continue;
    }
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    const std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                                static_cast<std::size_t>(ASN1_STRING_length(uri)));
    if (std::optional<NodeId> id = node_id_of_uri(text)) {
      out.push_back(*id);
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace skiff::transport_detail
