// LmdbStorage: the conformance suite, and what only a disk adapter can get wrong — bad paths
// and directories, another cluster's or node's data, a foreign format version, checksums on
// every record, and a map that grows when full.
#include "skiff/storage/lmdb_storage.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "skiff/testing/storage_conformance.h"
#include "storage/small_fs.h"
#include "support/temp_dir.h"

namespace skiff {
namespace {

using test::TempDir;

ConfState voters(std::initializer_list<std::uint64_t> ids) {
  ConfState cs;
  for (std::uint64_t id : ids) {
    cs.voters.push_back(NodeId{id});
  }
  return cs;
}

LmdbOptions options(const std::string& path, const ConfState& bootstrap = voters({1, 2, 3})) {
  LmdbOptions o;
  o.path = path;
  o.cluster_id = 7;
  o.node_id = NodeId{1};
  o.bootstrap = bootstrap;
  o.initial_map_size = 1 << 20;
  return o;
}

class LmdbHarness final : public testing::StorageHarness {
 public:
  Storage& create(const ConfState& members) override {
    bootstrap_ = members;
    storage_.reset();
    return open();
  }
  Storage& reopen() override {
    storage_.reset();  // close first: one environment per process and path
    return open();
  }

 private:
  Storage& open() {
    auto s = LmdbStorage::open(options(dir_.path() + "/node", bootstrap_));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    if (!s.ok()) {
      std::abort();  // the suite cannot go on without a storage
    }
    storage_ = std::move(s).value();
    return *storage_;
  }

