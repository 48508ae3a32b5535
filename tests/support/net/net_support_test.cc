// Tests of the loopback network test support: TestPki's certificates in real TLS handshakes
// (accepted where they should be, rejected for the right reason where not), and each TcpProxy
// fault against an echo server. Every wait has a deadline, so a broken helper fails, not hangs.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
// asio's scheduler trips GCC's -Wnull-dereference, a warning issued after inlining and so
// not silenced for system headers; scoped here so our own code keeps the check.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <asio.hpp>
#include <asio/ssl.hpp>
#pragma GCC diagnostic pop

#include "support/net/tcp_proxy.h"
#include "support/net/tls_certs.h"
#include "support/temp_dir.h"

namespace skiff::test {
namespace {

using asio::ip::tcp;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A bound for things that take a millisecond when they work.
constexpr milliseconds kTimeout{3000};

// "127.0.0.1:PORT" as the proxy and the echo server print it.
tcp::endpoint parse_endpoint(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  return {asio::ip::make_address(host_port.substr(0, colon)),
          static_cast<unsigned short>(std::stoi(host_port.substr(colon + 1)))};
}

// Runs `io` on this thread until done() or the deadline; false if the deadline came first.
bool run_until(asio::io_context& io, const std::function<bool()>& done, milliseconds limit) {
  io.restart();
  auto deadline = Clock::now() + limit;
  while (!done()) {
    if (io.run_one_until(deadline) == 0) {
      break;  // deadline passed, or nothing left to run
    }
  }
  return done();
}

// Polls a condition another thread makes true; bounded, for counters of the servers.
bool eventually(const std::function<bool()>& condition, milliseconds limit = kTimeout) {
  auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

// The test's end of one TCP connection, driven on the test thread; every operation has a
// deadline and reports asio::error::timed_out when it passes.
class Client {
 public:
  explicit Client(const std::string& host_port) {
    std::optional<std::error_code> result;
    socket_.async_connect(parse_endpoint(host_port),
                          [&](const std::error_code& ec) { result = ec; });
    connect_error_ = finish(result, kTimeout);
    std::error_code ignored;
    if (!connect_error_) {
      socket_.set_option(tcp::no_delay(true), ignored);
    }
  }

  const std::error_code& connect_error() const { return connect_error_; }

  // Writes all of `data`, or as much as the deadline allows; `written` gets the count.
  std::error_code write(const std::string& data, milliseconds limit = kTimeout,
                        std::size_t* written = nullptr) {
    std::optional<std::error_code> result;
    std::size_t n = 0;
    asio::async_write(socket_, asio::buffer(data), [&](const std::error_code& ec, std::size_t k) {
      result = ec;
      n = k;
    });
    std::error_code ec = finish(result, limit);
    if (written != nullptr) {
      *written = n;
    }
    return ec;
  }

  // Reads exactly `n` bytes (fewer if the connection ends or the deadline passes).
  std::error_code read(std::size_t n, std::string* out, milliseconds limit = kTimeout) {
    out->assign(n, '\0');
    std::optional<std::error_code> result;
    std::size_t got = 0;
    asio::async_read(socket_, asio::buffer(*out), [&](const std::error_code& ec, std::size_t k) {
      result = ec;
      got = k;
    });
    std::error_code ec = finish(result, limit);
    out->resize(got);
    return ec;
  }

  // Writes `data` while reading as many bytes back, so large echoes cannot deadlock on full
  // buffers; returns the first error.
  std::error_code round_trip(const std::string& data, std::string* echoed,
                             milliseconds limit = kTimeout) {
    echoed->assign(data.size(), '\0');
    std::optional<std::error_code> wrote;
    std::optional<std::error_code> read;
    std::size_t got = 0;
    asio::async_write(socket_, asio::buffer(data),
                      [&](const std::error_code& ec, std::size_t) { wrote = ec; });
    asio::async_read(socket_, asio::buffer(*echoed), [&](const std::error_code& ec, std::size_t k) {
      read = ec;
      got = k;
    });
    auto both = [&] { return wrote.has_value() && read.has_value(); };
    bool done = run_until(io_, both, limit);
    if (!done) {
      socket_.cancel();
      run_until(io_, both, kTimeout);
    }
    echoed->resize(got);
    if (!done) {
      return asio::error::timed_out;
    }
    return *wrote ? *wrote : *read;
  }

  // Reads until the peer ends the connection; returns how it ended: eof for a FIN,
  // connection_reset for a RST, timed_out if it did not end by the deadline.
  std::error_code read_to_end(std::string* out, milliseconds limit = kTimeout) {
    out->clear();
    auto deadline = Clock::now() + limit;
    std::array<char, 4096> buffer{};
    while (true) {
      std::optional<std::error_code> result;
      std::size_t n = 0;
      socket_.async_read_some(asio::buffer(buffer), [&](const std::error_code& ec, std::size_t k) {
        result = ec;
        n = k;
      });
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      std::error_code ec = finish(result, std::max(left, milliseconds(0)));
      out->append(buffer.data(), n);
      if (ec) {
        return ec;
      }
    }
  }

  // Half-closes: the peer reads end-of-stream, and may still answer.
  void shutdown_send() {
    std::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
  }

 private:
  // Runs the one pending operation to completion or the deadline; on timeout cancels it and
  // waits for the cancellation, so no handler outlives the locals it writes to.
  std::error_code finish(std::optional<std::error_code>& result, milliseconds limit) {
    auto done = [&] { return result.has_value(); };
    if (run_until(io_, done, limit)) {
      return *result;
    }
    socket_.cancel();
    run_until(io_, done, kTimeout);
    return asio::error::timed_out;
  }

  asio::io_context io_;
  tcp::socket socket_{io_};
  std::error_code connect_error_;
};

// A TCP server on 127.0.0.1 with its own io thread that echoes what it reads back, or as a
// sink discards it; counts bytes and connections so tests can see what got through the proxy.
class EchoServer {
 public:
  explicit EchoServer(bool echo = true) : echo_(echo) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.bind(endpoint);
    acceptor_.listen();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoServer() {
    asio::post(io_, [this] {
      std::error_code ignored;
      acceptor_.close(ignored);
      for (const auto& session : sessions_) {
        session->socket.close(ignored);
      }
    });
    thread_.join();  // run() returns once the aborted operations have completed
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::size_t received() const { return received_.load(); }
  std::size_t accepted() const { return accepted_.load(); }
  // Connections whose client side ended (end-of-stream or error).
  std::size_t ended() const { return ended_.load(); }

 private:
  // One accepted connection and its read buffer, owned by its pending handlers.
  struct Session {
    explicit Session(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::array<char, 64 * 1024> buffer{};
  };

  // Keeps one accept pending until the destructor closes the acceptor.
  void accept() {
    acceptor_.async_accept([this](const std::error_code& ec, tcp::socket socket) {
      if (ec) {
        return;
      }
      ++accepted_;
      auto session = std::make_shared<Session>(std::move(socket));
      sessions_.insert(session);
      read(session);
      accept();
    });
  }

  // Reads, echoes (or drops), repeats; any error ends the session.
  void read(const std::shared_ptr<Session>& session) {
    session->socket.async_read_some(
        asio::buffer(session->buffer), [this, session](const std::error_code& ec, std::size_t n) {
          received_ += n;
          if (ec) {
            end(session);
          } else if (echo_) {
            asio::async_write(session->socket, asio::buffer(session->buffer.data(), n),
                              [this, session](const std::error_code& write_ec, std::size_t) {
                                if (write_ec) {
                                  end(session);
                                } else {
                                  read(session);
                                }
                              });
          } else {
            read(session);
          }
        });
  }

  // Counts a session's end once, whichever handler sees it first.
  void end(const std::shared_ptr<Session>& session) {
    if (sessions_.erase(session) == 0) {
      return;
    }
    ++ended_;
    std::error_code ignored;
    session->socket.close(ignored);
  }

  const bool echo_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::set<std::shared_ptr<Session>> sessions_;  // io thread only
  std::atomic<std::size_t> received_{0};
  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> ended_{0};
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// TestPki: the certificates themselves.

// Owns a certificate read back from its PEM file.
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
using CertPtr = std::unique_ptr<X509, X509Free>;

// Null when the file is missing or not PEM, which the tests assert against.
CertPtr load_cert(const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) {
    return nullptr;
  }
  CertPtr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

// True when the certificate has the extension and marks it critical.
bool extension_is_critical(X509* cert, int nid) {
  int index = X509_get_ext_by_NID(cert, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

TEST(NetSupportPki, CaAndLeafCarryTheFieldsTlsChecks) {
  TempDir dir("skiff-pki");
  TestPki pki(dir.path() + "/pki");
  CertFiles node = pki.issue("node1");
  EXPECT_EQ(node.ca_file, pki.ca_file());
  CertPtr ca = load_cert(pki.ca_file());
  CertPtr leaf = load_cert(node.cert_file);
  ASSERT_TRUE(ca && leaf);

  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(extension_is_critical(ca.get(), NID_basic_constraints));
  EXPECT_NE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN, 0u);

  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "node9.example", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf.get())), EVP_PKEY_EC);
  EXPECT_EQ(X509_verify(leaf.get(), X509_get0_pubkey(ca.get())), 1);  // the CA signed it
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(leaf.get())), 0);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(leaf.get())), 0);

