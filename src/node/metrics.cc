// Node metrics (metrics.h).
#include "metrics.h"

#include <algorithm>
#include <sstream>

namespace skiff {

const std::vector<std::uint64_t>& NodeMetrics::histogram_bounds_us() {
  static const std::vector<std::uint64_t> bounds = {
      50,    100,   250,    500,    1000,   2500,    5000,    10000,
      25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
  return bounds;
}

namespace node_detail {

void Histogram::observe(std::uint64_t us) {
  const auto& bounds = NodeMetrics::histogram_bounds_us();
  const auto at =
      static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), us) - bounds.begin());
  buckets_[at].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
}

NodeMetrics::Histogram Histogram::read() const {
  NodeMetrics::Histogram h;
  h.count = count_.load(std::memory_order_relaxed);
  h.sum_us = sum_us_.load(std::memory_order_relaxed);
  std::uint64_t running = 0;
  for (const auto& b : buckets_) {
    running += b.load(std::memory_order_relaxed);
    h.buckets.push_back(running);
  }
  return h;
}

namespace {

std::uint64_t payload(const Message& m) {
  std::uint64_t bytes = m.snapshot.data.size();
  for (const Entry& e : m.entries) {
    bytes += e.data.size();
  }
  return bytes;
}

}  // namespace

void Metrics::sent(const Message& m) {
  ++messages_sent;
  std::lock_guard lock(peers_mu_);
  NodeMetrics::Peer& p = peers_[m.to];
  ++p.messages_sent;
  p.bytes_sent += payload(m);
  if (m.type == MessageType::kSnapshot) {
    ++p.snapshots_sent;
  }
}

void Metrics::received(const Message& m) {
  ++messages_received;
  std::lock_guard lock(peers_mu_);
  NodeMetrics::Peer& p = peers_[m.from];
  ++p.messages_received;
  p.bytes_received += payload(m);
}

std::map<NodeId, NodeMetrics::Peer> Metrics::peers() const {
  std::lock_guard lock(peers_mu_);
  return peers_;
}

namespace {

void counter(std::ostringstream& out, const std::string& name, const std::string& help,
             std::uint64_t value, const std::string& label) {
  out << "# HELP skiff_" << name << " " << help << "\n# TYPE skiff_" << name << " counter\n"
      << "skiff_" << name << "{" << label << "} " << value << "\n";
}

void histogram(std::ostringstream& out, const std::string& name, const std::string& help,
               const NodeMetrics::Histogram& h, const std::string& label) {
  out << "# HELP skiff_" << name << " " << help << "\n# TYPE skiff_" << name << " histogram\n";
  const auto& bounds = NodeMetrics::histogram_bounds_us();
  for (std::size_t i = 0; i < h.buckets.size(); ++i) {
    out << "skiff_" << name << "_bucket{" << label << ",le=\"";
    if (i < bounds.size()) {
      out << static_cast<double>(bounds[i]) / 1e6;
    } else {
      out << "+Inf";
    }
    out << "\"} " << h.buckets[i] << "\n";
  }
  out << "skiff_" << name << "_sum{" << label << "} " << static_cast<double>(h.sum_us) / 1e6
      << "\n";
  out << "skiff_" << name << "_count{" << label << "} " << h.count << "\n";
}

}  // namespace

std::string prometheus_text(const NodeMetrics& m, NodeId id) {
  std::ostringstream out;
  const std::string label = "node=\"" + std::to_string(id.value) + "\"";
  counter(out, "proposals_total", "Proposals accepted by the core.", m.proposals, label);
  counter(out, "proposals_failed_total", "Proposals completed with an error.", m.proposals_failed,
          label);
  counter(out, "applied_total", "Commands applied to the state machine.", m.applied, label);
  counter(out, "reads_total", "Linearizable reads served.", m.reads, label);
  counter(out, "readies_total", "Readies handled.", m.readies, label);
  counter(out, "storage_writes_total", "Ready writes to storage.", m.storage_writes, label);
  counter(out, "storage_syncs_total", "Ready writes that were synced.", m.storage_syncs, label);
  counter(out, "snapshots_taken_total", "Snapshots of the state machine taken.", m.snapshots_taken,
          label);
  counter(out, "snapshots_restored_total", "Snapshots received and restored.", m.snapshots_restored,
          label);
  counter(out, "elections_total", "Elections started.", m.elections, label);
  counter(out, "messages_sent_total", "Messages handed to the transport.", m.messages_sent, label);
  counter(out, "messages_received_total", "Messages received from the transport.",
          m.messages_received, label);
  struct PeerSeries {
    const char* name;
    const char* help;
    std::uint64_t NodeMetrics::Peer::*field;
  };
  for (const PeerSeries& series :
       {PeerSeries{"peer_messages_sent_total", "Messages sent to a peer.",
                   &NodeMetrics::Peer::messages_sent},
        PeerSeries{"peer_messages_received_total", "Messages received from a peer.",
                   &NodeMetrics::Peer::messages_received},
        PeerSeries{"peer_payload_bytes_sent_total", "Entry and snapshot bytes sent to a peer.",
                   &NodeMetrics::Peer::bytes_sent},
        PeerSeries{"peer_payload_bytes_received_total",
                   "Entry and snapshot bytes received from a peer.",
                   &NodeMetrics::Peer::bytes_received},
        PeerSeries{"peer_snapshots_sent_total", "Snapshots sent to a peer.",
                   &NodeMetrics::Peer::snapshots_sent}}) {
    out << "# HELP skiff_" << series.name << " " << series.help << "\n# TYPE skiff_" << series.name
        << " counter\n";
    for (const auto& [peer, p] : m.peers) {
      out << "skiff_" << series.name << "{" << label << ",peer=\"" << peer.value << "\"} "
          << p.*series.field << "\n";
    }
  }
  histogram(out, "commit_latency_seconds", "Time from proposal to applied on this node.",
            m.commit_latency, label);
  histogram(out, "storage_write_seconds", "Time to write one Ready to storage.", m.storage_write,
            label);
  return out.str();
}

}  // namespace node_detail
}  // namespace skiff
