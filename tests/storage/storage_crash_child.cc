// The child of the storage crash test (storage_crash_test.cc): opens the storage of kind
// argv[1] (lmdb or wal) at argv[2], then appends batches forever, each a few entries plus a hard
// state whose commit is the batch's last index, and prints "acked <last index>" once save()
// returned (so the batch is durable). Every 40 batches it takes a snapshot ("snap@<index>")
// and compacts behind it, so that the WAL deletes segments under the kills too. The parent
// kills it with SIGKILL at a random moment. Entry payloads name their batch, so the parent can
// tell a whole batch from a partial one.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "storage/crash_storage.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: storage_crash_child lmdb|wal DIR SEED\n");
    return 2;
  }
  auto storage = skiff::test::open_crash_storage(argv[1], argv[2]);
  if (!storage.ok()) {
    std::fprintf(stderr, "open: %s\n", storage.status().to_string().c_str());
    return 1;
  }
  skiff::Storage& s = **storage;
  std::uint64_t rng = std::strtoull(argv[3], nullptr, 10) * 0x9e3779b97f4a7c15ULL + 1;
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
    if (batch % 40 == 39) {
      const skiff::Index at{first + count - 1};
      skiff::ConfState members;
      members.voters = {skiff::NodeId{1}};
      const std::string state = "snap@" + std::to_string(at.value);
      if (skiff::Status st = s.create_snapshot(at, members, skiff::Bytes(state)); !st.ok()) {
        std::fprintf(stderr, "create_snapshot: %s\n", st.to_string().c_str());
        return 1;
      }
      if (skiff::Status st = s.compact(skiff::Index{at.value - 20}); !st.ok()) {
        std::fprintf(stderr, "compact: %s\n", st.to_string().c_str());
        return 1;
      }
    }
  }
  return 0;
}
