// The schedule fuzzer's input format, shared by the libFuzzer target (skiff_step_fuzz) and the
// standalone driver (skiff_fuzz_replay), which are built from the same step_fuzz.cc.
//
// An input is one header byte, then choice bytes that a ByteChooser feeds to the simulator
// (delivery order, faults, client operations; see include/skiff/testing/chooser.h). When the
// choices run out, the fault phase ends, the cluster heals, and liveness and linearizability
// are checked. The header byte picks the options:
//
//   bit 0      cluster size: 0 = 3 nodes, 1 = 5 nodes
//   bit 1      1 = pre_vote off
//   bit 2      1 = check_quorum off
//   bits 3..7  options.seed - 1 (the seed of the cores' election timeouts; 1..32)
//
// An empty input means header 0 and no choices. Every other option is fixed (step_options).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "skiff/testing/simulator.h"

namespace skiff::fuzz {

/// Inputs longer than this are ignored: it bounds a run's length and memory.
inline constexpr std::size_t kMaxInputSize = 64 * 1024;

/// The options an input's header byte selects.
testing::SimOptions step_options(std::uint8_t header);

/// The header byte that selects `options`, if step_options can produce them.
std::optional<std::uint8_t> step_header(const testing::SimOptions& options);

/// An input split into its options and choice bytes (a view into `input`).
struct StepInput {
  testing::SimOptions options;
  std::string_view choices;
};
StepInput decode_step_input(std::string_view input);

/// Runs the simulator on one input. `on_event`, if set, receives the event log.
testing::SimReport run_step_input(std::string_view input,
                                  const std::function<void(std::string_view)>& on_event = nullptr);

}  // namespace skiff::fuzz

/// The libFuzzer entry point: runs one input and aborts, after printing the violations and the
/// options, if the run breaks any property.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
