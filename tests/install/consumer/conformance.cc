// What an adapter author writes to check an adapter with skiff's installed conformance suite.
#include <memory>

#include "skiff/memory_storage.h"
#include "skiff/testing/storage_conformance.h"

namespace {

class Harness final : public skiff::testing::StorageHarness {
 public:
  skiff::Storage& create(const skiff::ConfState& members) override {
    storage_ = std::make_unique<skiff::MemoryStorage>(members);
    return *storage_;
  }
  skiff::Storage& reopen() override { return *storage_; }

 private:
  std::unique_ptr<skiff::MemoryStorage> storage_;
};

const bool registered = skiff::testing::register_storage_conformance(
    "InstalledSuite", [] { return std::make_unique<Harness>(); });

}  // namespace