  CertPtr again = load_cert(pki.issue("node1").cert_file);  // same name: a new file, new serial
  ASSERT_TRUE(again);
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(leaf.get()), X509_get0_serialNumber(again.get())), 0);

  CertPtr old = load_cert(pki.expired("old").cert_file);
  ASSERT_TRUE(old);
  EXPECT_LT(X509_cmp_current_time(X509_get0_notAfter(old.get())), 0);

  CertFiles other = pki.from_other_ca("rogue");
  EXPECT_NE(other.ca_file, pki.ca_file());
  CertPtr rogue = load_cert(other.cert_file);
  CertPtr other_ca = load_cert(other.ca_file);
  ASSERT_TRUE(rogue && other_ca);
  EXPECT_EQ(X509_verify(rogue.get(), X509_get0_pubkey(other_ca.get())), 1);
  EXPECT_NE(X509_verify(rogue.get(), X509_get0_pubkey(ca.get())), 1);
}

TEST(NetSupportPki, FailureThrowsWithOpenSslsReason) {
  TempDir dir("skiff-pki");
  std::filesystem::create_directories(dir.path() + "/ca.crt");  // where the CA file must go
  try {
    TestPki pki(dir.path());
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("TestPki: opening " + dir.path() + "/ca.crt: "), std::string::npos) << what;
  }
}

