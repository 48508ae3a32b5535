// The child of the LMDB crash test (lmdb_crash_test.cc): opens the storage at argv[1], then
// appends batches forever, each a few entries plus a hard state whose commit is the batch's
// last index, and prints "acked <last index>" once save() returned (so the batch is durable).
// The parent kills it with SIGKILL at a random moment. Entry payloads name their batch, so
// the parent can tell a whole batch from a partial one.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "skiff/storage/lmdb_storage.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: lmdb_crash_child DIR SEED\n");
    return 2;
  }
  skiff::LmdbOptions o;
  o.path = argv[1];
  o.cluster_id = 1;
  o.node_id = skiff::NodeId{1};
  o.bootstrap.voters = {skiff::NodeId{1}};
  o.initial_map_size = 1 << 20;  // small, so map growth happens under the kills too
  auto storage = skiff::LmdbStorage::open(o);
  if (!storage.ok()) {
    std::fprintf(stderr, "open: %s\n", storage.status().to_string().c_str());
    return 1;
  }
  skiff::LmdbStorage& s = **storage;
  std::uint64_t rng = std::strtoull(argv[2], nullptr, 10) * 0x9e3779b97f4a7c15ULL + 1;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  const std::uint64_t term = 1 + s.initial_state()->hard_state.term.value;
  for (std::uint64_t batch = 0; batch < 100000; ++batch) {
    const std::uint64_t first = s.last_index().value + 1;
    const std::uint64_t count = 1 + next() % 8;
    skiff::WriteBatch b;
    for (std::uint64_t k = 0; k < count; ++k) {
      skiff::Entry e;
      e.index = skiff::Index{first + k};
      e.term = skiff::Term{term};
      // "<first>+<count>:<k>" plus filler of a random length.
      e.data = skiff::Bytes(std::to_string(first) + "+" + std::to_string(count) + ":" +
                            std::to_string(k) + std::string(next() % 3000, 'f'));
      b.entries.push_back(std::move(e));
    }
    b.hard_state =
        skiff::HardState{skiff::Term{term}, skiff::NodeId{1}, skiff::Index{first + count - 1}};
    b.sync = true;
    if (skiff::Status st = s.save(b); !st.ok()) {
      std::fprintf(stderr, "save: %s\n", st.to_string().c_str());
      return 1;
    }
    std::printf("acked %llu\n", static_cast<unsigned long long>(first + count - 1));
    std::fflush(stdout);
  }
  return 0;
}
