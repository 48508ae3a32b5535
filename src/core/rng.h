// A seeded pseudo-random generator with its own range reduction.
//
// The standard leaves <random>'s distributions implementation-defined, so a seed would not
// replay the same run under another standard library; this generator and `uniform` are fully
// specified: xoshiro256** (Blackman & Vigna, 2018) seeded through SplitMix64, and Lemire's
// nearly-divisionless bounded integers (2019).
#pragma once

#include <array>
#include <cstdint>

namespace skiff::detail {

class Rng {
 public:
  /// A generator whose stream is a pure function of (seed, stream).
  Rng(std::uint64_t seed, std::uint64_t stream);

  /// The next 64 random bits.
  std::uint64_t next();
  /// A uniform value in [0, bound). Precondition: bound > 0.
  std::uint64_t uniform(std::uint64_t bound);

 private:
  std::array<std::uint64_t, 4> s_;
};

}  // namespace skiff::detail
