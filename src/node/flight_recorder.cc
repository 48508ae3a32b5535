// The flight recorder (flight_recorder.h) and its replay (skiff/node/flight_recorder.h).
#include "flight_recorder.h"

#include <cstring>
#include <optional>

#include "envelope.h"
#include "registry.h"
#include "skiff/codec/codec.h"
#include "skiff/memory_storage.h"
#include "skiff/node/flight_recorder.h"
#include "skiff/raw_node.h"
#include "skiff/storage.h"

namespace skiff::node_detail {
namespace {

constexpr std::string_view kMagic = "SKIFFREC";
constexpr char kVersion = 1;

void put(std::string& out, std::uint64_t v) {
  for (int k = 0; k < 8; ++k) {
    out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  }
}

void put_bytes(std::string& out, std::string_view b) {
  put(out, b.size());
  out.append(b);
}

void put_ids(std::string& out, const std::vector<NodeId>& ids) {
  put(out, ids.size());
  for (NodeId id : ids) {
    put(out, id.value);
  }
}

void put_conf(std::string& out, const ConfState& cs) {
  put_ids(out, cs.voters);
  put_ids(out, cs.learners);
  put_ids(out, cs.voters_outgoing);
  put_ids(out, cs.learners_next);
  put(out, cs.auto_leave ? 1 : 0);
}

void put_entry(std::string& out, const Entry& e) {
  put(out, e.term.value);
  put(out, e.index.value);
  put(out, static_cast<std::uint64_t>(e.type));
  put_bytes(out, e.data.view());
}

// Reads what put* wrote; every read checks bounds, so a damaged file is an error, not a crash.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u64(std::uint64_t& v) {
    if (in_.size() < 8) {
      return false;
    }
    v = 0;
    for (int k = 0; k < 8; ++k) {
      v |= std::uint64_t{static_cast<unsigned char>(in_[static_cast<std::size_t>(k)])} << (8 * k);
    }
    in_.remove_prefix(8);
    return true;
  }
  bool bytes(std::string_view& b) {
    std::uint64_t n = 0;
    if (!u64(n) || n > in_.size()) {
      return false;
    }
    b = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool ids(std::vector<NodeId>& out) {
    std::uint64_t n = 0;
    if (!u64(n) || n > in_.size() / 8) {
      return false;
    }
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t v = 0;
      if (!u64(v)) {
        return false;
      }
      out.push_back(NodeId{v});
    }
    return true;
  }
  bool conf(ConfState& cs) {
    std::uint64_t auto_leave = 0;
    if (!ids(cs.voters) || !ids(cs.learners) || !ids(cs.voters_outgoing) ||
        !ids(cs.learners_next) || !u64(auto_leave)) {
      return false;
    }
    cs.auto_leave = auto_leave != 0;
    return true;
  }
  bool entry(Entry& e) {
    std::uint64_t term = 0;
    std::uint64_t index = 0;
    std::uint64_t type = 0;
    std::string_view data;
    if (!u64(term) || !u64(index) || !u64(type) || !bytes(data) ||
        type > static_cast<std::uint64_t>(EntryType::kConfChange)) {
      return false;
    }
    e = Entry{Term{term}, Index{index}, static_cast<EntryType>(type), Bytes::copy_of(data)};
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

// The Config fields that decide the core's behaviour, in a fixed order.
void put_config(std::string& out, const Config& c) {
  for (std::uint64_t v :
       {c.id.value, std::uint64_t{c.election_tick}, std::uint64_t{c.heartbeat_tick}, c.seed,
        std::uint64_t{c.pre_vote}, std::uint64_t{c.check_quorum},
        std::uint64_t{c.forward_proposals}, c.max_size_per_msg, std::uint64_t{c.max_inflight_msgs},
        c.max_inflight_bytes, c.max_uncommitted_size, c.max_committed_size_per_ready,
        static_cast<std::uint64_t>(c.read_mode), std::uint64_t{c.max_clock_drift_percent},
        c.applied.value}) {
    put(out, v);
  }
}

bool read_config(Reader& r, Config& c) {
  std::uint64_t v[15];
  for (std::uint64_t& x : v) {
    if (!r.u64(x)) {
      return false;
    }
  }
  c.id = NodeId{v[0]};
  c.election_tick = static_cast<std::uint32_t>(v[1]);
  c.heartbeat_tick = static_cast<std::uint32_t>(v[2]);
  c.seed = v[3];
  c.pre_vote = v[4] != 0;
  c.check_quorum = v[5] != 0;
  c.forward_proposals = v[6] != 0;
  c.max_size_per_msg = v[7];
  c.max_inflight_msgs = static_cast<std::uint32_t>(v[8]);
  c.max_inflight_bytes = v[9];
  c.max_uncommitted_size = v[10];
  c.max_committed_size_per_ready = v[11];
  c.read_mode = v[12] == 1 ? ReadMode::kLease : ReadMode::kReadIndex;
  c.max_clock_drift_percent = static_cast<std::uint32_t>(v[13]);
  c.applied = Index{v[14]};
  return true;
}

}  // namespace

std::string FlightRecorder::u64(std::uint64_t v) {
  std::string out;
  put(out, v);
  return out;
}

std::string FlightRecorder::bytes(std::string_view b) {
  std::string out;
  put_bytes(out, b);
  return out;
}

Result<std::unique_ptr<FlightRecorder>> FlightRecorder::open(const std::string& path,
                                                             const Config& config,
                                                             const LogStorage& storage) {
  auto initial = storage.initial_state();
  if (!initial.ok()) {
    return initial.status();
  }
  auto snap = storage.snapshot();
  if (!snap.ok()) {
    return snap.status();
  }
  std::vector<Entry> entries;
  if (storage.last_index() >= storage.first_index()) {
    auto e = storage.entries(storage.first_index(), Index{storage.last_index().value + 1},
                             ~std::uint64_t{0});
    if (!e.ok()) {
      return e.status();
    }
    entries = std::move(*e);
  }
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return Status(ErrorCode::kInvalidArgument,
                  "flight recorder: cannot create " + path + ": " + std::strerror(errno));
  }
  std::unique_ptr<FlightRecorder> rec(new FlightRecorder(file));
  std::string head(kMagic);
  head.push_back(kVersion);
  if (std::fwrite(head.data(), 1, head.size(), file) != head.size()) {
    rec->failed_ = true;
  }
  std::string h;
  put_config(h, config);
  put(h, initial->hard_state.term.value);
  put(h, initial->hard_state.vote.value);
  put(h, initial->hard_state.commit.value);
  put_conf(h, initial->conf_state);
  put(h, snap->meta.last.index.value);
  put(h, snap->meta.last.term.value);
  put_conf(h, snap->meta.conf_state);
  put_bytes(h, snap->data.view());
  put(h, entries.size());
  for (const Entry& e : entries) {
    put_entry(h, e);
  }
  rec->record(RecordKind::kHeader, h);
  if (rec->failed_) {
    return Status(ErrorCode::kStorage, "flight recorder: cannot write " + path);
  }
  return rec;
}

