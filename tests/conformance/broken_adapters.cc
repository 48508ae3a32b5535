// Deliberately broken adapters registered with the conformance suites: proof that the suite's
// cases can fail (tests/conformance/CMakeLists.txt checks that each expected case does).
#include <memory>
#include <string>

#include "skiff/memory_storage.h"
#include "skiff/testing/storage_conformance.h"
#include "skiff/testing/transport_conformance.h"
#include "skiff/transport/inmem_transport.h"

namespace {

// Forgets everything on reopen, as an adapter that never wrote to disk would.
class ForgetfulHarness final : public skiff::testing::StorageHarness {
 public:
  skiff::Storage& create(const skiff::ConfState& members) override {
    members_ = members;
    storage_ = std::make_unique<skiff::MemoryStorage>(members);
    return *storage_;
  }
  skiff::Storage& reopen() override {
    storage_ = std::make_unique<skiff::MemoryStorage>(members_);
    return *storage_;
  }

 private:
  skiff::ConfState members_;
  std::unique_ptr<skiff::MemoryStorage> storage_;
};

// Writes the hard state before checking the entries, so a refused batch is half-applied.
class TornStorage final : public skiff::Storage {
 public:
  explicit TornStorage(const skiff::ConfState& members) : inner_(members) {}
  skiff::Result<skiff::InitialState> initial_state() const override {
    return inner_.initial_state();
  }
  skiff::Result<std::vector<skiff::Entry>> entries(skiff::Index lo, skiff::Index hi,
                                                   std::uint64_t max_bytes) const override {
    return inner_.entries(lo, hi, max_bytes);
  }
  skiff::Result<skiff::Term> term(skiff::Index i) const override { return inner_.term(i); }
  skiff::Index first_index() const override { return inner_.first_index(); }
  skiff::Index last_index() const override { return inner_.last_index(); }
  skiff::Result<skiff::Snapshot> snapshot() const override { return inner_.snapshot(); }
  skiff::Status save(const skiff::WriteBatch& batch) override {
    if (batch.hard_state) {
      inner_.set_hard_state(*batch.hard_state);
    }
    skiff::WriteBatch rest = batch;
    rest.hard_state.reset();
    return inner_.save(rest);
  }
  skiff::Status create_snapshot(skiff::Index index, const skiff::ConfState& cs,
                                skiff::Bytes data) override {
    return inner_.create_snapshot(index, cs, std::move(data));
  }
  skiff::Status compact(skiff::Index index) override { return inner_.compact(index); }

 private:
  skiff::MemoryStorage inner_;
};

class TornHarness final : public skiff::testing::StorageHarness {
 public:
  skiff::Storage& create(const skiff::ConfState& members) override {
    storage_ = std::make_unique<TornStorage>(members);
    return *storage_;
  }
  skiff::Storage& reopen() override { return *storage_; }

 private:
  std::unique_ptr<TornStorage> storage_;
};

const bool forgetful = skiff::testing::register_storage_conformance(
    "Forgetful", [] { return std::make_unique<ForgetfulHarness>(); });
const bool torn = skiff::testing::register_storage_conformance(
    "Torn", [] { return std::make_unique<TornHarness>(); });

// Reports every snapshot outcome without the snapshot's index (as a transport that does not
// keep the message it reports on), so the core could apply a late report to a newer snapshot.
class NamelessTransport final : public skiff::Transport, private skiff::TransportHandler {
 public:
  explicit NamelessTransport(std::unique_ptr<skiff::Transport> inner) : inner_(std::move(inner)) {}
  skiff::Status start(skiff::TransportHandler& handler) override {
    handler_ = &handler;
    return inner_->start(*this);
  }
  void stop() override { inner_->stop(); }
  void send(skiff::Message m) override { inner_->send(std::move(m)); }
  skiff::Status add_peer(skiff::NodeId id, const std::string& address) override {
    return inner_->add_peer(id, address);
  }
  void remove_peer(skiff::NodeId id) override { inner_->remove_peer(id); }

 private:
  void on_message(skiff::Message m) override { handler_->on_message(std::move(m)); }
  void on_unreachable(skiff::NodeId peer) override { handler_->on_unreachable(peer); }
  void on_snapshot_status(skiff::NodeId peer, skiff::Index, bool ok) override {
    handler_->on_snapshot_status(peer, skiff::Index{}, ok);
  }

  std::unique_ptr<skiff::Transport> inner_;
  skiff::TransportHandler* handler_ = nullptr;
};

class NamelessHarness final : public skiff::testing::TransportHarness {
 public:
  std::unique_ptr<skiff::Transport> create(skiff::NodeId id) override {
    return std::make_unique<NamelessTransport>(
        std::make_unique<skiff::InMemoryTransport>(network_, address(id)));
  }
  std::string address(skiff::NodeId id) override { return "node-" + std::to_string(id.value); }

 private:
  std::shared_ptr<skiff::InMemoryNetwork> network_ = std::make_shared<skiff::InMemoryNetwork>();
};

const bool nameless = skiff::testing::register_transport_conformance(
    "Nameless", [] { return std::make_unique<NamelessHarness>(); });

}  // namespace