// ---------------------------------------------------------------------------------------------
// TestPki certificates in TLS handshakes over 127.0.0.1.

// What happened on each side of one TLS connection attempt.
struct TlsOutcome {
  std::error_code server_handshake;
  std::error_code client_handshake;
  std::error_code client_exchange;  // writing "ping" and reading "pong" after the handshake
  long server_verify = X509_V_OK;   // SSL_get_verify_result: why a peer's chain was rejected
  long client_verify = X509_V_OK;
  std::string server_got;
  std::string client_got;
  bool finished = false;  // both sides succeeded or failed before the deadline
};

// A context that demands and checks the peer's certificate, as the transport's will.
asio::ssl::context make_context(asio::ssl::context::method method, const std::string& ca_file,
                                const CertFiles* own) {
  asio::ssl::context context(method);
  context.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  context.load_verify_file(ca_file);
  if (own != nullptr) {
    context.use_certificate_chain_file(own->cert_file);
    context.use_private_key_file(own->key_file, asio::ssl::context::pem);
  }
  return context;
}

// Connects a client to a server over 127.0.0.1 on one io_context: handshake, then the client
// sends "ping" and the server answers "pong". A side whose handshake fails closes its socket.
TlsOutcome tls_exchange(asio::ssl::context& server_context, asio::ssl::context& client_context) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ssl::stream<tcp::socket> server(io, server_context);
  asio::ssl::stream<tcp::socket> client(io, client_context);
  static const std::string kPing = "ping";
  static const std::string kPong = "pong";
  std::string server_buffer(4, '\0');
  std::string client_buffer(4, '\0');
  TlsOutcome out;
  bool server_done = false;
  bool client_done = false;

  acceptor.async_accept(server.next_layer(), [&](const std::error_code& ec) {
    if (ec) {
      out.server_handshake = ec;
      server_done = true;
      return;
    }
    server.async_handshake(asio::ssl::stream_base::server, [&](const std::error_code& hs) {
      out.server_handshake = hs;
      out.server_verify = SSL_get_verify_result(server.native_handle());
      if (hs) {
        std::error_code ignored;
        server.lowest_layer().close(ignored);
        server_done = true;
        return;
      }
      asio::async_read(
          server, asio::buffer(server_buffer), [&](const std::error_code& rd, std::size_t n) {
            out.server_got = server_buffer.substr(0, n);
            if (rd) {
              server_done = true;
              return;
            }
            asio::async_write(server, asio::buffer(kPong),
                              [&](const std::error_code&, std::size_t) { server_done = true; });
          });
    });
  });

  client.next_layer().async_connect(acceptor.local_endpoint(), [&](const std::error_code& ec) {
    if (ec) {
      out.client_handshake = ec;
      client_done = true;
      return;
    }
    client.async_handshake(asio::ssl::stream_base::client, [&](const std::error_code& hs) {
      out.client_handshake = hs;
      out.client_verify = SSL_get_verify_result(client.native_handle());
      if (hs) {
        std::error_code ignored;
        client.lowest_layer().close(ignored);
        client_done = true;
        return;
      }
      asio::async_write(client, asio::buffer(kPing), [&](const std::error_code& wr, std::size_t) {
        if (wr) {
          out.client_exchange = wr;
          client_done = true;
          return;
        }
        asio::async_read(client, asio::buffer(client_buffer),
                         [&](const std::error_code& rd, std::size_t n) {
                           out.client_exchange = rd;
                           out.client_got = client_buffer.substr(0, n);
                           client_done = true;
                         });
      });
    });
  });

  out.finished = run_until(
      io, [&] { return server_done && client_done; }, milliseconds(5000));
  return out;
}

