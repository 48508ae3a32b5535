// The member registry's formats (registry.h).
#include "registry.h"

#include <algorithm>

#include "skiff/conf_change.h"
#include "varint.h"

namespace skiff::node_detail {
namespace {

constexpr char kRecordVersion = 2;
constexpr std::string_view kSnapshotMagic = "SKNS";
constexpr char kSnapshotVersion = 1;

}  // namespace

void merge_member_record(MemberRegistry& registry, NodeId id, MemberRecord r) {
  if (auto it = registry.find(id); it != registry.end()) {
    if (r.incarnation == 0) {
      r.incarnation = it->second.incarnation;
    }
    if (r.address.empty()) {
      r.address = std::move(it->second.address);
    }
  }
  registry[id] = std::move(r);
}

bool is_member_record(std::string_view data) {
  return !data.empty() && data.front() == kRecordVersion;
}

Bytes encode_member_record(NodeId id, const MemberRecord& record) {
  std::string out(1, kRecordVersion);
  put_varint(out, id.value);
  put_varint(out, record.incarnation);
  out += record.address;
  return Bytes(std::move(out));
}

Result<std::pair<NodeId, MemberRecord>> decode_member_record(std::string_view data) {
  if (!is_member_record(data)) {
    return Status(ErrorCode::kCorruption, "member record: unknown version");
  }
  data.remove_prefix(1);
  std::uint64_t id = 0;
  MemberRecord r;
  if (!get_varint(data, id) || id == 0 || !get_varint(data, r.incarnation)) {
    return Status(ErrorCode::kCorruption, "member record: bad header");
  }
  r.address = std::string(data);
  return std::pair<NodeId, MemberRecord>{NodeId{id}, std::move(r)};
}

std::string encode_node_snapshot(const MemberRegistry& registry, std::string_view state) {
  std::string out(kSnapshotMagic);
  out.push_back(kSnapshotVersion);
  put_u64(out, registry.size());
  for (const auto& [id, r] : registry) {
    put_u64(out, id.value);
    put_u64(out, r.incarnation);
    put_u64(out, r.address.size());
    out += r.address;
  }
  out += state;
  return out;
}

Result<std::pair<MemberRegistry, std::string_view>> decode_node_snapshot(std::string_view data) {
  if (data.substr(0, kSnapshotMagic.size()) != kSnapshotMagic) {
    return std::pair<MemberRegistry, std::string_view>{{}, data};
  }
  auto bad = [] { return Status(ErrorCode::kCorruption, "node snapshot: bad member registry"); };
  data.remove_prefix(kSnapshotMagic.size());
  if (data.empty() || data.front() != kSnapshotVersion) {
    return bad();
  }
  data.remove_prefix(1);
  std::uint64_t count = 0;
  if (!get_u64(data, count) || count > data.size() / 24) {
    return bad();
  }
  MemberRegistry registry;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t id = 0;
    std::uint64_t length = 0;
    MemberRecord r;
    if (!get_u64(data, id) || !get_u64(data, r.incarnation) || !get_u64(data, length) ||
        length > data.size()) {
      return bad();
    }
    r.address = std::string(data.substr(0, length));
    data.remove_prefix(length);
    registry[NodeId{id}] = std::move(r);
  }
  return std::pair<MemberRegistry, std::string_view>{std::move(registry), data};
}

// Brings `registry` from the snapshot at `from` to the commit index: member records and
// removals in the committed entries (from, commit].
Status scan_registry(const LogStorage& storage, Index from, Index commit,
                     MemberRegistry& registry) {
  Index next{from.value + 1};
  while (next <= commit && next <= storage.last_index()) {
    const Index end{std::min(commit.value, storage.last_index().value) + 1};
    auto batch = storage.entries(next, end, 4 << 20);
    if (!batch.ok()) {
      return batch.status();
    }
    for (const Entry& e : *batch) {
      if (e.type == EntryType::kNormal && is_member_record(e.data.view())) {
        auto rec = decode_member_record(e.data.view());
        if (!rec.ok()) {
          return rec.status();
        }
        merge_member_record(registry, rec->first, rec->second);
      } else if (e.type == EntryType::kConfChange) {
        auto cc = decode_conf_change_entry(e.data.view());
        if (!cc.ok()) {
          return cc.status();
        }
        for (const ConfChangeSingle& c : cc->change.changes) {
          if (c.type == ConfChangeType::kRemoveNode) {
            registry.erase(c.node);
          }
        }
      }
      next = Index{e.index.value + 1};
    }
    if (batch->empty()) {
      break;
    }
  }
  return Status();
}

}  // namespace skiff::node_detail
