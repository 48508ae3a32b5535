// Certificates for loopback TLS tests, made with the OpenSSL API when a test runs, so no key
// material is checked in and nothing expires in the repository.
//
//   TestPki pki(dir.path());
//   CertFiles node1 = pki.issue("node1", 1);  // trusted: signed by pki.ca_file(), bound to
//                                             // node 1 (URI SAN skiff://node/1)
//   CertFiles rogue = pki.from_other_ca("x"); // valid, but under a CA the cluster does not trust
//
// Leaf certificates name 127.0.0.1 and localhost and may serve as TLS server and client.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace skiff::test {

// PEM files for one peer: the CA it trusts, its certificate and its private key.
struct CertFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// A throwaway certificate authority in a directory; every failure throws std::runtime_error
// carrying OpenSSL's error queue, since a test cannot go on without its certificates.
class TestPki {
 public:
  // Makes the CA (EC P-256, SHA-256, basicConstraints CA:TRUE) in `dir`, creating `dir`.
  explicit TestPki(const std::string& dir);
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // A leaf the CA signed, valid from an hour ago until a day from now; with a `node_id` (not
  // 0) it names that node in a URI SAN skiff://node/<id>, as the asio transport requires.
  CertFiles issue(const std::string& common_name, std::uint64_t node_id = 0);
  // A leaf signed by its own key; ca_file is still this CA, which never signed it.
  CertFiles self_signed(const std::string& common_name);
  // A leaf signed by a second CA made on first use; ca_file is that other CA, so the files
  // are a consistent peer of a different cluster.
  CertFiles from_other_ca(const std::string& common_name);
  // A leaf this CA signed whose validity ended an hour ago.
  CertFiles expired(const std::string& common_name);

  // The trusted CA's certificate.
  const std::string& ca_file() const;

 private:
  struct Authority;

  // Makes a self-signed CA, valid from an hour ago until a day from now, and writes its file.
  static std::unique_ptr<Authority> make_authority(const std::string& common_name,
                                                   const std::string& file);
  // Writes a new leaf key and certificate signed by `signer` (itself when null).
  CertFiles make_leaf(const std::string& common_name, const Authority* signer, long not_before_s,
                      long not_after_s, const std::string& ca_file, std::uint64_t node_id = 0);

  std::string dir_;
  int next_file_ = 0;  // makes every file name unique, so no call overwrites an earlier one
  std::unique_ptr<Authority> ca_;
  std::unique_ptr<Authority> other_ca_;
};

}  // namespace skiff::test
