// The flight recorder's writer (internal to skiff::node; the replay is public:
// include/skiff/node/flight_recorder.h). The node calls it on its core thread, once per input,
// in the order the core sees them.
//
// File format, version 1: the magic "SKIFFREC" and a version byte, then records, each
//   u8 kind · u32 payload length (little-endian) · payload
// The first record is the header (the core's Config and the storage the core started from);
// the rest are inputs. Integers are little-endian u64 unless noted; bytes are a u64 length and
// the bytes; messages are codec frames (include/skiff/codec/codec.h).
// Kinds are only ever added, never changed, so an older record still replays; a reader that
// meets a kind it does not know rejects the file (kCorruption). Added since the first:
// kSnapshotStatusAt (15), which names the snapshot reported on; writers no longer write
// kSnapshotStatus (10), but the replay still reads it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "skiff/conf_change.h"
#include "skiff/config.h"
#include "skiff/log_storage.h"
#include "skiff/message.h"
#include "skiff/result.h"

namespace skiff::node_detail {

/// Record kinds. Stable: they are in files.
enum class RecordKind : std::uint8_t {
  kHeader = 1,
  kTick = 2,
  kStep = 3,
  kPropose = 4,
  kConfChange = 5,
  kReadIndex = 6,
  kTransfer = 7,
  kCampaign = 8,
  kUnreachable = 9,
  kSnapshotStatus = 10,    // peer · ok: the report named no snapshot (written before kind 15)
  kReady = 11,             // ready() was taken
  kAdvance = 12,           // the Ready's write finished; advance() was called
  kSnapshotStored = 13,    // storage now holds this snapshot
  kCompacted = 14,         // storage compacted up to this index
  kSnapshotStatusAt = 15,  // peer · snapshot index · ok
};

class FlightRecorder {
 public:
  /// Creates (truncates) the file and writes the header: `config` and what `storage` holds.
  static Result<std::unique_ptr<FlightRecorder>> open(const std::string& path, const Config& config,
                                                      const LogStorage& storage);
  ~FlightRecorder();
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;

  void tick() { record(RecordKind::kTick, {}); }
  void step(const Message& m);
  void propose(std::string_view data) { record(RecordKind::kPropose, bytes(data)); }
  void conf_change(const ConfChange& cc);
  void read_index(std::string_view context) { record(RecordKind::kReadIndex, bytes(context)); }
  void transfer(NodeId to) { record(RecordKind::kTransfer, u64(to.value)); }
  void campaign() { record(RecordKind::kCampaign, {}); }
  void unreachable(NodeId peer) { record(RecordKind::kUnreachable, u64(peer.value)); }
  /// A transport's report on the snapshot at index `snapshot` sent to `peer`.
  void snapshot_status(NodeId peer, Index snapshot, bool ok);
  void ready() { record(RecordKind::kReady, {}); }
  /// Also flushes the file: the record reaches the kernel at least once per Ready.
  void advance();
  void snapshot_stored(Index index, const ConfState& cs, std::string_view data);
  /// Hands what is buffered to the kernel (Node::stop, so a stopped node's record is whole).
  void flush();
  void compacted(Index index) { record(RecordKind::kCompacted, u64(index.value)); }

  /// Whether a write failed (the recorder then stops writing; the node keeps running).
  bool failed() const { return failed_; }

  static std::string u64(std::uint64_t v);
  static std::string bytes(std::string_view b);

 private:
  explicit FlightRecorder(std::FILE* file) : file_(file) {}
  void record(RecordKind kind, const std::string& payload);

  std::FILE* file_;
  bool failed_ = false;
};

}  // namespace skiff::node_detail
