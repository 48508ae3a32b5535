// The transport conformance suite: GoogleTest cases that check a Transport adapter against
// the contract in skiff/transport.h — delivery of every message type intact, order per peer,
// reports for what cannot be delivered, snapshot outcomes (naming the snapshot sent), many
// sending threads, silence after stop(). Register it like the storage suite:
//
//   class MyHarness final : public skiff::testing::TransportHarness { ... };
//   static const bool registered = skiff::testing::register_transport_conformance(
//       "MyTransport", [] { return std::make_unique<MyHarness>(); });
//
// and link skiff::transport_conformance. Each case gets a fresh harness and waits at most
// ten seconds for anything it expects. Its handler is a RecordingHandler
// (skiff/testing/recording_handler.h), which your own transport tests can use too.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "skiff/transport.h"
#include "skiff/types.h"

namespace skiff::testing {

/// Makes the endpoints under test for one conformance case.
class TransportHarness {
 public:
  virtual ~TransportHarness() = default;
  /// A new, unstarted endpoint for node `id`, with an address of its own.
  virtual std::unique_ptr<Transport> create(NodeId id) = 0;
  /// The address the endpoint created for `id` listens on (for other endpoints' add_peer).
  virtual std::string address(NodeId id) = 0;
};

/// Creates a harness for each case.
using TransportHarnessFactory = std::function<std::unique_ptr<TransportHarness>()>;

/// Registers every case with GoogleTest under the suite name `suite`. Returns true.
bool register_transport_conformance(const std::string& suite, TransportHarnessFactory factory);

}  // namespace skiff::testing
