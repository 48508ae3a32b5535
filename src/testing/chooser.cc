#include "skiff/testing/chooser.h"

#include "core/rng.h"

namespace skiff::testing {
namespace {

std::size_t width_for(std::uint64_t n) {
  if (n <= 1) {
    return 0;
  }
  if (n <= 256) {
    return 1;
  }
  if (n <= 65536) {
    return 2;
  }
  return 8;
}

}  // namespace

struct SeededChooser::State {
  explicit State(std::uint64_t seed) : rng(seed, 0x5157) {}
  detail::Rng rng;
};

SeededChooser::SeededChooser(std::uint64_t seed) : state_(std::make_unique<State>(seed)) {}
SeededChooser::~SeededChooser() = default;

std::uint64_t SeededChooser::choose(std::uint64_t n) {
  return n <= 1 ? 0 : state_->rng.uniform(n);
}

std::uint64_t ByteChooser::choose(std::uint64_t n) {
  const std::size_t width = width_for(n);
  std::uint64_t raw = 0;
  for (std::size_t k = 0; k < width; ++k) {
    const std::uint64_t byte = pos_ < bytes_.size() ? static_cast<unsigned char>(bytes_[pos_]) : 0;
    if (pos_ < bytes_.size()) {
      ++pos_;
    }
    raw |= byte << (8 * k);
  }
  return width == 0 ? 0 : raw % n;
}

std::uint64_t RecordingChooser::choose(std::uint64_t n) {
  const std::uint64_t v = inner_.choose(n);
  const std::size_t width = width_for(n);
  for (std::size_t k = 0; k < width; ++k) {
    bytes_.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  }
  return v;
}

}  // namespace skiff::testing
