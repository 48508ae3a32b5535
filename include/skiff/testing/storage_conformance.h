// The storage conformance suite: GoogleTest cases that check a Storage adapter against the
// contract in skiff/storage.h — reads, atomic saves, truncation of a conflicting suffix,
// snapshots and compaction, durability across a reopen, and a core driven on top of it.
//
// To check your adapter, implement a StorageHarness and register the suite from any test
// file of a GoogleTest binary that links skiff::storage_conformance:
//
//   class MyHarness final : public skiff::testing::StorageHarness {
//    public:
//     skiff::Storage& create(const skiff::ConfState& members) override { ... }
//     skiff::Storage& reopen() override { ... }
//   };
//   static const bool registered = skiff::testing::register_storage_conformance(
//       "MyStorage", [] { return std::make_unique<MyHarness>(); });
//
// Every case runs with a fresh harness, named "<suite>.<Case>" (filter with --gtest_filter).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "skiff/state.h"
#include "skiff/storage.h"

namespace skiff::testing {

/// Makes, owns and reopens the storage under test for one conformance case.
class StorageHarness {
 public:
  virtual ~StorageHarness() = default;
  /// A new, empty storage bootstrapped with `members` (the group's first membership), in a
  /// place of its own (a fresh temporary directory for a disk adapter).
  virtual Storage& create(const ConfState& members) = 0;
  /// Closes the storage last created or reopened and opens it again from the same place, as
  /// a restart after the process stopped would. References to the old one become invalid.
  /// An in-memory adapter returns the same object (its contents are what "durable" means).
  virtual Storage& reopen() = 0;
};

/// Creates a harness for each case.
using StorageHarnessFactory = std::function<std::unique_ptr<StorageHarness>()>;

/// Registers every conformance case with GoogleTest under the suite name `suite` (a valid C++
/// identifier, e.g. "LmdbStorage"). Call before RUN_ALL_TESTS, for example from a
/// namespace-scope initializer as above. Returns true.
bool register_storage_conformance(const std::string& suite, StorageHarnessFactory factory);

}  // namespace skiff::testing
