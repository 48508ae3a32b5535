// InMemoryTransport (include/skiff/transport/inmem_transport.h).
#include "skiff/transport/inmem_transport.h"

#include <utility>

namespace skiff {

// --- InMemoryNetwork ----------------------------------------------------------------------------

void InMemoryNetwork::cut(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  cut_.insert({from, to});
}

void InMemoryNetwork::heal() {
  std::lock_guard lock(mu_);
  cut_.clear();
}

bool InMemoryNetwork::attach(const std::string& address, InMemoryTransport* endpoint) {
  std::lock_guard lock(mu_);
  return endpoints_.emplace(address, endpoint).second;
}

void InMemoryNetwork::detach(const std::string& address) {
  std::lock_guard lock(mu_);
  endpoints_.erase(address);
}

bool InMemoryNetwork::deliver(const std::string& from, const std::string& to, Message m) {
  // The network lock is held while the message is queued, so an endpoint cannot detach and
  // be destroyed in between (detach takes the same lock).
  std::lock_guard lock(mu_);
  if (cut_.contains({from, to})) {
    return false;
  }
  auto it = endpoints_.find(to);
  return it != endpoints_.end() && it->second->enqueue(std::move(m));
}

// --- InMemoryTransport --------------------------------------------------------------------------

InMemoryTransport::InMemoryTransport(std::shared_ptr<InMemoryNetwork> network, std::string address,
                                     std::size_t inbox_limit)
    : network_(std::move(network)), address_(std::move(address)), inbox_limit_(inbox_limit) {}

InMemoryTransport::~InMemoryTransport() {
  stop();
}

Status InMemoryTransport::start(TransportHandler& handler) {
  {
    std::lock_guard lock(mu_);
    if (running_) {
      return Status(ErrorCode::kFailedPrecondition,
                    "in-memory transport " + address_ + " is already started");
    }
    handler_ = &handler;
    running_ = true;
  }
  if (!network_->attach(address_, this)) {
    std::lock_guard lock(mu_);
    running_ = false;
    handler_ = nullptr;
    return Status(ErrorCode::kUnavailable,
                  "in-memory address " + address_ + " is in use by another endpoint");
  }
  thread_ = std::thread([this] { run(); });
  return Status();
}

void InMemoryTransport::stop() {
  network_->detach(address_);  // no new inbound message after this
  {
    std::lock_guard lock(mu_);
    if (!running_) {
      return;
    }
    running_ = false;
    inbox_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  std::lock_guard lock(mu_);
  handler_ = nullptr;
}

bool InMemoryTransport::enqueue(Message m) {
  {
    std::lock_guard lock(mu_);
    if (!running_ || inbox_.size() >= inbox_limit_) {
      return false;
    }
    inbox_.push_back(std::move(m));
  }
  cv_.notify_one();
  return true;
}

void InMemoryTransport::send(Message m) {
  std::string to_address;
  {
    std::lock_guard lock(mu_);
    if (!running_) {
      return;
    }
    auto it = peers_.find(m.to);
    if (it != peers_.end()) {
      to_address = it->second;
    }
  }
  const NodeId to = m.to;
  const bool snapshot = m.type == MessageType::kSnapshot;
  const Index snapshot_index = m.snapshot.meta.last.index;
  const bool sent = !to_address.empty() && network_->deliver(address_, to_address, std::move(m));
  // Reports go through our own queue, so the handler is only ever called by our thread (never
  // from inside send(), where the caller may hold its own locks).
  if (sent && !snapshot) {
    return;
  }
  std::lock_guard lock(mu_);
  if (!running_) {
    return;
  }
  if (!sent) {
    reports_.push_back({to, ReportKind::kUnreachable, Index{}});
  }
  if (snapshot) {
    reports_.push_back(
        {to, sent ? ReportKind::kSnapshotOk : ReportKind::kSnapshotFailed, snapshot_index});
  }
  cv_.notify_one();
}

Status InMemoryTransport::add_peer(NodeId id, const std::string& address) {
  if (id == kNoNode || address.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "in-memory transport: a peer needs an id and a name");
  }
  std::lock_guard lock(mu_);
  peers_[id] = address;
  return Status();
}

void InMemoryTransport::remove_peer(NodeId id) {
  std::lock_guard lock(mu_);
  peers_.erase(id);
}

void InMemoryTransport::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return !running_ || !inbox_.empty() || !reports_.empty(); });
    if (!running_) {
      return;
    }
    if (!reports_.empty()) {
      const Report r = reports_.front();
      reports_.pop_front();
      TransportHandler* h = handler_;
      lock.unlock();
      switch (r.kind) {
        case ReportKind::kUnreachable:
          h->on_unreachable(r.peer);
          break;
        case ReportKind::kSnapshotOk:
          h->on_snapshot_status(r.peer, r.snapshot, true);
          break;
        case ReportKind::kSnapshotFailed:
          h->on_snapshot_status(r.peer, r.snapshot, false);
          break;
      }
      lock.lock();
      continue;
    }
    Message m = std::move(inbox_.front());
    inbox_.pop_front();
    TransportHandler* h = handler_;
    lock.unlock();
    h->on_message(std::move(m));
    lock.lock();
  }
}

}  // namespace skiff
