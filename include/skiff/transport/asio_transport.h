// AsioTransport: the TCP transport (target skiff::transport_asio), frames of
// include/skiff/codec/codec.h over asio sockets, optionally inside mutual TLS.
//
//   skiff::AsioTransportOptions o;
//   o.cluster_id = 42;
//   o.self = skiff::NodeId{1};
//   o.listen_address = "127.0.0.1:7101";
//   auto t = skiff::AsioTransport::create(std::move(o));   // binds the address
//   if (!t.ok()) { ... t.status() says why ... }
//   (*t)->add_peer(skiff::NodeId{2}, "127.0.0.1:7102");
//   (*t)->start(handler);
//
// Connections. Each node opens one connection to each peer it sends to, when it first has
// something to send, and announces itself with Hello (cluster id, node id, format version);
// the peer answers HelloReply and refuses, with a log line naming both sides, another
// cluster, an id it does not know, its own id or another format version. Who may claim an id:
// see docs/wire_format.md, "Trust model" — without TLS or cluster_secret, anyone who reaches
// the port can; with them, a peer must prove it. Both sides also
// announce their storage incarnation (set_incarnation): the one the cluster recorded
// (expect_incarnation), else the first one seen from a peer, is kept, and a peer that comes
// with another one (it lost its data), or with none (0) once one is known, is refused in both
// directions until remove_peer() and add_peer() say it was re-added. A refusal never tells
// the peer an incarnation. To learn them early,
// the transport greets every peer (connects without sending) when it starts and when a
// peer is added. Messages flow on the
// connection the sender opened; the receiver writes back only the handshake answer and
// snapshot outcomes. A lost connection is reopened on demand after an exponential backoff
// with jitter; while backing off, messages to that peer are dropped and reported unreachable.
//
// Back-pressure. Each peer has a bounded queue (messages and bytes); queued frames go out in
// one gather write. When the queue is full or the peer is down, messages are dropped and the
// handler's on_unreachable is called (at most one report pending per peer), never unbounded
// memory. A write that does not finish within write_timeout closes the connection.
//
// Snapshots. A Snapshot message travels as its metadata followed by SnapshotChunk frames of
// snapshot_chunk_bytes, one chunk per write so other messages to the peer keep flowing (a
// snapshot may therefore be overtaken by messages sent after it). The receiver delivers it
// when the last chunk arrives and answers with SnapshotStatus; the sender reports that answer
// (or a lost connection) through on_snapshot_status, naming the snapshot's index.
//
// Bad input. A connection that sends anything wrong (garbage, a bad or oversized frame, a
// message not from its announced node or not to us, a frame out of place) is closed with a
// warning and a counter (stats()); other connections are unaffected. Until a peer is
// admitted it may send only handshake frames of at most 4 KiB. At max_connections a new
// connection evicts the oldest one still in its handshake; handshakes and idle connections
// time out; warnings about inbound connections are rate limited (warning_interval).
//
// Threads. One I/O thread per transport runs every socket and calls the handler; send() and
// the peer calls may come from any thread. Do not call stop() from inside a handler call.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "skiff/logger.h"
#include "skiff/result.h"
#include "skiff/transport.h"
#include "skiff/types.h"

namespace skiff {

/// Mutual TLS: both ends present a certificate signed by the configured CA and check the
/// other's, and the certificate must name the node it belongs to in a URI SAN
/// `skiff://node/<id>` (decimal): a peer whose Hello claims another id than its certificate
/// names is refused, in both directions. Give each cluster its own CA. TLS 1.2 or later.
struct AsioTlsOptions {
  std::string ca_file;    ///< PEM file of the CA certificate(s) peers must chain to
  std::string cert_file;  ///< PEM file of this node's certificate (chain)
  std::string key_file;   ///< PEM file of this node's private key
  /// Refuse a peer certificate that names no node id. false accepts such certificates (any
  /// holder can then claim any id, as before ids were bound); one naming other ids is refused
  /// either way.
  bool require_node_id = true;
};

/// What an AsioTransport is built from. create() checks it.
struct AsioTransportOptions {
  /// The cluster's id; connections from any other cluster are refused. Not 0.
  std::uint64_t cluster_id = 0;
  /// This node's id. Not kNoNode.
  NodeId self;
  /// "host:port" to listen on, host an IP address; port 0 picks a free port
  /// (AsioTransport::listen_address() tells which).
  std::string listen_address;
  /// Mutual TLS when set; plain TCP otherwise.
  std::optional<AsioTlsOptions> tls;
  /// A secret shared by the cluster's members (at least 16 bytes; "" for none). When set,
  /// every handshake is a mutual HMAC-SHA256 challenge-response over both sides' nonces, the
  /// cluster id and both node ids, and a peer without the same secret is refused. It
  /// authenticates the handshake only, not the bytes after it: against an attacker on the
  /// path use TLS (docs/wire_format.md, "Trust model"). Both ends must agree on having one.
  std::string cluster_secret;

