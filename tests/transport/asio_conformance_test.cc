// AsioTransport against the transport conformance suite, over loopback TCP, plain and with
// mutual TLS (certificates made for the run by tests/support/net/tls_certs.h).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "skiff/testing/transport_conformance.h"
#include "skiff/transport/asio_transport.h"

namespace skiff {
namespace {

class AsioHarness final : public testing::TransportHarness {
 public:
  std::unique_ptr<Transport> create(NodeId id) override {
    AsioTransportOptions o;
    o.cluster_id = 77;
    o.self = id;
    o.listen_address = "127.0.0.1:0";
    o.backoff_initial = std::chrono::milliseconds(10);
    o.backoff_max = std::chrono::milliseconds(200);
    auto t = AsioTransport::create(std::move(o));
    EXPECT_TRUE(t.ok()) << t.status().to_string();
    if (!t.ok()) {
      return nullptr;
    }
    addresses_[id] = (*t)->listen_address();
    return std::move(*t);
  }
  std::string address(NodeId id) override { return addresses_[id]; }

 private:
  std::map<NodeId, std::string> addresses_;
};

const bool registered = testing::register_transport_conformance(
    "AsioTransport", [] { return std::make_unique<AsioHarness>(); });

}  // namespace
}  // namespace skiff
