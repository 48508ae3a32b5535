// WalStorage: the conformance suite, and what only this adapter can get wrong — bad options and
// directories, another cluster's or node's log, a second opener, segments rolling over and
// being deleted after compaction (the replay then starts from a later segment), a torn tail
// (cut off, zeroed, and never resurrected by later writes), corruption elsewhere, snapshot
// files (missing, left over), a full disk.
#include "skiff/storage/wal_storage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "skiff/testing/storage_conformance.h"
#include "storage/small_fs.h"
#include "support/temp_dir.h"

namespace skiff {
namespace {

using test::TempDir;
namespace fs = std::filesystem;

constexpr std::uint64_t kSmallSegment = 64 << 10;
// In a batch record of one entry with a hard state, the bytes before the payload: 12 of frame,
// 1 type, 1 flags, 24 hard state, 8 count, 8 first index, 8 term, 1 entry type, 8 length.
constexpr std::uint64_t kBeforePayload = 12 + 1 + 1 + 24 + 8 + 8 + 8 + 1 + 8;

ConfState voters(std::initializer_list<std::uint64_t> ids) {
  ConfState cs;
  for (std::uint64_t id : ids) {
    cs.voters.push_back(NodeId{id});
  }
  return cs;
}

WalOptions options(const std::string& path, const ConfState& bootstrap = voters({1, 2, 3})) {
  WalOptions o;
  o.path = path;
  o.cluster_id = 7;
  o.node_id = NodeId{1};
  o.bootstrap = bootstrap;
  o.segment_size = kSmallSegment;
  return o;
}

class WalHarness final : public testing::StorageHarness {
 public:
  Storage& create(const ConfState& members) override {
    bootstrap_ = members;
    storage_.reset();
    return open();
  }
  Storage& reopen() override {
    storage_.reset();  // close first: the directory is locked while open
    return open();
  }

 private:
  Storage& open() {
    auto s = WalStorage::open(options(dir_.path() + "/node", bootstrap_));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    if (!s.ok()) {
      std::abort();  // the suite cannot go on without a storage
    }
    storage_ = std::move(s).value();
    return *storage_;
  }

  TempDir dir_;
  ConfState bootstrap_;
  std::unique_ptr<WalStorage> storage_;
};

const bool registered = testing::register_storage_conformance(
    "WalStorage", [] { return std::make_unique<WalHarness>(); });

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

std::unique_ptr<WalStorage> open_ok(const WalOptions& o) {
  auto s = WalStorage::open(o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Appends entries first..last (term 1, `size` bytes each), one batch each, committed.
void append_range(WalStorage& s, std::uint64_t first, std::uint64_t last, std::size_t size) {
  for (std::uint64_t i = first; i <= last; ++i) {
    ASSERT_TRUE(s.save(batch({entry(i, 1, std::to_string(i) + std::string(size, 'x'))},
                             HardState{Term{1}, NodeId{1}, Index{i}}))
                    .ok());
  }
}

// Checks that entries lo..hi are there with the payloads append_range wrote.
void expect_entries(const WalStorage& s, std::uint64_t lo, std::uint64_t hi, std::size_t size) {
  auto all = s.entries(Index{lo}, Index{hi + 1}, UINT64_MAX);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  ASSERT_EQ(all->size(), hi - lo + 1);
  for (std::uint64_t i = lo; i <= hi; ++i) {
    EXPECT_EQ((*all)[i - lo].data.view(), std::to_string(i) + std::string(size, 'x')) << i;
  }
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("wal-", 0) == 0) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string out;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<std::size_t>(in.gcount()));
  }
  return out;
}

void write_at(const std::string& path, std::uint64_t offset, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

// The offset just past the last non-zero byte of a segment: where its data ends.
std::uint64_t data_end(const std::string& path) {
  const std::string data = read_all(path);
  std::uint64_t end = data.size();
  while (end > 0 && data[end - 1] == 0) {
    --end;
  }
  return end;
}

TEST(WalStorageOpen, BadOptionsAreRefused) {
  TempDir dir;
  WalOptions o = options(dir.path());
  o.node_id = kNoNode;
  EXPECT_EQ(WalStorage::open(o).status().code(), ErrorCode::kInvalidArgument);
  o = options("");
  EXPECT_EQ(WalStorage::open(o).status().code(), ErrorCode::kInvalidArgument);
  o = options(dir.path());
  o.segment_size = 1000;
  EXPECT_EQ(WalStorage::open(o).status().code(), ErrorCode::kInvalidArgument);
  o = options(dir.path(), voters({1, 1}));
  EXPECT_EQ(WalStorage::open(o).status().code(), ErrorCode::kInvalidArgument);
  const std::string file = dir.path() + "/file";
  std::ofstream(file) << "not a directory";
  auto s = WalStorage::open(options(file));
  EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("is not a directory"), std::string::npos);
}

TEST(WalStorageOpen, AReadOnlyFileSystemIsAClearStorageError) {
  auto s = WalStorage::open(options("/proc/self/skiff-wal"));
  EXPECT_EQ(s.status().code(), ErrorCode::kStorage);
  EXPECT_NE(s.status().message().find("/proc/self/skiff-wal"), std::string::npos)
      << s.status().message();
}

TEST(WalStorageOpen, AnotherClustersOrNodesDirectoryIsRefusedNamingBoth) {
  TempDir dir;
  open_ok(options(dir.path()));
  WalOptions other = options(dir.path());
  other.cluster_id = 8;
  auto s = WalStorage::open(other);
  EXPECT_EQ(s.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("cluster 7 node 1, not to cluster 8 node 1"),
            std::string::npos)
      << s.status().message();
  other = options(dir.path());
  other.node_id = NodeId{2};
  EXPECT_EQ(WalStorage::open(other).status().code(), ErrorCode::kFailedPrecondition);
}

TEST(WalStorageOpen, ASecondOpenerIsRefusedWhileTheFirstHoldsIt) {
  TempDir dir;
  auto first = open_ok(options(dir.path()));
  auto second = WalStorage::open(options(dir.path()));
  EXPECT_EQ(second.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("is open elsewhere"), std::string::npos)
      << second.status().message();
  first.reset();
  EXPECT_TRUE(WalStorage::open(options(dir.path())).ok());
}

TEST(WalStorageOpen, TheIncarnationIsKeptAcrossReopensAndNewForANewDirectory) {
  TempDir dir;
  std::uint64_t first = 0;
  {
    auto s = open_ok(options(dir.path() + "/a"));
    first = s->incarnation();
    EXPECT_NE(first, 0U);
  }
  EXPECT_EQ(open_ok(options(dir.path() + "/a"))->incarnation(), first);
  EXPECT_NE(open_ok(options(dir.path() + "/b"))->incarnation(), first);
}

TEST(WalStorageSegments, TheLogRollsOverAndReplaysAcrossSegments) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 400, 1000);  // ~400 KiB: several 64 KiB segments
    EXPECT_GE(s->segment_count(), 5U);
  }
  auto s = open_ok(options(dir.path()));
  EXPECT_GE(s->segment_count(), 5U);
  EXPECT_EQ(s->last_index(), Index{400});
  expect_entries(*s, 1, 400, 1000);
  EXPECT_EQ(s->initial_state()->hard_state.commit, Index{400});
}

TEST(WalStorageSegments, ABatchLargerThanASegmentGetsOneOfItsOwn) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 3, 10);
    ASSERT_TRUE(s->save(batch({entry(4, 1, std::string(200 << 10, 'b'))},
                              HardState{Term{1}, NodeId{1}, Index{4}}))
                    .ok());
    append_range(*s, 5, 6, 10);
  }
  auto s = open_ok(options(dir.path()));
  EXPECT_EQ(s->last_index(), Index{6});
  EXPECT_EQ((*s->entries(Index{4}, Index{5}, UINT64_MAX))[0].data.size(), 200U << 10);
  expect_entries(*s, 5, 6, 10);
}

TEST(WalStorageSegments, CompactionDeletesOldSegmentsAndTheReplayStartsLater) {
  TempDir dir;
  std::size_t before = 0;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 400, 1000);
    before = s->segment_count();
    ASSERT_TRUE(s->create_snapshot(Index{300}, voters({1, 2, 3}), Bytes("state@300")).ok());
    ASSERT_TRUE(s->compact(Index{250}).ok());
    EXPECT_LT(s->segment_count(), before);
    EXPECT_EQ(s->first_index(), Index{251});
  }
  EXPECT_LT(segment_files(dir.path()).size(), before);
  auto s = open_ok(options(dir.path()));
  // Compacted entries may come back, but everything after the compaction point must be there,
  // and the log must still join the snapshot.
  EXPECT_LE(s->first_index(), Index{251});
  EXPECT_EQ(s->last_index(), Index{400});
  expect_entries(*s, 251, 400, 1000);
  EXPECT_TRUE(s->term(Index{s->first_index().value - 1}).ok());
  auto snap = s->snapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->meta.last.index, Index{300});
  EXPECT_EQ(snap->data.view(), "state@300");
  // And it goes on from there: more entries, another reopen.
  append_range(*s, 401, 450, 1000);
  s.reset();
  s = open_ok(options(dir.path()));
  expect_entries(*s, 251, 450, 1000);
}

TEST(WalStorageSegments, AReplayFromALaterSegmentSurvivesATruncationInIt) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 200, 1000);
    // A conflicting suffix replaced from 190 on, in a later segment.
    std::vector<Entry> repl;
    for (std::uint64_t i = 190; i <= 260; ++i) {
      repl.push_back(entry(i, 2, std::to_string(i) + std::string(1000, 'x')));
    }
    ASSERT_TRUE(s->save(batch(repl, HardState{Term{2}, NodeId{1}, Index{260}})).ok());
    ASSERT_TRUE(s->create_snapshot(Index{255}, voters({1, 2, 3}), Bytes("s")).ok());
    ASSERT_TRUE(s->compact(Index{255}).ok());
  }
  auto s = open_ok(options(dir.path()));
  EXPECT_EQ(s->last_index(), Index{260});
  expect_entries(*s, 256, 260, 1000);
  EXPECT_EQ(*s->term(Index{258}), Term{2});
  EXPECT_EQ(*s->term(Index{255}), Term{2});
}

TEST(WalStorageSegments, ReadersOnAnotherThreadSeeAConsistentLogWhileItRollsOver) {
  TempDir dir;
  auto s = open_ok(options(dir.path()));
  ASSERT_NE(s, nullptr);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      const Index first = s->first_index();
      const Index last = s->last_index();
      if (last >= first) {
        auto got = s->entries(first, last + 1, UINT64_MAX);
        // Compaction may run between the calls: then the range starts too early.
        if (got.ok()) {
          EXPECT_EQ(got->back().index, last);
        } else {
          EXPECT_EQ(got.status().code(), ErrorCode::kCompacted);
        }
      }
      reads.fetch_add(1);
    }
  });
  for (std::uint64_t i = 1; i <= 300; ++i) {
    ASSERT_TRUE(s->save(batch({entry(i, 1, std::string(1000, 'r'))},
                              HardState{Term{1}, NodeId{1}, Index{i}}))
                    .ok());
    if (i % 100 == 0) {
      ASSERT_TRUE(s->create_snapshot(Index{i - 10}, voters({1, 2, 3}), Bytes("s")).ok());
      ASSERT_TRUE(s->compact(Index{i - 20}).ok());
    }
  }
  done.store(true);
  reader.join();
  EXPECT_GT(reads.load(), 0U);
  EXPECT_EQ(s->last_index(), Index{300});
}

TEST(WalStorageSnapshots, InstallingASnapshotReplacesTheLogAndItsFile) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 10, 10);
    ASSERT_TRUE(s->create_snapshot(Index{5}, voters({1, 2, 3}), Bytes("five")).ok());
    WriteBatch b;
    b.snapshot =
        Snapshot{SnapshotMeta{EntryId{Term{3}, Index{50}}, voters({1, 2})}, Bytes("fifty")};
    b.entries = {entry(51, 3, "51x"), entry(52, 3, "52x")};
    b.hard_state = HardState{Term{3}, NodeId{2}, Index{52}};
    ASSERT_TRUE(s->save(b).ok());
  }
  // One snapshot file: the old one went once the new one's record was durable.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path() + "/snapshots")) {
    ++files;
  }
  EXPECT_EQ(files, 1U);
  auto s = open_ok(options(dir.path()));
  EXPECT_EQ(s->first_index(), Index{51});
  EXPECT_EQ(s->last_index(), Index{52});
  EXPECT_EQ(s->snapshot()->data.view(), "fifty");
  EXPECT_EQ(s->initial_state()->conf_state, voters({1, 2}));
  EXPECT_EQ(s->initial_state()->hard_state.vote, NodeId{2});
}

TEST(WalStorageSnapshots, ALeftoverSnapshotFileIsRemovedAndAMissingOneIsCorruption) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 10, 10);
    ASSERT_TRUE(s->create_snapshot(Index{5}, voters({1, 2, 3}), Bytes("five")).ok());
  }
  const std::string snaps = dir.path() + "/snapshots";
  std::string named;
  for (const auto& e : fs::directory_iterator(snaps)) {
    named = e.path().string();
  }
  // A save that wrote its snapshot file and crashed before its record: a leftover.
  const std::string leftover = snaps + "/snap-00000000000000000009-00000000000000000001.snap";
  fs::copy_file(named, leftover);
  open_ok(options(dir.path()));
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_TRUE(fs::exists(named));
  fs::remove(named);
  auto s = WalStorage::open(options(dir.path()));
  EXPECT_EQ(s.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(s.status().message().find("cannot be read"), std::string::npos) << s.status().message();
}

TEST(WalStorageRecovery, ATornTailIsCutAndNeverComesBack) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 10, 100);
  }
  // Tear entry 8's record as a crash does: the page holding its start never reached the disk,
  // so from there to the page's end it reads as the zeros the segment was filled with. What
  // follows (9 and 10, also unacknowledged then) goes with it.
  auto segs = segment_files(dir.path());
  const std::string active = segs.front();
  const std::string data = read_all(active);
  const std::size_t payload = data.find("8" + std::string(100, 'x'));
  ASSERT_NE(payload, std::string::npos);
  const std::size_t at = payload - kBeforePayload;
  write_at(active, at, std::string(4096 - at % 4096, '\0'));
  {
    auto s = open_ok(options(dir.path()));
    EXPECT_EQ(s->last_index(), Index{7});
    expect_entries(*s, 1, 7, 100);
    // A shorter record where entry 8's was: the bytes of 9 and 10 behind it must not be read
    // as records again (they were zeroed at the open).
    ASSERT_TRUE(
        s->save(batch({entry(8, 2, "short")}, HardState{Term{2}, NodeId{1}, Index{8}})).ok());
  }
  auto s = open_ok(options(dir.path()));
  EXPECT_EQ(s->last_index(), Index{8});
  EXPECT_EQ((*s->entries(Index{8}, Index{9}, UINT64_MAX))[0].data.view(), "short");
}

TEST(WalStorageRecovery, AFlippedByteInTheNewestSegmentIsCorruptionNotATornTail) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 10, 100);
  }
  // Entry 5's record, written whole and acknowledged, then damaged: no sector of it is zero,
  // so dropping it and everything after as a torn tail would lose acknowledged entries.
  const std::string seg = segment_files(dir.path()).front();
  const std::size_t payload = read_all(seg).find("5" + std::string(100, 'x'));
  ASSERT_NE(payload, std::string::npos);
  write_at(seg, payload + 40, "y");
  auto s = WalStorage::open(options(dir.path()));
  EXPECT_EQ(s.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(s.status().message().find("is not a write a crash tore"), std::string::npos)
      << s.status().message();
}

TEST(WalStorageRecovery, ABadRecordBeforeTheLastSegmentIsCorruptionNamingIt) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 200, 1000);
  }
  auto segs = segment_files(dir.path());
  ASSERT_GE(segs.size(), 3U);
  const std::string data = read_all(segs[1]);
  const std::size_t at = data.find(std::string(1000, 'x'));
  ASSERT_NE(at, std::string::npos);
  write_at(segs[1], at + 10, "ROT");
  auto s = WalStorage::open(options(dir.path()));
  EXPECT_EQ(s.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(s.status().message().find(fs::path(segs[1]).filename().string()), std::string::npos)
      << s.status().message();
}

TEST(WalStorageRecovery, AMissingSegmentInTheMiddleIsCorruption) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 200, 1000);
  }
  auto segs = segment_files(dir.path());
  ASSERT_GE(segs.size(), 3U);
  fs::remove(segs[1]);
  auto s = WalStorage::open(options(dir.path()));
  EXPECT_EQ(s.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(s.status().message().find("is missing"), std::string::npos) << s.status().message();
}

TEST(WalStorageRecovery, ASegmentWithATornHeaderAtTheEndHeldNothingAcknowledged) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 100, 1000);
  }
  // The segment after the last one with data (the preparer made it), torn while its header
  // was written.
  auto segs = segment_files(dir.path());
  while (!segs.empty() && data_end(segs.back()) == 0) {
    segs.pop_back();
  }
  ASSERT_FALSE(segs.empty());
  const std::string last = segs.back();
  const std::uint64_t seq = std::stoull(fs::path(last).filename().string().substr(4), nullptr, 16);
  char name[32];
  std::snprintf(name, sizeof name, "wal-%016llx", static_cast<unsigned long long>(seq + 1));
  const std::string next = dir.path() + "/" + name;
  fs::remove(next);
  std::ofstream(next, std::ios::binary) << std::string(12, '\x7f') << std::string(1000, '\0');
  auto s = open_ok(options(dir.path()));
  EXPECT_EQ(s->last_index(), Index{100});
  expect_entries(*s, 1, 100, 1000);
  append_range(*s, 101, 150, 1000);
  s.reset();
  s = open_ok(options(dir.path()));
  expect_entries(*s, 1, 150, 1000);
}

TEST(WalStorageRecovery, ARecordCopiedToAnotherPlaceDoesNotCheck) {
  TempDir dir;
  {
    auto s = open_ok(options(dir.path()));
    append_range(*s, 1, 2, 100);
  }
  // Copy entry 1's record to the end: were it read there, it would truncate the log to 1. The
  // seed of a record's checksum is its place, so the copy fails its checksum.
  const std::string seg = segment_files(dir.path()).front();
  const std::string data = read_all(seg);
  const std::size_t one = data.find("1" + std::string(100, 'x'));
  const std::size_t two = data.find("2" + std::string(100, 'x'));
  ASSERT_NE(one, std::string::npos);
  ASSERT_NE(two, std::string::npos);
  const std::uint64_t start = one - kBeforePayload;
  const std::uint64_t length = (two - kBeforePayload) - start;
  write_at(seg, data_end(seg), std::string_view(data).substr(start, length));
  // Whole but out of place: damage, not a torn write (it would truncate the log to 1 if read).
  auto s = WalStorage::open(options(dir.path()));
  EXPECT_EQ(s.status().code(), ErrorCode::kCorruption) << s.status().to_string();
}

// Copies directory `from` to `to` (replacing it).
void copy_dir(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

// A log of 120 entries over several segments with a snapshot, compaction and a truncation.
void write_sample_log(const std::string& dir) {
  auto s = open_ok(options(dir));
  ASSERT_NE(s, nullptr);
  append_range(*s, 1, 100, 1500);
  ASSERT_TRUE(s->create_snapshot(Index{60}, voters({1, 2, 3}), Bytes("sixty")).ok());
  ASSERT_TRUE(s->compact(Index{50}).ok());
  std::vector<Entry> repl;
  for (std::uint64_t i = 95; i <= 120; ++i) {
    repl.push_back(entry(i, 2, std::to_string(i) + std::string(1500, 'x')));
  }
  ASSERT_TRUE(s->save(batch(repl, HardState{Term{2}, NodeId{2}, Index{120}})).ok());
}

// Whatever opened must be a consistent log: readable from first to last, terms known.
void expect_consistent(WalStorage& s) {
  const Index first = s.first_index();
  const Index last = s.last_index();
  ASSERT_LE(first.value, last.value + 1);
  EXPECT_TRUE(s.term(Index{first.value - 1}).ok());
  auto all = s.entries(first, last + 1, UINT64_MAX);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(all->size(), last.value - first.value + 1);
  EXPECT_TRUE(s.initial_state().ok());
  EXPECT_TRUE(s.snapshot().ok());
}

// Damage a disk can hand back (flipped bytes anywhere, a page of zeros, a file cut short) is
// either recovered (a torn tail) or refused with kCorruption or kFailedPrecondition: never a
// crash, never a log that reads inconsistently. Under ASan + UBSan in ./scripts/test.
TEST(WalStorageRecovery, RandomDamageIsRecoveredOrRefusedNeverACrash) {
  TempDir dir;
  const std::string pristine = dir.path() + "/pristine";
  const std::string work = dir.path() + "/work";
  write_sample_log(pristine);
  std::mt19937_64 rng(20261125);
  int opened = 0;
  int refused = 0;
  for (int round = 0; round < 150; ++round) {
    copy_dir(pristine, work);
    auto segs = segment_files(work);
    ASSERT_FALSE(segs.empty());
    const std::string victim = segs[rng() % segs.size()];
    const std::uint64_t end = std::max<std::uint64_t>(data_end(victim), 1);
    if (round % 5 == 0) {
      fs::resize_file(victim, rng() % end);  // cut short
    } else if (round % 5 == 1) {
      // A page that reads as zeros: in the newest segment that is what a crash leaves of an
      // unsynced write (recovered as a torn tail); anywhere else, damage.
      const std::uint64_t page = (rng() % end) / 4096 * 4096;
      write_at(victim, page, std::string(4096, '\0'));
    } else {
      for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
        write_at(victim, rng() % end, std::string(1, static_cast<char>(rng())));
      }
    }
    auto s = WalStorage::open(options(work));
    if (s.ok()) {
      ++opened;
      expect_consistent(**s);
    } else {
      ++refused;
      EXPECT_TRUE(s.status().code() == ErrorCode::kCorruption ||
                  s.status().code() == ErrorCode::kFailedPrecondition)
          << s.status().to_string();
    }
  }
  std::printf("150 damaged logs: %d opened consistent, %d refused\n", opened, refused);
  EXPECT_GT(opened, 0);
  EXPECT_GT(refused, 0);
}

// Records that pass their checksum but hold garbage (a bug, or a deliberate forgery): the
// parsers check every length and value. Appended after the last good record of the newest
// segment, each framed as the format says.
TEST(WalStorageRecovery, WellFramedGarbageRecordsAreRefusedNeverACrash) {
  TempDir dir;
  const std::string pristine = dir.path() + "/pristine";
  const std::string work = dir.path() + "/work";
  write_sample_log(pristine);
  std::mt19937_64 rng(7);
  int refused = 0;
  for (int round = 0; round < 300; ++round) {
    copy_dir(pristine, work);
    auto segs = segment_files(work);
    while (segs.size() > 1 && data_end(segs.back()) == 0) {
      fs::remove(segs.back());
      segs.pop_back();
    }
    const std::string seg = segs.back();
    const std::uint64_t seq = std::stoull(fs::path(seg).filename().string().substr(4), nullptr, 16);
    const std::uint64_t at = data_end(seg);
    // A body of a valid type, then random bytes, sometimes shaped like a batch.
    std::string body(1, static_cast<char>(1 + rng() % 3));
    const std::size_t len = rng() % 64;
    for (std::size_t k = 0; k < len; ++k) {
      body.push_back(static_cast<char>(rng() % 4 == 0 ? rng() : 0));
    }
    std::string rec;
    const auto u32 = static_cast<std::uint32_t>(body.size());
    rec.append(reinterpret_cast<const char*>(&u32), 4);
    const std::uint64_t sum =
        XXH3_64bits_withSeed(body.data(), body.size(), (seq * 0x9E3779B97F4A7C15ULL) ^ at);
    rec.append(reinterpret_cast<const char*>(&sum), 8);
    rec += body;
    write_at(seg, at, rec);
    auto s = WalStorage::open(options(work));
    if (s.ok()) {
      expect_consistent(**s);  // a garbage record that happens to mean something valid
    } else {
      ++refused;
      EXPECT_EQ(s.status().code(), ErrorCode::kCorruption) << s.status().to_string();
    }
  }
  std::printf("300 forged records: %d refused\n", refused);
  EXPECT_GT(refused, 250);
}

bool has_temporary_file(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) {
      return true;
    }
  }
  return false;
}

// Waits (bounded) until the preparer has put segment `seq` in place.
bool wait_for_segment(const std::string& dir, std::size_t seq) {
  char name[32];
  std::snprintf(name, sizeof name, "wal-%016zx", seq);
  for (int k = 0; k < 1000 && !fs::exists(dir + "/" + name); ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return fs::exists(dir + "/" + name);
}

// A disk that fills up: a 2 MiB tmpfs mounted for the test (needs root and mount rights, as on
// the CI machine; skipped elsewhere). The save that cannot go on says the disk is full, where,
// and which option sizes what it needed; nothing it tried is left taking space; everything
// acknowledged survives a reopen on the full disk, and once space is freed a reopened log
// writes on, across roll-overs.
TEST(WalStorageDiskFull, AFullDiskIsReportedAsSuchAndTheLogIsKept) {
  test::SmallFs small(2 << 20);
  if (!small.mounted()) {
    GTEST_SKIP() << small.why();
  }
  WalOptions o = options(small.path() + "/node");
  auto s = open_ok(o);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(small.fill(512 << 10));  // a second writer takes most of the disk
  const std::size_t payload = 32 * 1024;
  Status failed;
  std::uint64_t i = 1;
  for (; i <= 200 && failed.ok(); ++i) {
    failed = s->save(batch({entry(i, 1, std::to_string(i) + std::string(payload, 'x'))},
                           HardState{Term{1}, NodeId{1}, Index{i}}));
  }
  ASSERT_FALSE(failed.ok()) << "a 2 MiB disk never filled up";
  std::printf("disk full after %llu entries: %s\n", static_cast<unsigned long long>(i - 2),
              failed.to_string().c_str());
  EXPECT_EQ(failed.code(), ErrorCode::kStorage) << failed.to_string();
  const std::string& m = failed.message();
  EXPECT_NE(m.find("no space left on device"), std::string::npos) << m;
  EXPECT_NE(m.find("disk is full"), std::string::npos) << m;
  EXPECT_NE(m.find(o.path), std::string::npos) << m;
  EXPECT_NE(m.find("WalOptions::segment_size"), std::string::npos) << m;  // sizes the segment
  EXPECT_FALSE(has_temporary_file(o.path)) << "a failed preallocation still takes space";
  const Index last = s->last_index();
  EXPECT_EQ(last, Index{i - 2});
  // Every later write fails the same way; reads go on.
  EXPECT_EQ(s->save(batch({}, HardState{Term{1}, NodeId{1}, last})).code(), ErrorCode::kStorage);
  EXPECT_EQ(s->entries(Index{1}, last + 1, UINT64_MAX)->size(), last.value);
  s.reset();
  auto again = open_ok(o);  // the disk is still full
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->last_index(), last);
  EXPECT_EQ(again->initial_state()->hard_state.commit, last);
  expect_entries(*again, 1, last.value, payload);
  again.reset();
  small.unfill();
  auto third = open_ok(o);
  ASSERT_NE(third, nullptr);
  append_range(*third, last.value + 1, last.value + 8, payload);  // 4 more segments
  third.reset();
  auto fourth = open_ok(o);
  ASSERT_NE(fourth, nullptr);
  EXPECT_EQ(fourth->last_index(), last + 8);
  expect_entries(*fourth, 1, last.value + 8, payload);
}

// A batch larger than a segment grows its segment past the space preallocated: on a full disk
// that write fails, saying so and how big the batch was; the log before it is intact.
TEST(WalStorageDiskFull, ABatchThatDoesNotFitOnTheDiskSaysHowBigItWas) {
  test::SmallFs small(2 << 20);
  if (!small.mounted()) {
    GTEST_SKIP() << small.why();
  }
  WalOptions o = options(small.path() + "/node");
  auto s = open_ok(o);
  ASSERT_NE(s, nullptr);
  append_range(*s, 1, 3, 100);
  ASSERT_TRUE(wait_for_segment(o.path, 2)) << "the next segment was never prepared";
  ASSERT_TRUE(small.fill());
  const Status failed = s->save(
      batch({entry(4, 1, std::string(256 << 10, 'b'))}, HardState{Term{1}, NodeId{1}, Index{4}}));
  ASSERT_FALSE(failed.ok());
  std::printf("%s\n", failed.to_string().c_str());
  EXPECT_EQ(failed.code(), ErrorCode::kStorage) << failed.to_string();
  const std::string& m = failed.message();
  EXPECT_NE(m.find("no space left on device"), std::string::npos) << m;
  EXPECT_NE(m.find("a batch of 1 entry"), std::string::npos) << m;
  EXPECT_NE(m.find("wal-0000000000000002"), std::string::npos) << m;
  EXPECT_EQ(s->last_index(), Index{3});
  s.reset();
  small.unfill();
  auto again = open_ok(o);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->last_index(), Index{3});
  expect_entries(*again, 1, 3, 100);
}

// A file system smaller than what a new log preallocates (two segments: the first and the next,
// made ahead of need): open says how much is free, how much is needed and which option to
// lower, and leaves nothing behind; with segments that fit, the log works and survives reopens.
TEST(WalStorageDiskFull, ADiskTooSmallForTheSegmentSizeIsAClearErrorAtOpen) {
  test::SmallFs small(2 << 20);
  if (!small.mounted()) {
    GTEST_SKIP() << small.why();
  }
  WalOptions o = options(small.path() + "/node");
  o.segment_size = WalOptions().segment_size;  // the default, 64 MiB
  auto refused = WalStorage::open(o);
  ASSERT_FALSE(refused.ok());
  const Status& st = refused.status();
  std::printf("%s\n", st.to_string().c_str());
  EXPECT_EQ(st.code(), ErrorCode::kStorage) << st.to_string();
  const std::uint64_t free = small.free_bytes();
  EXPECT_GT(free, std::uint64_t{1} << 20) << "the failed open left files taking space";
  EXPECT_NE(st.message().find(std::to_string(free) + " bytes free"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find(std::to_string(2 * o.segment_size) + " bytes"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("WalOptions::segment_size"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(o.path), std::string::npos) << st.message();
  EXPECT_FALSE(has_temporary_file(o.path));
  // 256 KiB segments fit: entries across several of them survive reopening.
  o.segment_size = 256 << 10;
  auto s = open_ok(o);
  ASSERT_NE(s, nullptr);
  append_range(*s, 1, 24, 32 * 1024);
  EXPECT_GT(s->segment_count(), 2u);
  s.reset();
  auto again = open_ok(o);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->last_index(), Index{24});
  expect_entries(*again, 1, 24, 32 * 1024);
}

}  // namespace
}  // namespace skiff