  TempDir dir_;
  ConfState bootstrap_;
  std::unique_ptr<LmdbStorage> storage_;
};

const bool registered = testing::register_storage_conformance(
    "LmdbStorage", [] { return std::make_unique<LmdbHarness>(); });

Entry entry(std::uint64_t index, std::uint64_t term, std::string data) {
  Entry e;
  e.index = Index{index};
  e.term = Term{term};
  e.data = Bytes(std::move(data));
  return e;
}

WriteBatch batch(std::vector<Entry> ents, HardState hs) {
  WriteBatch b;
  b.entries = std::move(ents);
  b.hard_state = hs;
  return b;
}

TEST(LmdbStorageOpen, APathThatIsAFileIsRefused) {
  TempDir dir;
  const std::string file = dir.path() + "/file";
  std::ofstream(file) << "not a directory";
  auto s = LmdbStorage::open(options(file));
  EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("is not a directory"), std::string::npos)
      << s.status().message();
}

TEST(LmdbStorageOpen, AReadOnlyDirectoryIsAClearStorageError) {
  if (geteuid() == 0) {
    GTEST_SKIP() << "root ignores directory permissions";
  }
  TempDir dir;
  const std::string path = dir.path() + "/ro";
  std::filesystem::create_directory(path);
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  auto s = LmdbStorage::open(options(path));
  EXPECT_EQ(s.status().code(), ErrorCode::kStorage);
  EXPECT_NE(s.status().message().find(path), std::string::npos) << s.status().message();
}

// A read-only file system (here /proc, read-only even for root) is refused the same way.
TEST(LmdbStorageOpen, AReadOnlyFileSystemIsAClearStorageError) {
  auto s = LmdbStorage::open(options("/proc/self/skiff-lmdb"));
  EXPECT_EQ(s.status().code(), ErrorCode::kStorage);
  EXPECT_NE(s.status().message().find("/proc/self/skiff-lmdb"), std::string::npos)
      << s.status().message();
}

TEST(LmdbStorageOpen, BadOptionsAreRefused) {
  TempDir dir;
  LmdbOptions o = options(dir.path());
  o.node_id = kNoNode;
  EXPECT_EQ(LmdbStorage::open(o).status().code(), ErrorCode::kInvalidArgument);
  o = options("");
  EXPECT_EQ(LmdbStorage::open(o).status().code(), ErrorCode::kInvalidArgument);
  o = options(dir.path());
  o.initial_map_size = 1000;
  EXPECT_EQ(LmdbStorage::open(o).status().code(), ErrorCode::kInvalidArgument);
  o = options(dir.path(), voters({1, 1}));
  EXPECT_EQ(LmdbStorage::open(o).status().code(), ErrorCode::kInvalidArgument);
}

TEST(LmdbStorageOpen, AnotherClustersOrNodesDirectoryIsRefusedNamingBoth) {
  TempDir dir;
  ASSERT_TRUE(LmdbStorage::open(options(dir.path())).ok());
  LmdbOptions other = options(dir.path());
  other.cluster_id = 8;
  auto s = LmdbStorage::open(other);
  EXPECT_EQ(s.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("cluster 7 node 1, not to cluster 8 node 1"),
            std::string::npos)
      << s.status().message();
  other = options(dir.path());
  other.node_id = NodeId{2};
  EXPECT_EQ(LmdbStorage::open(other).status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(LmdbStorage::open(options(dir.path())).ok());  // its owner still opens it
}

// A directory written by a future (or foreign) format version is refused, not misread.
TEST(LmdbStorageOpen, AnotherFormatVersionIsRefused) {
  TempDir dir;
  ASSERT_TRUE(LmdbStorage::open(options(dir.path())).ok());
  {
    // Rewrite the format record with raw LMDB, as a later version of skiff would have.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 2);
    ASSERT_EQ(mdb_env_open(env, dir.path().c_str(), 0, 0644), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi meta = 0;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    char key[] = "format";
    char version[4] = {2, 0, 0, 0};
    MDB_val k{sizeof key - 1, key};
    MDB_val v{sizeof version, version};
    ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto s = LmdbStorage::open(options(dir.path()));
  EXPECT_EQ(s.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("format version 2"), std::string::npos)
      << s.status().message();
}

// Overwrites, inside data.mdb, the first occurrence of `from` with `to` (same length).
bool patch_file(const std::string& file, const std::string& from, const std::string& to) {
  // Sized read rather than istreambuf_iterator: gcc 12 -O2 warns falsely on the latter.
  std::string data(std::filesystem::file_size(file), '\0');
  std::ifstream in(file, std::ios::binary);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  in.close();
  const std::size_t at = data.find(from);
  if (at == std::string::npos || from.size() != to.size()) {
    return false;
  }
  data.replace(at, from.size(), to);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << data;
  return true;
}

TEST(LmdbStorageCorruption, AFlippedByteInAnEntryIsACorruptionErrorNamingTheIndex) {
  TempDir dir;
  {
    auto s = LmdbStorage::open(options(dir.path()));
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->save(batch({entry(1, 1, "alpha-payload"), entry(2, 1, "bravo-payload"),
                                  entry(3, 1, "charlie-payload")},
                                 HardState{Term{1}, NodeId{1}, Index{3}}))
                    .ok());
  }
  ASSERT_TRUE(patch_file(dir.path() + "/data.mdb", "bravo-payload", "bravo-pAyload"));
  auto s = LmdbStorage::open(options(dir.path()));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto all = (*s)->entries(Index{1}, Index{4}, UINT64_MAX);
  EXPECT_EQ(all.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(all.status().message().find("entry 2"), std::string::npos) << all.status().message();
  EXPECT_EQ((*s)->term(Index{2}).status().code(), ErrorCode::kCorruption);
  auto first = (*s)->entries(Index{1}, Index{2}, UINT64_MAX);  // the others still read
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->front().data, Bytes("alpha-payload"));
}

TEST(LmdbStorageCorruption, AFlippedByteInTheSnapshotFailsTheOpen) {
  TempDir dir;
  {
    auto s = LmdbStorage::open(options(dir.path()));
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->save(batch({entry(1, 1, "a"), entry(2, 1, "b")},
                                 HardState{Term{1}, NodeId{1}, Index{2}}))
                    .ok());
    ASSERT_TRUE((*s)->create_snapshot(Index{2}, voters({1, 2, 3}), Bytes("snapshot-state")).ok());
  }
  ASSERT_TRUE(patch_file(dir.path() + "/data.mdb", "snapshot-state", "snapshot-stat3"));
  auto s = LmdbStorage::open(options(dir.path()));
  EXPECT_EQ(s.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(s.status().message().find("snapshot"), std::string::npos) << s.status().message();
}

TEST(LmdbStorageMap, AFullMapGrowsAndKeepsEverything) {
  TempDir dir;
  auto s = LmdbStorage::open(options(dir.path()));  // 1 MiB to start
  ASSERT_TRUE(s.ok());
  const std::uint64_t start = (*s)->map_size();
  const std::string payload(64 * 1024, 'p');
  for (std::uint64_t i = 1; i <= 64; ++i) {  // 4 MiB of entries
    ASSERT_TRUE(
        (*s)->save(batch({entry(i, 1, payload)}, HardState{Term{1}, NodeId{1}, Index{i}})).ok())
        << "entry " << i;
  }
  EXPECT_GT((*s)->map_size(), start);
  auto all = (*s)->entries(Index{1}, Index{65}, UINT64_MAX);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 64u);
}

TEST(LmdbStorageMap, AMapAtItsMaximumFailsClearlyAndKeepsTheLog) {
  TempDir dir;
  LmdbOptions o = options(dir.path());
  o.max_map_size = o.initial_map_size;
  auto s = LmdbStorage::open(o);
  ASSERT_TRUE(s.ok());
  const std::string payload(64 * 1024, 'p');
  Status failed;
  std::uint64_t i = 1;
  for (; i <= 64 && failed.ok(); ++i) {
    failed = (*s)->save(batch({entry(i, 1, payload)}, HardState{Term{1}, NodeId{1}, Index{i}}));
  }
  ASSERT_FALSE(failed.ok()) << "1 MiB never filled up";
  std::printf("%s\n", failed.to_string().c_str());
  EXPECT_EQ(failed.code(), ErrorCode::kStorage);
  EXPECT_NE(failed.message().find("map is full"), std::string::npos) << failed.message();
  // The option that sets the limit, so that the operator knows what to raise.
  EXPECT_NE(failed.message().find("LmdbOptions::max_map_size"), std::string::npos)
      << failed.message();
  const Index last = (*s)->last_index();
  EXPECT_EQ(last, Index{i - 2});  // everything before the failing batch, nothing of it
  auto all = (*s)->entries(Index{1}, last + 1, UINT64_MAX);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(all->size(), last.value);
  EXPECT_EQ((*s)->initial_state()->hard_state.commit, last);
}

// A disk that fills up: a 2 MiB tmpfs mounted for the test (needs root and mount rights, as on
// the CI machine; skipped elsewhere). LMDB reports a write the file system cut short as EIO;
// the adapter must say that the disk is full, where, and what it was writing. Everything saved
// before survives, a reopen on the full disk reads it all, and once space is freed writing
// goes on.
TEST(LmdbStorageDiskFull, AFullDiskIsReportedAsSuchAndTheLogIsKept) {
  test::SmallFs fs(2 << 20);
  if (!fs.mounted()) {
    GTEST_SKIP() << fs.why();
  }
  LmdbOptions o = options(fs.path() + "/node");
  o.max_map_size = std::uint64_t{64} << 20;  // the disk, not the map, is the limit
  auto s = LmdbStorage::open(o);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_TRUE(fs.fill(1 << 20));  // a second writer takes half of the disk
  const std::string payload(32 * 1024, 'p');
  Status failed;
  std::uint64_t i = 1;
  for (; i <= 200 && failed.ok(); ++i) {
    failed = (*s)->save(batch({entry(i, 1, payload)}, HardState{Term{1}, NodeId{1}, Index{i}}));
  }
  ASSERT_FALSE(failed.ok()) << "a 2 MiB disk never filled up";
  std::printf("disk full after %llu entries: %s\n", static_cast<unsigned long long>(i - 2),
              failed.to_string().c_str());
  EXPECT_EQ(failed.code(), ErrorCode::kStorage) << failed.to_string();
  const std::string& m = failed.message();
  EXPECT_NE(m.find("no space left on device"), std::string::npos) << m;
  EXPECT_NE(m.find("disk is full"), std::string::npos) << m;
  EXPECT_NE(m.find(o.path), std::string::npos) << m;            // where
  EXPECT_NE(m.find("saving 1 entry"), std::string::npos) << m;  // what
  const Index last = (*s)->last_index();
  EXPECT_EQ(last, Index{i - 2});
  s = Result<std::unique_ptr<LmdbStorage>>(Status(ErrorCode::kUnavailable, "closed"));
  // Reopened on the disk that is still full: everything acknowledged is there.
  auto again = LmdbStorage::open(o);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ((*again)->last_index(), last);
  auto all = (*again)->entries(Index{1}, last + 1, UINT64_MAX);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(all->size(), last.value);
  EXPECT_EQ((*again)->initial_state()->hard_state.commit, last);
  // Space freed: the log takes new entries, and they survive a reopen.
  fs.unfill();
  for (std::uint64_t k = last.value + 1; k <= last.value + 10; ++k) {
    ASSERT_TRUE(
        (*again)->save(batch({entry(k, 1, payload)}, HardState{Term{1}, NodeId{1}, Index{k}})).ok())
        << "entry " << k;
  }
  again = Result<std::unique_ptr<LmdbStorage>>(Status(ErrorCode::kUnavailable, "closed"));
  auto third = LmdbStorage::open(o);
  ASSERT_TRUE(third.ok()) << third.status().to_string();
  EXPECT_EQ((*third)->last_index(), last + 10);
  auto more = (*third)->entries(Index{1}, last + 11, UINT64_MAX);
  ASSERT_TRUE(more.ok()) << more.status().to_string();
  EXPECT_EQ(more->size(), last.value + 10);
  EXPECT_EQ((*third)->initial_state()->hard_state.commit, last + 10);
}

// A new environment on a disk with no space at all: a clear error naming the path, never a
// crash (LMDB writes its lock file through a memory map, where a full tmpfs is a SIGBUS).
TEST(LmdbStorageDiskFull, ANewEnvironmentOnAFullDiskIsAClearError) {
  test::SmallFs fs(1 << 20);
  if (!fs.mounted()) {
    GTEST_SKIP() << fs.why();
  }
  ASSERT_TRUE(fs.fill());
  const LmdbOptions o = options(fs.path() + "/node");
  auto s = LmdbStorage::open(o);
  ASSERT_FALSE(s.ok());
  std::printf("%s\n", s.status().to_string().c_str());
  EXPECT_EQ(s.status().code(), ErrorCode::kStorage) << s.status().to_string();
  EXPECT_NE(s.status().message().find("no space left on device"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find(o.path), std::string::npos) << s.status().message();
  // Once there is room, the same directory opens as a new environment.
  fs.unfill();
  auto later = LmdbStorage::open(o);
  ASSERT_TRUE(later.ok()) << later.status().to_string();
  EXPECT_TRUE(
      (*later)->save(batch({entry(1, 1, "x")}, HardState{Term{1}, NodeId{1}, Index{1}})).ok());
}

}  // namespace
}  // namespace skiff