FlightRecorder::~FlightRecorder() {
  std::fclose(file_);
}

void FlightRecorder::step(const Message& m) {
  record(RecordKind::kStep, codec::encode_frame(m));
}

void FlightRecorder::conf_change(const ConfChange& cc) {
  std::string p;
  put(p, static_cast<std::uint64_t>(cc.transition));
  put(p, cc.changes.size());
  for (const ConfChangeSingle& c : cc.changes) {
    put(p, static_cast<std::uint64_t>(c.type));
    put(p, c.node.value);
  }
  put_bytes(p, cc.context.view());
  record(RecordKind::kConfChange, p);
}

void FlightRecorder::snapshot_status(NodeId peer, Index snapshot, bool ok) {
  std::string p = u64(peer.value);
  put(p, snapshot.value);
  put(p, ok ? 1 : 0);
  record(RecordKind::kSnapshotStatusAt, p);
}

void FlightRecorder::advance() {
  record(RecordKind::kAdvance, {});
  flush();
}

void FlightRecorder::flush() {
  if (!failed_ && std::fflush(file_) != 0) {
    failed_ = true;
  }
}

void FlightRecorder::snapshot_stored(Index index, const ConfState& cs, std::string_view data) {
  std::string p = u64(index.value);
  put_conf(p, cs);
  put_bytes(p, data);
  record(RecordKind::kSnapshotStored, p);
}

void FlightRecorder::record(RecordKind kind, const std::string& payload) {
  if (failed_) {
    return;
  }
  char head[5] = {static_cast<char>(kind)};
  const auto n = static_cast<std::uint32_t>(payload.size());
  for (int k = 0; k < 4; ++k) {
    head[1 + k] = static_cast<char>((n >> (8 * k)) & 0xff);
  }
  if (std::fwrite(head, 1, 5, file_) != 5 ||
      std::fwrite(payload.data(), 1, payload.size(), file_) != payload.size()) {
    failed_ = true;
  }
}

}  // namespace skiff::node_detail

