// Core micro-benchmarks (issue 9): the Raft core alone. Three RawNodes in one thread, each over
// its own MemoryStorage, no I/O and no codec; node 1 leads. One iteration proposes B entries
// of 100 B on the leader, then pumps every Ready and message until the group is quiet; it ends
// with all B entries committed and applied on all three nodes (checked).
//
//   build/release/bench/skiff_core_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
//
// items/s and us_per_entry count entries (one item = one entry committed and applied on all
// three nodes).
//
//   BM_CoreProposeBackToBack/entries:B  B calls to RawNode::propose() (one entry each), made
//       back to back before the next ready(), as a node runtime batches them. B = 1 is "one at
//       a time". The core has no public call that proposes several entries at once
//       (RawNode::propose takes one payload); since the leader defers its Appends to the next
//       Ready, B back-to-back proposals already leave as one Append per follower.
//   BM_CoreProposeOneMessage/entries:B  the only path that hands the leader several entries
//       in one input: one Propose message carrying B entries, as a follower forwards
//       (Config::forward_proposals), stepped into the leader from node 2.
//
// Pumping: each node's Ready is handled per its contract (entries and hard state written to
// MemoryStorage, committed entries "applied" by touching their payload, then advance()); its
// messages go to a FIFO network and are stepped into their recipients. No ticks are given, so
// no heartbeats run while measuring.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "skiff/config.h"
#include "skiff/memory_storage.h"
#include "skiff/message.h"
#include "skiff/raw_node.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kNodes = 3;
constexpr std::size_t kPayload = 100;

class Group {
 public:
  Group() {
    const skiff::ConfState members{{skiff::NodeId{1}, skiff::NodeId{2}, skiff::NodeId{3}}, {}};
    for (std::size_t k = 0; k < kNodes; ++k) {
      storage_[k] = std::make_unique<skiff::MemoryStorage>(members);
      skiff::Config c;
      c.id = skiff::NodeId{k + 1};
      c.seed = 9;
      auto node = skiff::RawNode::create(c, *storage_[k]);
      if (!node.ok()) {
        error_ = node.status().to_string();
        return;
      }
      nodes_.push_back(std::move(node).value());
    }
    if (skiff::Status s = nodes_[0].campaign(); !s.ok()) {
      error_ = s.to_string();
      return;
    }
    pump();
    if (nodes_[0].role() != skiff::Role::kLeader) {
      error_ = "node 1 did not become leader";
    }
  }

  const std::string& error() const { return error_; }
  skiff::RawNode& leader() { return nodes_[0]; }
  skiff::RawNode& node(std::size_t k) { return nodes_[k]; }
  std::uint64_t applied_bytes() const { return applied_bytes_; }

  // Handles Readies and delivers messages until no node has work and nothing is in flight.
  void pump() {
    bool busy = true;
    while (busy) {
      busy = false;
      for (std::size_t k = 0; k < kNodes; ++k) {
        if (nodes_[k].has_ready()) {
          handle_ready(k);
          busy = true;
        }
      }
      while (!in_flight_.empty()) {
        busy = true;
        skiff::Message m = std::move(in_flight_.front());
        in_flight_.pop_front();
        const std::size_t to = m.to.value - 1;
        (void)nodes_[to].step(m);
      }
    }
  }

  // Whether every node applied up to the leader's last index.
  bool all_applied() {
    const skiff::Index last = nodes_[0].last_index();
    for (std::size_t k = 0; k < kNodes; ++k) {
      if (nodes_[k].applied_index() != last) {
        return false;
      }
    }
    return true;
  }

 private:
  void handle_ready(std::size_t k) {
    skiff::RawNode& n = nodes_[k];
    skiff::Ready rd = n.ready().value();
    for (skiff::Message& m : rd.messages) {
      in_flight_.push_back(std::move(m));
    }
    skiff::MemoryStorage& st = *storage_[k];
    if (rd.snapshot) {
      (void)st.apply_snapshot(*rd.snapshot);
    }
    if (!rd.entries.empty()) {
      (void)st.append(rd.entries);
    }
    if (rd.hard_state) {
      st.set_hard_state(*rd.hard_state);
    }
    for (skiff::Message& m : rd.persisted_messages) {
      in_flight_.push_back(std::move(m));
    }
    for (const skiff::Entry& e : rd.committed_entries) {
      applied_bytes_ += e.data.size();  // the "state machine"
    }
    (void)n.advance(rd);
  }

  std::array<std::unique_ptr<skiff::MemoryStorage>, kNodes> storage_;
  std::vector<skiff::RawNode> nodes_;
  std::deque<skiff::Message> in_flight_;
  std::uint64_t applied_bytes_ = 0;
  std::string error_;
};

void set_counters(benchmark::State& state, std::int64_t batch, Clock::duration elapsed) {
  const std::int64_t entries = state.iterations() * batch;
  state.SetItemsProcessed(entries);
  // Wall time per entry in microseconds (a plain counter: Google Benchmark prints rate
  // counters inverted with a seconds suffix).
  state.counters["us_per_entry"] =
      std::chrono::duration<double, std::micro>(elapsed).count() / static_cast<double>(entries);
}

void BM_CoreProposeBackToBack(benchmark::State& state) {
  const auto batch = static_cast<std::int64_t>(state.range(0));
  Group g;
  if (!g.error().empty()) {
    state.SkipWithError(g.error().c_str());
    return;
  }
  const skiff::Bytes payload(std::string(kPayload, 'x'));
  const auto start = Clock::now();
  for (auto _ : state) {
    for (std::int64_t k = 0; k < batch; ++k) {
      if (!g.leader().propose(payload).ok()) {
        state.SkipWithError("proposal refused");
        return;
      }
    }
    g.pump();
  }
  if (!g.all_applied()) {
    state.SkipWithError("not every entry was applied on every node");
    return;
  }
  set_counters(state, batch, Clock::now() - start);
}

void BM_CoreProposeOneMessage(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  Group g;
  if (!g.error().empty()) {
    state.SkipWithError(g.error().c_str());
    return;
  }
  const skiff::Bytes payload(std::string(kPayload, 'x'));
  skiff::Message m;
  m.type = skiff::MessageType::kPropose;
  m.from = skiff::NodeId{2};
  m.to = skiff::NodeId{1};
  m.entries.resize(batch);
  for (skiff::Entry& e : m.entries) {
    e.data = payload;
  }
  const auto start = Clock::now();
  for (auto _ : state) {
    if (!g.leader().step(m).ok()) {
      state.SkipWithError("proposal refused");
      return;
    }
    g.pump();
  }
  if (!g.all_applied()) {
    state.SkipWithError("not every entry was applied on every node");
    return;
  }
  set_counters(state, static_cast<std::int64_t>(batch), Clock::now() - start);
}

BENCHMARK(BM_CoreProposeBackToBack)
    ->ArgName("entries")
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5);
BENCHMARK(BM_CoreProposeOneMessage)
    ->ArgName("entries")
    ->Arg(16)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
