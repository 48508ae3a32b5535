#include "support/net/tls_certs.h"

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace skiff::test {
namespace {

constexpr long kHour = 3600;
constexpr long kDay = 24 * kHour;

// One deleter for every OpenSSL type we own, so each object is freed on every path.
struct OpenSslFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, OpenSslFree>;

// Throws with OpenSSL's queued errors appended (and drains the queue, which is per thread and
// would otherwise leak into the next failure's message).
[[noreturn]] void fail(const std::string& what) {
  std::string message = "TestPki: " + what;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    message += ": ";
    message += text;
  }
  throw std::runtime_error(message);
}

// Checks an OpenSSL status (1 or a positive length on success).
void check(int status, const std::string& what) {
  if (status <= 0) {
    fail(what);
  }
}

// P-256: fast to generate, so every test can afford fresh keys.
Owned<EVP_PKEY> make_key() {
  char curve[] = "P-256";  // the variadic argument is read back as char*, not const char*
  Owned<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  if (!key) {
    fail("generating an EC P-256 key");
  }
  return key;
}

// Adds one extension in openssl.cnf syntax; the context knows issuer and subject for key ids.
void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext) {
    fail(std::string("making extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  check(X509_add_ext(cert, ext.get(), -1), std::string("adding extension ") + OBJ_nid2sn(nid));
}

// Appends one RDN (O, CN) to a certificate name.
void add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
  check(
      X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0),
      std::string("setting name field ") + field);
}

// What kind of certificate to build: a CA or a TLS leaf.
enum class Kind { kAuthority, kLeaf };

// Builds and signs a v3 certificate for `key`; a null issuer means self-signed. Serials are
// 159 random bits, so two runs never issue the same serial under the same CA name.
Owned<X509> make_cert(EVP_PKEY* key, const std::string& common_name, Kind kind, X509* issuer,
                      EVP_PKEY* issuer_key, long not_before_s, long not_after_s,
                      std::uint64_t node_id = 0) {
  Owned<X509> cert(X509_new());
  if (!cert) {
    fail("X509_new");
  }
  check(X509_set_version(cert.get(), X509_VERSION_3), "setting the version");

  Owned<BIGNUM> serial(BN_new());
  if (!serial) {
    fail("BN_new");
  }
  check(BN_rand(serial.get(), 159, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY), "drawing a serial");
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    fail("setting the serial");
  }

  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_s) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_s) == nullptr) {
    fail("setting the validity");
  }
  check(X509_set_pubkey(cert.get(), key), "setting the public key");

  X509_NAME* subject = X509_get_subject_name(cert.get());  // owned by cert
  add_name_entry(subject, "O", "skiff test");
  add_name_entry(subject, "CN", common_name);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)), "setting the issuer");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
  if (kind == Kind::kAuthority) {
    add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  } else {
    add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    std::string names = "IP:127.0.0.1,DNS:localhost";
    if (node_id != 0) {
      names += ",URI:skiff://node/" + std::to_string(node_id);
    }
    add_extension(cert.get(), &ctx, NID_subject_alt_name, names.c_str());
    add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
    // A self-signed leaf has no authority to point at.
    if (issuer != nullptr) {
      add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
    }
  }
  check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()),
        "signing " + common_name);
  return cert;
}

// Truncates or creates `path`; the BIO owns the FILE and closes it when freed.
Owned<BIO> open_for_write(const std::string& path) {
  Owned<BIO> bio(BIO_new_file(path.c_str(), "w"));
  if (!bio) {
    fail("opening " + path);
  }
  return bio;
}

// PEM, the format asio::ssl::context and the transport load.
void write_cert(const std::string& path, X509* cert) {
  Owned<BIO> bio = open_for_write(path);
  check(PEM_write_bio_X509(bio.get(), cert), "writing " + path);
  check(BIO_flush(bio.get()), "flushing " + path);
}

// Unencrypted PKCS#8 PEM: tests need no passphrase.
void write_key(const std::string& path, EVP_PKEY* key) {
  Owned<BIO> bio = open_for_write(path);
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "writing " + path);
  check(BIO_flush(bio.get()), "flushing " + path);
}

// File names carry the common name for readable failures; anything odd becomes '_'.
std::string file_stem(const std::string& common_name) {
  std::string stem = common_name.empty() ? "cert" : common_name;
  for (char& c : stem) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.';
    if (!plain) {
      c = '_';
    }
  }
  return stem;
}

}  // namespace

// A CA's key and certificate, kept in memory to sign leaves, and its PEM file.
struct TestPki::Authority {
  Owned<EVP_PKEY> key;
  Owned<X509> cert;
  std::string file;
};

TestPki::TestPki(const std::string& dir) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  ca_ = make_authority("skiff test CA", dir_ + "/ca.crt");
}

TestPki::~TestPki() = default;

CertFiles TestPki::issue(const std::string& common_name, std::uint64_t node_id) {
  return make_leaf(common_name, ca_.get(), -kHour, kDay, ca_->file, node_id);
}

CertFiles TestPki::self_signed(const std::string& common_name) {
  return make_leaf(common_name, nullptr, -kHour, kDay, ca_->file);
}

CertFiles TestPki::from_other_ca(const std::string& common_name) {
  if (!other_ca_) {
    other_ca_ = make_authority("skiff untrusted CA", dir_ + "/other-ca.crt");
  }
  return make_leaf(common_name, other_ca_.get(), -kHour, kDay, other_ca_->file);
}

CertFiles TestPki::expired(const std::string& common_name) {
  return make_leaf(common_name, ca_.get(), -2 * kDay, -kHour, ca_->file);
}

const std::string& TestPki::ca_file() const {
  return ca_->file;
}

std::unique_ptr<TestPki::Authority> TestPki::make_authority(const std::string& common_name,
                                                            const std::string& file) {
  auto authority = std::make_unique<Authority>();
  authority->key = make_key();
  authority->cert = make_cert(authority->key.get(), common_name, Kind::kAuthority, nullptr, nullptr,
                              -kHour, kDay);
  authority->file = file;
  write_cert(file, authority->cert.get());
  return authority;
}

CertFiles TestPki::make_leaf(const std::string& common_name, const Authority* signer,
                             long not_before_s, long not_after_s, const std::string& ca_file,
                             std::uint64_t node_id) {
  Owned<EVP_PKEY> key = make_key();
  Owned<X509> cert = make_cert(
      key.get(), common_name, Kind::kLeaf, signer != nullptr ? signer->cert.get() : nullptr,
      signer != nullptr ? signer->key.get() : nullptr, not_before_s, not_after_s, node_id);
  std::string stem = dir_ + "/" + file_stem(common_name) + "-" + std::to_string(next_file_++);
  CertFiles files{ca_file, stem + ".crt", stem + ".key"};
  write_cert(files.cert_file, cert.get());
  write_key(files.key_file, key.get());
  return files;
}

}  // namespace skiff::test
