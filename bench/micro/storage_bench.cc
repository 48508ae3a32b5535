// Storage append benchmarks (issue 5): one durable batch of B entries per iteration, through
// the LMDB adapter, the memory adapter, and a raw LMDB put + commit baseline writing the same
// bytes (the adapter's overhead is the ratio of the first to the third), measured in one run.
//
//   build/release/bench/micro/skiff_storage_bench [--benchmark_filter=...]
//   SKIFF_BENCH_DIR=/path/on/the/disk/to/measure   (default: ./skiff-bench-data)
//
// Arguments: {entries per batch, payload bytes}. items/s counts entries.
#include <benchmark/benchmark.h>
#include <lmdb.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "skiff/memory_storage.h"
#include "skiff/storage/lmdb_storage.h"

namespace {

std::string bench_dir(const std::string& name) {
  const char* base = std::getenv("SKIFF_BENCH_DIR");
  const std::string dir = std::string(base != nullptr ? base : "./skiff-bench-data") + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The batches every case writes: entries of `payload` bytes, `count` per batch, with the hard
// state a Ready would carry.
skiff::WriteBatch make_batch(std::uint64_t first, std::uint64_t count, const skiff::Bytes& data) {
  skiff::WriteBatch b;
  b.entries.reserve(count);
  for (std::uint64_t k = 0; k < count; ++k) {
    skiff::Entry e;
    e.index = skiff::Index{first + k};
    e.term = skiff::Term{1};
    e.data = data;
    b.entries.push_back(std::move(e));
  }
  b.hard_state = skiff::HardState{skiff::Term{1}, skiff::NodeId{1}, skiff::Index{first}};
  b.sync = true;
  return b;
}

void set_counters(benchmark::State& state, std::uint64_t count, std::uint64_t payload) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(count));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(count * payload));
}

void BM_LmdbStorageSave(benchmark::State& state) {
  const auto count = static_cast<std::uint64_t>(state.range(0));
  const auto payload = static_cast<std::uint64_t>(state.range(1));
  skiff::LmdbOptions o;
  o.path = bench_dir("adapter");
  o.cluster_id = 1;
  o.node_id = skiff::NodeId{1};
  o.bootstrap.voters = {skiff::NodeId{1}};
  o.initial_map_size = std::uint64_t{64} << 30;  // sparse; neither case grows its map here
  auto storage = skiff::LmdbStorage::open(o);
  if (!storage.ok()) {
    state.SkipWithError(storage.status().to_string().c_str());
    return;
  }
  const skiff::Bytes data(std::string(payload, 'x'));
  std::uint64_t next = 1;
  for (auto _ : state) {
    const skiff::WriteBatch b = make_batch(next, count, data);
    if (skiff::Status s = (*storage)->save(b); !s.ok()) {
      state.SkipWithError(s.to_string().c_str());
      return;
    }
    next += count;
  }
  set_counters(state, count, payload);
}

void BM_MemoryStorageSave(benchmark::State& state) {
  const auto count = static_cast<std::uint64_t>(state.range(0));
  const auto payload = static_cast<std::uint64_t>(state.range(1));
  skiff::MemoryStorage storage(skiff::ConfState{{skiff::NodeId{1}}, {}});
  const skiff::Bytes data(std::string(payload, 'x'));
  std::uint64_t next = 1;
  for (auto _ : state) {
    const skiff::WriteBatch b = make_batch(next, count, data);
    if (skiff::Status s = storage.save(b); !s.ok()) {
      state.SkipWithError(s.to_string().c_str());
      return;
    }
    next += count;
  }
  set_counters(state, count, payload);
}

// The floor: the same keys and value sizes (8-byte checksum + term + type + payload) and one
// hard-state record, put in one LMDB transaction and committed durably, with nothing else.
void BM_RawLmdbPutCommit(benchmark::State& state) {
  const auto count = static_cast<std::uint64_t>(state.range(0));
  const auto payload = static_cast<std::uint64_t>(state.range(1));
  const std::string dir = bench_dir("raw");
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 2);
  mdb_env_set_mapsize(env, std::size_t{64} << 30);
  if (mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0644) != 0) {
    state.SkipWithError("mdb_env_open failed");
    return;
  }
  MDB_dbi log = 0;
  MDB_dbi meta = 0;
  {
    MDB_txn* txn = nullptr;
    mdb_txn_begin(env, nullptr, 0, &txn);
    mdb_dbi_open(txn, "log", MDB_CREATE, &log);
    mdb_dbi_open(txn, "meta", MDB_CREATE, &meta);
    mdb_txn_commit(txn);
  }
  std::string value(8 + 8 + 1 + payload, 'x');
  std::string hs(32, 'h');
  std::uint64_t next = 1;
  for (auto _ : state) {
    MDB_txn* txn = nullptr;
    mdb_txn_begin(env, nullptr, 0, &txn);
    for (std::uint64_t k = 0; k < count; ++k) {
      const std::uint64_t i = next + k;
      char key[8];
      for (int b = 0; b < 8; ++b) {
        key[7 - b] = static_cast<char>((i >> (8 * b)) & 0xff);
      }
      MDB_val mk{8, key};
      MDB_val mv{value.size(), value.data()};
      mdb_put(txn, log, &mk, &mv, MDB_APPEND);
    }
    char hk[] = "hard_state";
    MDB_val mk{sizeof hk - 1, hk};
    MDB_val mv{hs.size(), hs.data()};
    mdb_put(txn, meta, &mk, &mv, 0);
    if (mdb_txn_commit(txn) != 0) {
      state.SkipWithError("commit failed");
      break;
    }
    next += count;
  }
  mdb_env_close(env);
  set_counters(state, count, payload);
}

void args(benchmark::internal::Benchmark* b) {
  for (std::int64_t count : {1, 16, 256}) {
    for (std::int64_t payload : {100, 4096}) {
      b->Args({count, payload});
    }
  }
  b->ArgNames({"entries", "bytes"})->Unit(benchmark::kMicrosecond)->MinTime(0.3);
}

BENCHMARK(BM_RawLmdbPutCommit)->Apply(args);
BENCHMARK(BM_LmdbStorageSave)->Apply(args);
BENCHMARK(BM_MemoryStorageSave)->Apply(args);

}  // namespace

BENCHMARK_MAIN();
