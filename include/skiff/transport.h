// The transport adapter contract: how messages leave a node and arrive at it. Adapters (the
// in-memory transport for tests, the asio TCP transport, a user's own over gRPC or a message
// bus) implement Transport and check themselves with the public conformance suite
// (include/skiff/testing/transport_conformance.h).
//
// The promises, in short: send() never blocks and is thread-safe; delivery is best effort but
// in order per peer (except that a Snapshot message may be overtaken by messages sent after it
// while it streams: Raft tolerates reordering, and a long transfer must not hold back
// heartbeats); whatever cannot be delivered is reported (on_unreachable, and
// on_snapshot_status(false) for a snapshot) so the core probes again instead of waiting
// forever; every snapshot report names the index of the snapshot the message carried, so a
// late report on an older snapshot cannot end the wait on a newer one; after stop() returns,
// the handler is never called again.
#pragma once

#include <string>

#include "skiff/message.h"
#include "skiff/result.h"
#include "skiff/types.h"

namespace skiff {

/// What a transport hands to its node. Called from the transport's own threads: implement it
/// by queueing the input for the thread that drives the core, never by blocking.
class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  /// A message from a peer, decoded (the core still validates it: RawNode::step).
  virtual void on_message(Message m) = 0;
  /// A message to `peer` was dropped (no address, connection down, queue full): tell the
  /// core (RawNode::report_unreachable) so the leader probes it again.
  virtual void on_unreachable(NodeId peer) = 0;
  /// The Snapshot message to `peer` carrying the snapshot at index `snapshot`
  /// (message.snapshot.meta.last.index) was delivered whole (true) or not (false): tell the
  /// core (RawNode::report_snapshot(peer, snapshot, ok)), which ignores a report on an older one.
  virtual void on_snapshot_status(NodeId peer, Index snapshot, bool ok) = 0;
};

/// One node's endpoint.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Starts receiving and delivering to `handler`, which must outlive stop(). Errors: the
  /// adapter's (e.g. kUnavailable for an address in use); kFailedPrecondition if started.
  virtual Status start(TransportHandler& handler) = 0;
  /// Stops sending and receiving; no handler call happens after it returns. Queued messages
  /// are dropped. Idempotent.
  virtual void stop() = 0;
  /// Sends `m` to m.to. Never blocks; callable from any thread. In order per destination
  /// (a Snapshot message may be overtaken, see above).
  virtual void send(Message m) = 0;
  /// Where peer `id` listens; the address means what the adapter says ("host:port" for TCP).
  /// Replaces an earlier address. kInvalidArgument for an address the adapter cannot use.
  virtual Status add_peer(NodeId id, const std::string& address) = 0;
  /// Forgets peer `id`; later messages to it are reported unreachable. A peer added again
  /// afterwards may come with another storage incarnation (see set_incarnation).
  virtual void remove_peer(NodeId id) = 0;
  /// This node's storage incarnation (Storage::incarnation), announced to peers; the node
  /// runtime sets it before start(). An adapter that can should refuse a peer whose
  /// incarnation changed while it stayed a member (its data was lost: it must be removed and
  /// added back). The default ignores it.
  virtual void set_incarnation(std::uint64_t incarnation) { (void)incarnation; }
  /// The storage incarnation peer `id` announced, or 0 (not met yet, or not kept).
  virtual std::uint64_t peer_incarnation(NodeId id) const {
    (void)id;
    return 0;
  }
  /// The incarnation the cluster recorded for member `id` (the node runtime replicates a
  /// record of them): from now on a peer `id` announcing another one is refused, and open
  /// connections with another one are closed. The default ignores it.
  virtual void expect_incarnation(NodeId id, std::uint64_t incarnation) {
    (void)id;
    (void)incarnation;
  }
  /// The cluster this endpoint belongs to and the node it speaks for, as configured; the
  /// default records neither.
  virtual AdapterIdentity identity() const { return {}; }
};

}  // namespace skiff
