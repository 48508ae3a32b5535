// Codec micro-benchmarks (issue 9): Append messages to and from wire frames, no sockets.
//
//   build/release/bench/skiff_codec_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
//
// Arguments: {entries per Append, payload bytes per entry}. items/s and us_per_entry count
// entries, bytes/s counts payload bytes.
//
//   BM_CodecEncodeAppend  encode_frame(message): the whole frame (header, checksum, body).
//   BM_CodecDecodeAppend  FrameDecoder::next() on one frame (header checks, checksum, body
//                         copy) then decode_message(body): what a receiving transport does.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "skiff/codec/codec.h"
#include "skiff/message.h"

namespace {

using Clock = std::chrono::steady_clock;

// An Append as a leader in term 3 sends it: `count` entries of `payload` bytes after entry
// 1000/3, commit 999.
skiff::Message make_append(std::int64_t count, std::int64_t payload) {
  skiff::Message m;
  m.type = skiff::MessageType::kAppend;
  m.from = skiff::NodeId{1};
  m.to = skiff::NodeId{2};
  m.term = skiff::Term{3};
  m.log_term = skiff::Term{3};
  m.index = skiff::Index{1000};
  m.commit = skiff::Index{999};
  const skiff::Bytes data(std::string(static_cast<std::size_t>(payload), 'x'));
  for (std::int64_t k = 0; k < count; ++k) {
    skiff::Entry e;
    e.term = skiff::Term{3};
    e.index = m.index + static_cast<std::uint64_t>(k + 1);
    e.data = data;
    m.entries.push_back(std::move(e));
  }
  return m;
}

void set_counters(benchmark::State& state, std::int64_t count, std::int64_t payload,
                  Clock::duration elapsed) {
  const std::int64_t entries = state.iterations() * count;
  state.SetItemsProcessed(entries);
  state.SetBytesProcessed(state.iterations() * count * payload);
  // Wall time per entry in microseconds (a plain counter: Google Benchmark prints rate
  // counters inverted with a seconds suffix).
  state.counters["us_per_entry"] =
      std::chrono::duration<double, std::micro>(elapsed).count() / static_cast<double>(entries);
}

void BM_CodecEncodeAppend(benchmark::State& state) {
  const skiff::Message m = make_append(state.range(0), state.range(1));
  const auto start = Clock::now();
  for (auto _ : state) {
    std::string frame = skiff::codec::encode_frame(m);
    benchmark::DoNotOptimize(frame.data());
  }
  set_counters(state, state.range(0), state.range(1), Clock::now() - start);
}

void BM_CodecDecodeAppend(benchmark::State& state) {
  const skiff::Message m = make_append(state.range(0), state.range(1));
  const std::string frame = skiff::codec::encode_frame(m);
  skiff::codec::FrameDecoder decoder;
  const auto start = Clock::now();
  for (auto _ : state) {
    decoder.feed(frame);
    auto f = decoder.next();
    if (!f.ok() || !f->has_value()) {
      state.SkipWithError("frame did not decode");
      return;
    }
    auto decoded = skiff::codec::decode_message((*f)->body);
    if (!decoded.ok() || decoded->entries.size() != m.entries.size()) {
      state.SkipWithError("message did not decode");
      return;
    }
    benchmark::DoNotOptimize(decoded->entries.data());
  }
  set_counters(state, state.range(0), state.range(1), Clock::now() - start);
}

void args(benchmark::internal::Benchmark* b) {
  for (std::int64_t count : {1, 16, 256}) {
    for (std::int64_t payload : {100, 4096}) {
      b->Args({count, payload});
    }
  }
  b->ArgNames({"entries", "bytes"})->Unit(benchmark::kMicrosecond)->MinTime(0.3);
}

BENCHMARK(BM_CodecEncodeAppend)->Apply(args);
BENCHMARK(BM_CodecDecodeAppend)->Apply(args);

}  // namespace

BENCHMARK_MAIN();