namespace skiff {

using node_detail::Reader;
using node_detail::RecordKind;

Result<std::string_view> node_command(const Entry& entry) {
  if (entry.type != EntryType::kNormal) {
    return Status(ErrorCode::kInvalidArgument, "not a command entry");
  }
  if (node_detail::is_member_record(entry.data.view())) {
    return Status(ErrorCode::kInvalidArgument, "a member record of the node runtime");
  }
  auto env = node_detail::unwrap(entry.data.view());
  if (!env.ok()) {
    return env.status();
  }
  return env->command;
}

Result<FlightReplay> replay_flight_record(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Status(ErrorCode::kStorage, "cannot open " + path + ": " + std::strerror(errno));
  }
  std::string data;
  char buf[1 << 16];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, file)) {
    data.append(buf, n);
  }
  const bool read_error = std::ferror(file) != 0;
  std::fclose(file);
  if (read_error) {
    return Status(ErrorCode::kStorage, "cannot read " + path);
  }
  auto corrupt = [&](const std::string& why) {
    return Status(ErrorCode::kCorruption, "flight record " + path + ": " + why);
  };
  std::string_view in(data);
  if (in.substr(0, node_detail::kMagic.size()) != node_detail::kMagic ||
      in.size() < node_detail::kMagic.size() + 1) {
    return corrupt("not a skiff flight record");
  }
  if (in[node_detail::kMagic.size()] != node_detail::kVersion) {
    return corrupt("unknown version");
  }
  in.remove_prefix(node_detail::kMagic.size() + 1);

  FlightReplay out;
  // Splits off the next record; nullopt at the end or inside a cut-off record.
  auto next = [&](RecordKind& kind, std::string_view& payload) {
    if (in.size() < 5) {
      out.truncated = !in.empty();
      return false;
    }
    std::uint32_t n = 0;
    for (int k = 0; k < 4; ++k) {
      n |= std::uint32_t{static_cast<unsigned char>(in[static_cast<std::size_t>(1 + k)])}
           << (8 * k);
    }
    if (in.size() - 5 < n) {
      out.truncated = true;
      return false;
    }
    kind = static_cast<RecordKind>(in[0]);
    payload = in.substr(5, n);
    in.remove_prefix(5 + std::size_t{n});
    return true;
  };

  RecordKind kind{};
  std::string_view payload;
  if (!next(kind, payload) || kind != RecordKind::kHeader) {
    return corrupt("no header");
  }
  Reader h(payload);
  Config config;
  HardState hs;
  ConfState cs;
  Snapshot snap;
  std::uint64_t term = 0;
  std::uint64_t vote = 0;
  std::uint64_t commit = 0;
  std::uint64_t snap_index = 0;
  std::uint64_t snap_term = 0;
  std::string_view snap_data;
  std::uint64_t count = 0;
  if (!node_detail::read_config(h, config) || !h.u64(term) || !h.u64(vote) || !h.u64(commit) ||
      !h.conf(cs) || !h.u64(snap_index) || !h.u64(snap_term) || !h.conf(snap.meta.conf_state) ||
      !h.bytes(snap_data) || !h.u64(count)) {
    return corrupt("bad header");
  }
  hs = HardState{Term{term}, NodeId{vote}, Index{commit}};
  snap.meta.last = EntryId{Term{snap_term}, Index{snap_index}};
  snap.data = Bytes::copy_of(snap_data);
  std::vector<Entry> entries;
  for (std::uint64_t i = 0; i < count; ++i) {
    Entry e;
    if (!h.entry(e)) {
      return corrupt("bad entry in the header");
    }
    entries.push_back(std::move(e));
  }

  MemoryStorage storage(cs);
  if (!snap.empty()) {
    if (Status s = storage.apply_snapshot(snap); !s.ok()) {
      return corrupt("header snapshot: " + s.message());
    }
  }
  if (Status s = storage.append(entries); !s.ok()) {
    return corrupt("header entries: " + s.message());
  }
  storage.set_hard_state(hs);
  auto raw = RawNode::create(config, storage);
  if (!raw.ok()) {
    return corrupt("the recorded core does not start: " + raw.status().message());
  }
  std::optional<Ready> outstanding;
  auto diverged = [&](const std::string& why) {
    return Status(ErrorCode::kFailedPrecondition, "flight record " + path +
                                                      ": replay departs from the record at input " +
                                                      std::to_string(out.events) + ": " + why);
  };

  while (next(kind, payload)) {
    ++out.events;
    Reader r(payload);
    switch (kind) {
      case RecordKind::kTick:
        raw->tick();
        break;
      case RecordKind::kStep: {
        codec::FrameDecoder d(~std::uint32_t{0});
        d.feed(payload);
        auto f = d.next();
        if (!f.ok() || !f->has_value()) {
          return corrupt("bad message frame");
        }
        auto m = codec::decode_message((**f).body);
        if (!m.ok()) {
          return corrupt(m.status().message());
        }
        (void)raw->step(*m);  // refused messages were refused live too
        break;
      }
      case RecordKind::kPropose: {
        std::string_view d;
        if (!r.bytes(d)) {
          return corrupt("bad proposal");
        }
        (void)raw->propose(Bytes::copy_of(d));
        break;
      }
      case RecordKind::kConfChange: {
        ConfChange cc;
        std::uint64_t transition = 0;
        std::uint64_t n = 0;
        if (!r.u64(transition) || !r.u64(n) || transition > 2 || n > payload.size()) {
          return corrupt("bad membership change");
        }
        cc.transition = static_cast<ConfChangeTransition>(transition);
        for (std::uint64_t i = 0; i < n; ++i) {
          std::uint64_t type = 0;
          std::uint64_t node = 0;
          if (!r.u64(type) || !r.u64(node) || type < 1 || type > 3) {
            return corrupt("bad membership change");
          }
          cc.changes.push_back({static_cast<ConfChangeType>(type), NodeId{node}});
        }
        std::string_view ctx;
        if (!r.bytes(ctx)) {
          return corrupt("bad membership change");
        }
        cc.context = Bytes::copy_of(ctx);
        (void)raw->propose_conf_change(cc);
        break;
      }
      case RecordKind::kReadIndex: {
        std::string_view ctx;
        if (!r.bytes(ctx)) {
          return corrupt("bad read");
        }
        (void)raw->read_index(Bytes::copy_of(ctx));
        break;
      }
      case RecordKind::kTransfer:
      case RecordKind::kUnreachable: {
        std::uint64_t id = 0;
        if (!r.u64(id)) {
          return corrupt("bad node id");
        }
        if (kind == RecordKind::kTransfer) {
          (void)raw->transfer_leadership(NodeId{id});
        } else {
          raw->report_unreachable(NodeId{id});
        }
        break;
      }
      case RecordKind::kCampaign:
        (void)raw->campaign();
        break;
      case RecordKind::kSnapshotStatus: {
        std::uint64_t id = 0;
        std::uint64_t ok = 0;
        if (!r.u64(id) || !r.u64(ok)) {
          return corrupt("bad snapshot status");
        }
        raw->report_snapshot(NodeId{id}, ok != 0);  // as the node reported it then
        break;
      }
      case RecordKind::kSnapshotStatusAt: {
        std::uint64_t id = 0;
        std::uint64_t index = 0;
        std::uint64_t ok = 0;
        if (!r.u64(id) || !r.u64(index) || !r.u64(ok)) {
          return corrupt("bad snapshot status");
        }
        raw->report_snapshot(NodeId{id}, Index{index}, ok != 0);
        break;
      }
      case RecordKind::kReady: {
        if (outstanding) {
          return diverged("a Ready was taken while one was outstanding");
        }
        auto rd = raw->ready();
        if (!rd.ok()) {
          return diverged(rd.status().message());
        }
        outstanding = std::move(*rd);
        break;
      }
      case RecordKind::kAdvance: {
        if (!outstanding) {
          return diverged("advance without a Ready");
        }
        if (Status s = storage.save(WriteBatch::from(*outstanding)); !s.ok()) {
          return diverged("the Ready does not apply to storage: " + s.message());
        }
        out.committed.insert(out.committed.end(), outstanding->committed_entries.begin(),
                             outstanding->committed_entries.end());
        if (Status s = raw->advance(*outstanding); !s.ok()) {
          return diverged(s.message());
        }
        outstanding.reset();
        break;
      }
      case RecordKind::kSnapshotStored: {
        std::uint64_t index = 0;
        ConfState scs;
        std::string_view sdata;
        if (!r.u64(index) || !r.conf(scs) || !r.bytes(sdata)) {
          return corrupt("bad snapshot record");
        }
        if (Status s = storage.create_snapshot(Index{index}, scs, Bytes::copy_of(sdata)); !s.ok()) {
          return diverged("the snapshot does not apply: " + s.message());
        }
        break;
      }
      case RecordKind::kCompacted: {
        std::uint64_t index = 0;
        if (!r.u64(index)) {
          return corrupt("bad compaction record");
        }
        if (Status s = storage.compact(Index{index}); !s.ok()) {
          return diverged("the compaction does not apply: " + s.message());
        }
        break;
      }
      case RecordKind::kHeader:
      default:
        return corrupt("unknown record kind " + std::to_string(static_cast<int>(kind)));
    }
  }
  out.status = raw->status();
  return out;
}

}  // namespace skiff
