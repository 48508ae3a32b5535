// Choosers: the simulator's only source of nondeterminism. Every decision of a run (which
// message is delivered next, which fault strikes, what a client asks) is one choose() call, so
// a run is a pure function of its options and the sequence of choices. Recording those choices
// gives a trace that replays the run exactly; feeding arbitrary bytes gives a fuzzer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::testing {

/// Makes the simulator's decisions.
class Chooser {
 public:
  virtual ~Chooser() = default;
  /// A value in [0, n). Precondition: n >= 1. A choice among one option consumes nothing.
  virtual std::uint64_t choose(std::uint64_t n) = 0;
  /// True once a finite input (bytes, trace) is used up; later choices are all 0.
  virtual bool exhausted() const { return false; }
  /// True with probability about `per_mille` / 1000.
  bool chance(std::uint32_t per_mille) { return per_mille > 0 && choose(1000) < per_mille; }
};

/// Pseudo-random choices from a seed (xoshiro256**, specified bit for bit, so a seed replays
/// identically across compilers and standard libraries).
class SeededChooser final : public Chooser {
 public:
  explicit SeededChooser(std::uint64_t seed);
  ~SeededChooser() override;
  std::uint64_t choose(std::uint64_t n) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Choices decoded from bytes: 1 byte for n <= 256, 2 for n <= 65536, 8 otherwise (little
/// endian, reduced modulo n). After the last byte every choice is 0. Used by the fuzzer and
/// to replay traces.
class ByteChooser final : public Chooser {
 public:
  /// Reads from `bytes`, which must outlive the chooser.
  explicit ByteChooser(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t choose(std::uint64_t n) override;
  bool exhausted() const override { return pos_ >= bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

/// Wraps a chooser and records its choices in ByteChooser's encoding, so that
/// ByteChooser(recorded()) replays them exactly.
class RecordingChooser final : public Chooser {
 public:
  /// Records the choices of `inner`, which must outlive this object.
  explicit RecordingChooser(Chooser& inner) : inner_(inner) {}
  std::uint64_t choose(std::uint64_t n) override;
  bool exhausted() const override { return inner_.exhausted(); }
  /// The bytes recorded so far.
  const std::string& recorded() const { return bytes_; }

 private:
  Chooser& inner_;
  std::string bytes_;
};

}  // namespace skiff::testing