// Both ends present certificates and trust `ca_file`s as given.
TlsOutcome exchange(const CertFiles& server, const CertFiles& client) {
  asio::ssl::context server_context =
      make_context(asio::ssl::context::tls_server, server.ca_file, &server);
  asio::ssl::context client_context =
      make_context(asio::ssl::context::tls_client, client.ca_file, &client);
  return tls_exchange(server_context, client_context);
}

// A fresh CA per test, so no test depends on another's files.
class NetSupportTls : public ::testing::Test {
 protected:
  TempDir dir_{"skiff-tls"};
  TestPki pki_{dir_.path()};
};

TEST_F(NetSupportTls, IssuedCertsHandshakeBothWaysAndCarryBytes) {
  TlsOutcome out = exchange(pki_.issue("node1"), pki_.issue("node2"));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.server_handshake) << out.server_handshake.message();
  EXPECT_FALSE(out.client_handshake) << out.client_handshake.message();
  EXPECT_FALSE(out.client_exchange) << out.client_exchange.message();
  EXPECT_EQ(out.server_verify, X509_V_OK);
  EXPECT_EQ(out.client_verify, X509_V_OK);
  EXPECT_EQ(out.server_got, "ping");
  EXPECT_EQ(out.client_got, "pong");
}

TEST_F(NetSupportTls, OtherCaCertsWorkWithinTheirOwnCa) {
  // The rejections below are about trust, not broken certificates.
  TlsOutcome out = exchange(pki_.from_other_ca("a"), pki_.from_other_ca("b"));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.server_handshake) << out.server_handshake.message();
  EXPECT_FALSE(out.client_handshake) << out.client_handshake.message();
  EXPECT_EQ(out.client_got, "pong");
}

// A bad certificate and the verify error it must produce.
struct BadCert {
  const char* name;
  std::function<CertFiles(TestPki&)> make;
  long verify_error;
};

