// InMemoryTransport: a Transport between endpoints in one process, for tests and examples.
//
//   auto network = std::make_shared<skiff::InMemoryNetwork>();
//   skiff::InMemoryTransport t1(network, "node-1");     // addresses are names on the network
//   t1.add_peer(skiff::NodeId{2}, "node-2");
//   t1.start(handler1);
//
// Each started endpoint has a bounded inbox drained by its own delivery thread; a full inbox
// drops the message and reports the sender's peer unreachable, as a TCP transport's full
// queue would. The network can cut links between addresses (both directions or one) to
// inject faults.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "skiff/transport.h"

namespace skiff {

class InMemoryTransport;

/// The medium in-memory endpoints attach to. Thread-safe. Share it with std::shared_ptr.
class InMemoryNetwork {
 public:
  /// Messages from `from` to `to` (addresses) are dropped until heal().
  void cut(const std::string& from, const std::string& to);
  /// Restores every link.
  void heal();

 private:
  friend class InMemoryTransport;
  bool attach(const std::string& address, InMemoryTransport* endpoint);
  void detach(const std::string& address);
  // Hands `m` to the endpoint at `to`; false if it is absent, cut off or full.
  bool deliver(const std::string& from, const std::string& to, Message m);

  std::mutex mu_;
  std::map<std::string, InMemoryTransport*> endpoints_;
  std::set<std::pair<std::string, std::string>> cut_;
};

/// An endpoint on an InMemoryNetwork. Thread-safe as Transport requires.
class InMemoryTransport final : public Transport {
 public:
  /// An endpoint that will listen at `address` once started; `inbox_limit` bounds the
  /// messages waiting for its delivery thread.
  InMemoryTransport(std::shared_ptr<InMemoryNetwork> network, std::string address,
                    std::size_t inbox_limit = 4096);
  ~InMemoryTransport() override;
  InMemoryTransport(const InMemoryTransport&) = delete;
  InMemoryTransport& operator=(const InMemoryTransport&) = delete;

  Status start(TransportHandler& handler) override;
  void stop() override;
  void send(Message m) override;
  Status add_peer(NodeId id, const std::string& address) override;
  void remove_peer(NodeId id) override;

 private:
  friend class InMemoryNetwork;
  // Queues an inbound message; false if stopped or full.
  bool enqueue(Message m);
  void run();

  // What happened to a message this endpoint sent, for its handler.
  enum class ReportKind : std::uint8_t { kUnreachable, kSnapshotOk, kSnapshotFailed };
  struct Report {
    NodeId peer;
    ReportKind kind;
    Index snapshot;  // for a snapshot report: the index the Snapshot message carried
  };

  std::shared_ptr<InMemoryNetwork> network_;
  std::string address_;
  std::size_t inbox_limit_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> inbox_;
  std::deque<Report> reports_;
  std::map<NodeId, std::string> peers_;
  TransportHandler* handler_ = nullptr;
  bool running_ = false;
  std::thread thread_;
};

}  // namespace skiff
