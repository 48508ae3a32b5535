// MemoryStorage against the storage conformance suite
// (include/skiff/testing/storage_conformance.h), as any adapter registers it. For MemoryStorage
// "durable" means "written to this object", so reopening hands back the same object.
#include <memory>

#include "skiff/memory_storage.h"
#include "skiff/testing/storage_conformance.h"

namespace {

class MemoryHarness final : public skiff::testing::StorageHarness {
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
    "MemoryStorage", [] { return std::make_unique<MemoryHarness>(); });

}  // namespace