  /// Largest frame body accepted or sent; a connection announcing more is closed.
  std::uint32_t max_frame_bytes = 16 << 20;
  /// Largest snapshot accepted from a peer.
  std::uint64_t max_snapshot_bytes = std::uint64_t{4} << 30;
  /// Snapshot data per SnapshotChunk frame (at most max_frame_bytes - 1 KiB).
  std::uint32_t snapshot_chunk_bytes = 1 << 20;
  /// Per-peer queue limits; beyond either, messages are dropped and reported.
  std::size_t queue_messages = 4096;
  std::size_t queue_bytes = 64 << 20;
  /// Most bytes of queued frames gathered into one write.
  std::size_t max_write_bytes = 1 << 20;
  /// Inbound connections open at once. At the limit, a new connection evicts the oldest one
  /// that has not finished its handshake (a known peer always gets in past idle strangers);
  /// when all are admitted peers, the new one is closed.
  std::size_t max_connections = 256;
  /// Warnings about inbound connections (refused, bad input, timed out, evicted, over the
  /// limit) are logged at most 5 per kind per interval; the next line counts the rest. 0
  /// logs every one.
  std::chrono::milliseconds warning_interval{1000};

  std::chrono::milliseconds connect_timeout{3000};    ///< TCP connect
  std::chrono::milliseconds handshake_timeout{5000};  ///< TLS + Hello/HelloReply
  std::chrono::milliseconds idle_timeout{60000};      ///< inbound: no frame for this long
  std::chrono::milliseconds write_timeout{10000};     ///< one write not finishing
  std::chrono::milliseconds backoff_initial{50};      ///< first reconnect delay
  std::chrono::milliseconds backoff_max{5000};        ///< reconnect delay cap

  /// Where warnings (refusals, bad input) and debug lines go; none when null.
  std::shared_ptr<Logger> logger;
};

/// Counters since create(); a snapshot read with AsioTransport::stats().
struct AsioTransportStats {
  std::uint64_t messages_sent = 0;         ///< message frames written
  std::uint64_t messages_received = 0;     ///< messages handed to the handler
  std::uint64_t bytes_sent = 0;            ///< frame bytes written, all kinds
  std::uint64_t bytes_received = 0;        ///< bytes read, all kinds
  std::uint64_t messages_dropped = 0;      ///< dropped before sending (queue full, peer down...)
  std::uint64_t connects = 0;              ///< outbound connections that completed the handshake
  std::uint64_t connect_failures = 0;      ///< outbound attempts that failed (any stage)
  std::uint64_t accepted = 0;              ///< inbound connections accepted
  std::uint64_t refused_over_limit = 0;    ///< inbound connections closed at max_connections
  std::uint64_t evicted_unadmitted = 0;    ///< pre-handshake connections closed to make room
  std::uint64_t auth_failures = 0;         ///< wrong secret proofs or certificate ids, both ways
  std::uint64_t handshakes_refused = 0;    ///< inbound Hellos refused (cluster, id, version...)
  std::uint64_t incarnations_refused = 0;  ///< peers refused for a changed incarnation
  std::uint64_t handshake_timeouts = 0;    ///< inbound connections without Hello in time
  std::uint64_t tls_failures = 0;          ///< TLS handshakes that failed, either direction
  std::uint64_t bad_input = 0;             ///< inbound connections closed for bad input
  std::uint64_t idle_closed = 0;           ///< inbound connections closed as idle
  std::uint64_t write_timeouts = 0;        ///< outbound connections closed on a stuck write
  std::uint64_t snapshots_sent = 0;        ///< snapshots the receiver confirmed
  std::uint64_t snapshots_failed = 0;      ///< snapshots reported failed to the handler
  std::uint64_t snapshots_received = 0;    ///< snapshots assembled and delivered
  std::uint64_t queued_bytes = 0;          ///< bytes queued for all peers right now
  std::uint64_t queued_bytes_peak = 0;     ///< the most ever queued at once
};

/// The TCP transport. Thread-safe; see the file comment for its behaviour.
class AsioTransport final : public Transport {
 public:
  /// Checks `options` and binds the listening address (the kernel queues connections until
  /// start()). kInvalidArgument for bad options or TLS files; kUnavailable when the address
  /// cannot be bound.
  static Result<std::unique_ptr<AsioTransport>> create(AsioTransportOptions options);
  ~AsioTransport() override;
  AsioTransport(const AsioTransport&) = delete;
  AsioTransport& operator=(const AsioTransport&) = delete;

  /// Starts the I/O thread. kFailedPrecondition when started before (even if since stopped).
  Status start(TransportHandler& handler) override;
  /// Closes every connection and joins the I/O thread; queued messages are dropped.
  void stop() override;
  /// Queues `m` for m.to (see the file comment). Never blocks.
  void send(Message m) override;
  /// `address` is "host:port" with an IP address host. Replacing a peer's address closes the
  /// connection to its old one.
  Status add_peer(NodeId id, const std::string& address) override;
  /// Closes the connection to `id`, drops what is queued for it and forgets its incarnation.
  void remove_peer(NodeId id) override;
  /// Announced from then on (call before start()).
  void set_incarnation(std::uint64_t incarnation) override;
  std::uint64_t peer_incarnation(NodeId id) const override;
  void expect_incarnation(NodeId id, std::uint64_t incarnation) override;
  AdapterIdentity identity() const override;

  /// The bound "host:port" (the chosen port when the options said 0).
  std::string listen_address() const;
  /// The counters.
  AsioTransportStats stats() const;

 private:
  struct Impl;
  explicit AsioTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff
