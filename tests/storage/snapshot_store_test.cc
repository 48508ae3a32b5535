// SnapshotStore: snapshots as checksummed files, written and read in chunks, crash-safe and
// pruned by a retention policy; corruption is a clear error naming the file.
#include "skiff/storage/snapshot_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "storage/small_fs.h"
#include "support/temp_dir.h"

namespace skiff {
namespace {

using test::TempDir;

Snapshot snapshot(std::uint64_t index, std::uint64_t term, std::string data) {
  Snapshot s;
  s.meta.last = EntryId{Term{term}, Index{index}};
  s.meta.conf_state.voters = {NodeId{1}, NodeId{2}, NodeId{3}};
  s.meta.conf_state.learners = {NodeId{4}};
  s.data = Bytes(std::move(data));
  return s;
}

std::string binary(std::size_t n) {
  std::string out;
  for (std::size_t k = 0; k < n; ++k) {
    out.push_back(static_cast<char>((k * 131 + 7) & 0xff));
  }
  return out;
}

std::unique_ptr<SnapshotStore> open_store(const std::string& dir, std::size_t keep = 2) {
  auto s = SnapshotStore::open(SnapshotStoreOptions{dir, keep});
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::string only_file(const std::string& dir) {
  std::string found;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    found = e.path().string();
  }
  return found;
}

TEST(SnapshotStore, ASavedSnapshotLoadsBackWhole) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->load_latest().status().code(), ErrorCode::kUnavailable);
  const Snapshot s = snapshot(42, 3, binary(100000));
  ASSERT_TRUE(store->save(s).ok());
  auto loaded = store->load_latest();
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(*loaded, s);
  EXPECT_EQ(store->list().value(), (std::vector<EntryId>{EntryId{Term{3}, Index{42}}}));
}

TEST(SnapshotStore, OneSnapshotLoadsByItsIdAndIsRemovedByIt) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_NE(store, nullptr);
  const Snapshot older = snapshot(10, 2, "ten");
  const Snapshot newer = snapshot(20, 2, "twenty");
  ASSERT_TRUE(store->save(older).ok());
  ASSERT_TRUE(store->save(newer).ok());
  EXPECT_EQ(store->load(older.meta.last).value(), older);
  EXPECT_EQ(store->load(EntryId{Term{1}, Index{10}}).status().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(store->remove(newer.meta.last).ok());
  ASSERT_TRUE(store->remove(newer.meta.last).ok());  // already gone: nothing to do
  EXPECT_EQ(store->list().value(), (std::vector<EntryId>{older.meta.last}));
  EXPECT_EQ(store->load_latest().value(), older);
}

TEST(SnapshotStore, ChunksInAndChunksOut) {
  TempDir dir;
  auto store = open_store(dir.path());
  const std::string data = binary(10000);
  auto w = store->begin(snapshot(7, 2, "").meta, data.size());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->write(std::string_view(data).substr(0, 3000)).ok());
  ASSERT_TRUE((*w)->write(std::string_view(data).substr(3000, 1)).ok());
  ASSERT_TRUE((*w)->write(std::string_view(data).substr(3001)).ok());
  ASSERT_TRUE((*w)->commit().ok());
  auto r = store->open_latest();
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)->meta().last, (EntryId{Term{2}, Index{7}}));
  EXPECT_EQ((*r)->size(), data.size());
  std::string got;
  int chunks = 0;
  for (;;) {
    auto c = (*r)->next(4096);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    if (c->empty()) {
      break;
    }
    EXPECT_LE(c->size(), 4096u);
    got += *c;
    ++chunks;
  }
  EXPECT_EQ(got, data);
  EXPECT_EQ(chunks, 3);
}

TEST(SnapshotStore, OnlyTheNewestAreKept) {
  TempDir dir;
  auto store = open_store(dir.path(), 2);
  for (std::uint64_t i : {10, 20, 30, 40}) {
    ASSERT_TRUE(store->save(snapshot(i, 1, "s" + std::to_string(i))).ok());
  }
  EXPECT_EQ(store->list().value(),
            (std::vector<EntryId>{EntryId{Term{1}, Index{30}}, EntryId{Term{1}, Index{40}}}));
  EXPECT_EQ(store->load_latest()->data, Bytes("s40"));
}

TEST(SnapshotStore, AnAbandonedWriteLeavesNothing) {
  TempDir dir;
  auto store = open_store(dir.path());
  {
    auto w = store->begin(snapshot(5, 1, "").meta, 100);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->write(std::string(50, 'x')).ok());
  }  // destroyed before commit: a failed transfer, or the sender went away
  EXPECT_TRUE(store->list()->empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(SnapshotStore, ATemporaryFileACrashLeftIsRemovedOnOpen) {
  TempDir dir;
  std::ofstream(dir.path() + "/.tmp-snap-00000000000000000009-00000000000000000001.snap")
      << "half a snapshot";
  auto store = open_store(dir.path());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  EXPECT_EQ(store->load_latest().status().code(), ErrorCode::kUnavailable);
}

TEST(SnapshotStore, LengthMismatchesAreRefused) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto w = store->begin(snapshot(5, 1, "").meta, 4);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->write("12345").code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE((*w)->write("123").ok());
  EXPECT_EQ((*w)->commit().code(), ErrorCode::kFailedPrecondition);
}

TEST(SnapshotStore, BadOptionsAndMembershipsAreRefused) {
  TempDir dir;
  const std::string file = dir.path() + "/file";
  std::ofstream(file) << "x";
  EXPECT_EQ(SnapshotStore::open(SnapshotStoreOptions{file, 2}).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(SnapshotStore::open(SnapshotStoreOptions{dir.path(), 0}).status().code(),
            ErrorCode::kInvalidArgument);
  auto store = open_store(dir.path() + "/store");
  Snapshot s = snapshot(1, 1, "x");
  s.meta.conf_state = ConfState{};
  EXPECT_EQ(store->save(s).code(), ErrorCode::kInvalidArgument);
}

// Overwrites the byte at `offset` (from the end if negative) of `file`.
void flip(const std::string& file, long offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(0, std::ios::end);
  const long size = static_cast<long>(f.tellg());
  const long at = offset < 0 ? size + offset : offset;
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  f.seekp(at);
  c = static_cast<char>(c ^ 0x5a);
  f.write(&c, 1);
}

TEST(SnapshotStoreCorruption, AFlippedDataByteIsCaughtByTheChecksumNamingTheFile) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store->save(snapshot(9, 2, binary(5000))).ok());
  const std::string file = only_file(dir.path());
  flip(file, -100);
  auto loaded = store->load_latest();
  EXPECT_EQ(loaded.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(loaded.status().message().find(file), std::string::npos) << loaded.status().message();
}

TEST(SnapshotStoreCorruption, AFlippedHeaderOrATruncatedFileIsCaught) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store->save(snapshot(9, 2, binary(5000))).ok());
  const std::string file = only_file(dir.path());
  flip(file, 0);  // the magic
  EXPECT_EQ(store->load_latest().status().code(), ErrorCode::kCorruption);
  flip(file, 0);  // restored
  ASSERT_TRUE(store->load_latest().ok());
  flip(file, 9);  // the index in the header: it no longer matches the file's name
  EXPECT_EQ(store->load_latest().status().code(), ErrorCode::kCorruption);
  flip(file, 9);
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 1);
  EXPECT_EQ(store->load_latest().status().code(), ErrorCode::kCorruption);
}

// A snapshot that does not fit on the disk (a 1 MiB tmpfs mounted for the test; needs root and
// mount rights, as on the CI machine): the error says the disk is full, which snapshot and how
// big it is, and nothing of it is left taking space; the snapshot before it still loads, and a
// smaller one still saves.
TEST(SnapshotStoreDiskFull, ASnapshotThatDoesNotFitSaysSoAndLeavesNothing) {
  test::SmallFs small(1 << 20);
  if (!small.mounted()) {
    GTEST_SKIP() << small.why();
  }
  auto store = open_store(small.path() + "/snaps");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->save(snapshot(10, 1, binary(1000))).ok());
  const std::uint64_t free_before = small.free_bytes();
  const Status failed = store->save(snapshot(20, 2, binary(2 << 20)));
  ASSERT_FALSE(failed.ok());
  std::printf("%s\n", failed.to_string().c_str());
  EXPECT_EQ(failed.code(), ErrorCode::kStorage) << failed.to_string();
  const std::string& m = failed.message();
  EXPECT_NE(m.find("no space left on device"), std::string::npos) << m;
  EXPECT_NE(m.find("disk is full"), std::string::npos) << m;
  EXPECT_NE(m.find("snapshot 20/2"), std::string::npos) << m;
  EXPECT_NE(m.find(std::to_string(2 << 20) + " bytes"), std::string::npos) << m;
  EXPECT_NE(m.find(small.path() + "/snaps"), std::string::npos) << m;
  EXPECT_EQ(small.free_bytes(), free_before) << "the failed snapshot still takes space";
  auto kept = store->load_latest();
  ASSERT_TRUE(kept.ok()) << kept.status().to_string();
  EXPECT_EQ(kept->meta.last.index, Index{10});
  EXPECT_EQ(kept->data.view(), binary(1000));
  EXPECT_TRUE(store->save(snapshot(30, 2, binary(2000))).ok());
}

}  // namespace
}  // namespace skiff
