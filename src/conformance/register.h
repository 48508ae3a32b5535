// What both conformance suites share (not installed): a case is a named function of a fresh
// harness, and registering a suite turns each case into a GoogleTest test at run time.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace skiff::testing::detail {

template <typename Harness>
struct Case {
  const char* name;
  void (*run)(Harness&);
};

template <typename Harness>
class ConformanceTest final : public ::testing::Test {
 public:
  using Factory = std::function<std::unique_ptr<Harness>()>;
  ConformanceTest(Factory factory, void (*run)(Harness&))
      : factory_(std::move(factory)), run_(run) {}
  void TestBody() override {
    std::unique_ptr<Harness> harness = factory_();
    ASSERT_NE(harness, nullptr) << "the harness factory returned null";
    run_(*harness);
  }

 private:
  Factory factory_;
  void (*run_)(Harness&);
};

// Registers every case of `cases` as "<suite>.<case name>", each with a harness from `factory`.
template <typename Harness, std::size_t N>
bool register_cases(const std::string& suite, std::function<std::unique_ptr<Harness>()> factory,
                    const Case<Harness> (&cases)[N]) {
  for (const Case<Harness>& c : cases) {
    ::testing::RegisterTest(suite.c_str(), c.name, nullptr, nullptr, __FILE__, __LINE__,
                            [factory, run = c.run]() -> ::testing::Test* {
                              return new ConformanceTest<Harness>(factory, run);
                            });
  }
  return true;
}

}  // namespace skiff::testing::detail
