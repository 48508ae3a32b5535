// Counters and histograms of a node, updated from its threads without locks (internal to
// skiff::node), and their Prometheus text form.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "skiff/message.h"

#include "skiff/node/node.h"

namespace skiff::node_detail {

/// Latency histogram with fixed bucket bounds (NodeMetrics::histogram_bounds_us()).
class Histogram {
 public:
  static constexpr std::size_t kBuckets = 17;  // bounds plus +Inf
  /// Records one observation of `us` microseconds.
  void observe(std::uint64_t us);
  /// Cumulative counts, for NodeMetrics.
  NodeMetrics::Histogram read() const;

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};  // not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_us_{0};
};

/// Every counter a node keeps.
struct Metrics {
  std::atomic<std::uint64_t> proposals{0}, proposals_failed{0}, applied{0}, reads{0}, readies{0},
      storage_writes{0}, storage_syncs{0}, snapshots_taken{0}, snapshots_restored{0}, elections{0},
      messages_sent{0}, messages_received{0}, apply_queue_peak_bytes{0};
  Histogram commit_latency;
  Histogram storage_write;

  /// Counts a message to (sent) or from (received) its peer.
  void sent(const Message& m);
  void received(const Message& m);
  std::map<NodeId, NodeMetrics::Peer> peers() const;

 private:
  mutable std::mutex peers_mu_;
  std::map<NodeId, NodeMetrics::Peer> peers_;
};

/// Prometheus exposition text for `m`, every series labelled node="<id>".
std::string prometheus_text(const NodeMetrics& m, NodeId id);

}  // namespace skiff::node_detail