// Every kind of certificate TestPki makes that a cluster member must refuse.
std::vector<BadCert> bad_certs() {
  return {
      {"from_other_ca", [](TestPki& pki) { return pki.from_other_ca("rogue"); },
       X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"self_signed", [](TestPki& pki) { return pki.self_signed("rogue"); },
       X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
      {"expired", [](TestPki& pki) { return pki.expired("old"); }, X509_V_ERR_CERT_HAS_EXPIRED},
  };
}

TEST_F(NetSupportTls, ClientRejectsABadServerCertificate) {
  for (const BadCert& bad : bad_certs()) {
    SCOPED_TRACE(bad.name);
    CertFiles server = bad.make(pki_);
    server.ca_file = pki_.ca_file();  // the server itself would trust the cluster's client
    TlsOutcome out = exchange(server, pki_.issue("client"));
    ASSERT_TRUE(out.finished);
    EXPECT_TRUE(out.client_handshake);
    EXPECT_EQ(out.client_verify, bad.verify_error)
        << X509_verify_cert_error_string(out.client_verify);
    EXPECT_EQ(out.server_handshake.category(), asio::error::get_ssl_category())
        << out.server_handshake.message();  // the client's alert, not a dropped socket
    EXPECT_EQ(out.server_got, "");
    EXPECT_EQ(out.client_got, "");
  }
}

TEST_F(NetSupportTls, ServerRejectsABadClientCertificate) {
  for (const BadCert& bad : bad_certs()) {
    SCOPED_TRACE(bad.name);
    CertFiles client = bad.make(pki_);
    client.ca_file = pki_.ca_file();  // the client trusts the real server
    TlsOutcome out = exchange(pki_.issue("server"), client);
    ASSERT_TRUE(out.finished);
    EXPECT_TRUE(out.server_handshake);
    EXPECT_EQ(out.server_verify, bad.verify_error)
        << X509_verify_cert_error_string(out.server_verify);
    // Under TLS 1.3 the client's handshake completes before the server has checked the
    // client's certificate; the client learns of the rejection on its first read.
    EXPECT_TRUE(out.client_handshake || out.client_exchange);
    EXPECT_EQ(out.server_got, "");
    EXPECT_EQ(out.client_got, "");
  }
}

TEST_F(NetSupportTls, ServerRejectsAClientWithoutCertificate) {
  CertFiles server = pki_.issue("server");
  asio::ssl::context server_context =
      make_context(asio::ssl::context::tls_server, server.ca_file, &server);
  asio::ssl::context client_context =
      make_context(asio::ssl::context::tls_client, pki_.ca_file(), nullptr);
  TlsOutcome out = tls_exchange(server_context, client_context);
  ASSERT_TRUE(out.finished);
  EXPECT_TRUE(out.server_handshake);
  EXPECT_NE(out.server_handshake.message().find("peer did not return a certificate"),
            std::string::npos)
      << out.server_handshake.message();
  EXPECT_TRUE(out.client_handshake || out.client_exchange);
  EXPECT_EQ(out.client_got, "");
}

TEST_F(NetSupportTls, LeafNamesLoopbackForHostNameChecks) {
  CertFiles server = pki_.issue("server");
  CertFiles client = pki_.issue("client");
  for (const char* host : {"127.0.0.1", "localhost", "node9.example"}) {
    SCOPED_TRACE(host);
    asio::ssl::context server_context =
        make_context(asio::ssl::context::tls_server, server.ca_file, &server);
    asio::ssl::context client_context =
        make_context(asio::ssl::context::tls_client, client.ca_file, &client);
    client_context.set_verify_callback(asio::ssl::host_name_verification(host));
    TlsOutcome out = tls_exchange(server_context, client_context);
    ASSERT_TRUE(out.finished);
    bool should_match = std::string(host) != "node9.example";
    EXPECT_EQ(!out.client_handshake, should_match) << out.client_handshake.message();
    EXPECT_EQ(out.client_verify == X509_V_OK, should_match);
    EXPECT_EQ(out.client_got == "pong", should_match);
  }
}

// ---------------------------------------------------------------------------------------------
// TcpProxy.

TEST(NetSupportProxy, ForwardsBothWays) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  EXPECT_EQ(proxy.address().rfind("127.0.0.1:", 0), 0u);
  Client client(proxy.address());
  ASSERT_FALSE(client.connect_error()) << client.connect_error().message();
  std::string echoed;
  ASSERT_FALSE(client.round_trip("hello", &echoed));
  EXPECT_EQ(echoed, "hello");

  std::string big(4 * 1024 * 1024, '\0');  // several reads, more than the proxy queues
  for (std::size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<char>(i * 7 + i / 4099);
  }
  ASSERT_FALSE(client.round_trip(big, &echoed));
  EXPECT_TRUE(echoed == big);
  EXPECT_EQ(proxy.connections(), 1u);
  EXPECT_EQ(proxy.bytes_forwarded(), 5 + big.size());
  EXPECT_EQ(echo.received(), 5 + big.size());
}

TEST(NetSupportProxy, HalfCloseIsPassedOnGracefully) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  Client client(proxy.address());
  ASSERT_FALSE(client.write("bye"));
  client.shutdown_send();
  std::string rest;
  EXPECT_EQ(client.read_to_end(&rest), asio::error::eof);  // FIN, not RST
  EXPECT_EQ(rest, "bye");
  EXPECT_TRUE(eventually([&] { return echo.ended() == 1; }));
}

TEST(NetSupportProxy, DelayHoldsEachChunkInOrder) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  Client client(proxy.address());
  std::string echoed;
  ASSERT_FALSE(client.round_trip("warm", &echoed));  // connected before timing

  constexpr milliseconds kDelay{150};
  proxy.set_delay(kDelay);
  auto start = Clock::now();
  ASSERT_FALSE(client.round_trip("x", &echoed));
  auto took = Clock::now() - start;
  EXPECT_EQ(echoed, "x");
  EXPECT_GE(took, 2 * kDelay);  // held on the way there and on the way back

  for (const char* piece : {"a", "b", "c", "d"}) {
    ASSERT_FALSE(client.write(piece));
  }
  ASSERT_FALSE(client.read(4, &echoed));
  EXPECT_EQ(echoed, "abcd");

  proxy.set_delay(milliseconds(0));
  start = Clock::now();
  ASSERT_FALSE(client.round_trip("y", &echoed));
  EXPECT_LT(Clock::now() - start, kDelay);
}

TEST(NetSupportProxy, DropAfterCutsInsideAWrite) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  Client client(proxy.address());
  std::string echoed;
  ASSERT_FALSE(client.round_trip("warm", &echoed));

  proxy.drop_after(10);
  std::string frame(100, 'f');
  ASSERT_FALSE(client.write(frame));
  std::string rest;
  std::error_code end = client.read_to_end(&rest);
  EXPECT_NE(end, asio::error::timed_out);
  EXPECT_LE(rest.size(), 10u);
  ASSERT_TRUE(eventually([&] { return echo.ended() == 1; }));
  EXPECT_EQ(echo.received(), 4u + 10u);
  EXPECT_EQ(proxy.bytes_forwarded(), 4u + 10u);

  // One-shot: a new connection forwards everything.
  Client next(proxy.address());
  ASSERT_FALSE(next.round_trip(frame, &echoed));
  EXPECT_EQ(echoed, frame);
}

TEST(NetSupportProxy, DropAfterCountsAcrossChunks) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  Client client(proxy.address());
  proxy.drop_after(10);
  std::string echoed;
  ASSERT_FALSE(client.round_trip("1234", &echoed));  // each round trip is its own chunk
  ASSERT_FALSE(client.round_trip("5678", &echoed));
  ASSERT_FALSE(client.write("9abc"));
  std::string rest;
  EXPECT_NE(client.read_to_end(&rest), asio::error::timed_out);
  ASSERT_TRUE(eventually([&] { return echo.ended() == 1; }));
  EXPECT_EQ(echo.received(), 10u);
}

TEST(NetSupportProxy, CutAllEndsEveryLiveConnection) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  Client a(proxy.address());
  Client b(proxy.address());
  std::string echoed;
  ASSERT_FALSE(a.round_trip("a", &echoed));
  ASSERT_FALSE(b.round_trip("b", &echoed));

  proxy.cut_all();
  std::string rest;
  EXPECT_EQ(a.read_to_end(&rest), asio::error::connection_reset);
  EXPECT_EQ(b.read_to_end(&rest), asio::error::connection_reset);
  EXPECT_TRUE(eventually([&] { return echo.ended() == 2; }));

  Client c(proxy.address());
  ASSERT_FALSE(c.round_trip("c", &echoed));
  EXPECT_EQ(echoed, "c");
  EXPECT_EQ(proxy.connections(), 3u);
}

TEST(NetSupportProxy, RefuseEndsNewConnectionsOnly) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  Client before(proxy.address());
  std::string echoed;
  ASSERT_FALSE(before.round_trip("x", &echoed));

  proxy.set_refuse(true);
  Client refused(proxy.address());
  // The kernel completes the TCP handshake before the proxy accepts, so connect succeeds; the
  // proxy's RST can still beat the client's own check of the connect, which then fails.
  std::string rest;
  std::error_code end =
      refused.connect_error() ? refused.connect_error() : refused.read_to_end(&rest);
  EXPECT_EQ(end, asio::error::connection_reset) << end.message();
  EXPECT_EQ(proxy.connections(), 2u);
  EXPECT_EQ(echo.accepted(), 1u);
  ASSERT_FALSE(before.round_trip("y", &echoed));  // live connections are untouched

  proxy.set_refuse(false);
  Client after(proxy.address());
  ASSERT_FALSE(after.round_trip("z", &echoed));
  EXPECT_EQ(echo.accepted(), 2u);
}

TEST(NetSupportProxy, BlackholeStallsWritesUntilLifted) {
  EchoServer sink(/*echo=*/false);
  TcpProxy proxy(sink.address());
  Client client(proxy.address());
  ASSERT_FALSE(client.write("warm"));
  ASSERT_TRUE(eventually([&] { return sink.received() == 4; }));

  proxy.set_blackhole(true);
  std::string flood(64 * 1024 * 1024, 'b');
  std::size_t written = 0;
  EXPECT_EQ(client.write(flood, milliseconds(1000), &written), asio::error::timed_out);
  EXPECT_GT(written, 0u);  // the kernel buffers took some
  EXPECT_LT(written, flood.size());
  EXPECT_EQ(sink.received(), 4u);
  EXPECT_EQ(proxy.bytes_forwarded(), 4u);

  // Lifted, what the kernel buffered flows on, and nothing else.
  proxy.set_blackhole(false);
  EXPECT_TRUE(eventually([&] { return sink.received() == 4 + written; }))
      << sink.received() << " of " << 4 + written;
}

TEST(NetSupportProxy, UnreachableTargetEndsTheClient) {
  std::string dead;
  {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead = "127.0.0.1:" + std::to_string(probe.local_endpoint().port());
  }  // closed: nothing listens there now
  TcpProxy proxy(dead);
  Client client(proxy.address());
  std::string rest;  // as with refuse, the RST may arrive before the client checks its connect
  std::error_code end = client.connect_error() ? client.connect_error() : client.read_to_end(&rest);
  EXPECT_EQ(end, asio::error::connection_reset) << end.message();
  EXPECT_EQ(proxy.connections(), 1u);
}

TEST(NetSupportProxy, StopEndsConnectionsAndListening) {
  EchoServer echo;
  TcpProxy proxy(echo.address());
  Client client(proxy.address());
  std::string echoed;
  ASSERT_FALSE(client.round_trip("x", &echoed));
  std::string address = proxy.address();

  proxy.stop();
  std::string rest;
  EXPECT_NE(client.read_to_end(&rest), asio::error::timed_out);
  Client late(address);
  EXPECT_EQ(late.connect_error(), asio::error::connection_refused);
  // Controls after stop return at once; the destructor stops again harmlessly.
  proxy.cut_all();
  proxy.set_blackhole(true);
  proxy.drop_after(1);
}

}  // namespace
}  // namespace skiff::test
