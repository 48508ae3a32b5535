// RecordingHandler: a TransportHandler that records everything a transport hands it, for
// transport tests (the conformance suite uses it; so can tests of your own adapter).
//
//   skiff::testing::RecordingHandler r;
//   transport->start(r);
//   ASSERT_TRUE(r.wait_messages(3));
//   ASSERT_TRUE(r.wait([](const auto& seen) { return !seen.unreachable.empty(); }));
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "skiff/message.h"
#include "skiff/transport.h"
#include "skiff/types.h"

namespace skiff::testing {

/// Records messages and reports; thread-safe; every wait is bounded.
class RecordingHandler final : public TransportHandler {
 public:
  /// One on_snapshot_status call.
  struct SnapshotReport {
    NodeId peer;
    Index snapshot;   // the index the report names
    bool ok = false;  // delivered whole
    friend bool operator==(const SnapshotReport&, const SnapshotReport&) = default;
  };
  /// What was handed over so far, in order.
  struct Seen {
    std::vector<Message> messages;
    std::vector<NodeId> unreachable;
    std::vector<SnapshotReport> snapshots;
  };

  void on_message(Message m) override {
    update([&](Seen& s) { s.messages.push_back(std::move(m)); });
  }
  void on_unreachable(NodeId peer) override {
    update([&](Seen& s) { s.unreachable.push_back(peer); });
  }
  void on_snapshot_status(NodeId peer, Index snapshot, bool ok) override {
    update([&](Seen& s) { s.snapshots.push_back({peer, snapshot, ok}); });
  }

  /// Waits until `pred(seen)` holds (called with the handler's lock held), at most `patience`.
  bool wait(const std::function<bool(const Seen&)>& pred,
            std::chrono::milliseconds patience = std::chrono::milliseconds(10000)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return pred(seen_); });
  }
  /// Waits until at least `n` messages arrived (10 s at most).
  bool wait_messages(std::size_t n) {
    return wait([n](const Seen& s) { return s.messages.size() >= n; });
  }

  /// Copies of what was seen.
  Seen seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::vector<Message> messages() const { return seen().messages; }
  std::vector<NodeId> unreachable() const { return seen().unreachable; }
  std::vector<SnapshotReport> snapshots() const { return seen().snapshots; }

 private:
  template <typename Fn>
  void update(Fn fn) {
    {
      std::lock_guard lock(mu_);
      fn(seen_);
    }
    cv_.notify_all();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Seen seen_;
};

}  // namespace skiff::testing
