// Membership change rules (thesis §4.1-§4.3) and the configuration entry format.
//
// Configuration entry payload, version 1 (all integers unsigned LEB128 varints unless noted):
//   byte    format version (1)
//   varint  number of changes, then per change: byte type (ConfChangeType), varint node id
//   byte    transition (ConfChangeTransition)
//   varint  context length, then the context bytes
//   4 lists: voters, learners, voters_outgoing, learners_next — each a varint count followed
//            by that many varint node ids
//   byte    auto_leave (0 or 1)
// Nothing may follow. Every count is checked against the bytes left before anything is
// allocated, so a hostile payload cannot make the decoder allocate more than its own size.
#include "skiff/conf_change.h"

#include <algorithm>
#include <set>

#include "core/str.h"

namespace skiff {

using detail::str_cat;

namespace {

constexpr std::uint8_t kFormatVersion = 1;

Status invalid(const std::string& why) {
  return Status(ErrorCode::kInvalidArgument, why);
}

std::vector<NodeId> sorted(const std::set<NodeId>& s) {
  return std::vector<NodeId>(s.begin(), s.end());
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_ids(std::string& out, const std::vector<NodeId>& ids) {
  put_varint(out, ids.size());
  for (NodeId id : ids) {
    put_varint(out, id.value);
  }
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool byte(std::uint8_t& v) {
    if (pos_ >= data_.size()) {
      return false;
    }
    v = static_cast<std::uint8_t>(data_[pos_++]);
    return true;
  }
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = 0;
      if (!byte(b)) {
        return false;
      }
      if (shift == 63 && b > 1) {
        return false;  // more than 64 bits
      }
      v |= std::uint64_t{b & 0x7fU} << shift;
      if ((b & 0x80) == 0) {
        return true;
      }
    }
    return false;
  }
  bool bytes(std::uint64_t n, std::string_view& out) {
    if (n > left()) {
      return false;
    }
    out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool ids(std::vector<NodeId>& out) {
    std::uint64_t n = 0;
    if (!varint(n) || n > left()) {  // each id takes at least one byte
      return false;
    }
    out.reserve(n);
    for (std::uint64_t k = 0; k < n; ++k) {
      std::uint64_t id = 0;
      if (!varint(id)) {
        return false;
      }
      out.push_back(NodeId{id});
    }
    return true;
  }
  std::size_t left() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

}  // namespace

Status check_conf_state(const ConfState& cs) {
  auto check_list = [](const std::vector<NodeId>& ids, std::string_view name) -> Status {
    std::set<NodeId> seen;
    for (NodeId id : ids) {
      if (id == kNoNode) {
        return invalid(str_cat("membership: ", name, " contains node id 0"));
      }
      if (!seen.insert(id).second) {
        return invalid(str_cat("membership: ", name, " lists node ", id, " twice"));
      }
    }
    return Status();
  };
  for (auto [list, name] : {std::pair{&cs.voters, "voters"}, std::pair{&cs.learners, "learners"},
                            std::pair{&cs.voters_outgoing, "voters_outgoing"},
                            std::pair{&cs.learners_next, "learners_next"}}) {
    if (Status s = check_list(*list, name); !s.ok()) {
      return s;
    }
  }
  auto has = [](const std::vector<NodeId>& ids, NodeId id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  for (NodeId id : cs.learners) {
    if (has(cs.voters, id) || has(cs.voters_outgoing, id)) {
      return invalid(
          str_cat("membership: node ", id, " is both a voter and a learner in ", describe(cs)));
    }
  }
  for (NodeId id : cs.learners_next) {
    if (!has(cs.voters_outgoing, id) || has(cs.voters, id)) {
      return invalid(str_cat("membership: learners_next node ", id,
                             " must be an outgoing voter that is not an incoming one in ",
                             describe(cs)));
    }
  }
  if (!cs.joint() && (cs.auto_leave || !cs.learners_next.empty())) {
    return invalid(str_cat("membership: auto_leave and learners_next need a joint configuration: ",
                           describe(cs)));
  }
  return Status();
}

Result<ConfState> apply_conf_change(const ConfState& current, const ConfChange& change) {
  if (change.changes.empty()) {
    // Leave the joint configuration (thesis §4.3): C(new) alone decides from now on.
    if (!current.joint()) {
      return invalid(
          str_cat("cannot leave a joint configuration: not in one (", describe(current), ")"));
    }
    std::set<NodeId> learners(current.learners.begin(), current.learners.end());
    learners.insert(current.learners_next.begin(), current.learners_next.end());
    ConfState out;
    out.voters = current.voters;
    out.learners = sorted(learners);
    return out;
  }
  if (current.joint()) {
    return invalid(str_cat("a joint configuration must be left before the next change (",
                           describe(current), ")"));
  }
  std::set<NodeId> voters(current.voters.begin(), current.voters.end());
  std::set<NodeId> learners(current.learners.begin(), current.learners.end());
  for (const ConfChangeSingle& c : change.changes) {
    if (c.node == kNoNode) {
      return invalid("a membership change names node id 0");
    }
    switch (c.type) {
      case ConfChangeType::kAddVoter:
        learners.erase(c.node);
        voters.insert(c.node);
        break;
      case ConfChangeType::kAddLearner:
        voters.erase(c.node);
        learners.insert(c.node);
        break;
      case ConfChangeType::kRemoveNode:
        if (voters.erase(c.node) + learners.erase(c.node) == 0) {
          return invalid(
              str_cat("cannot remove node ", c.node, ": not a member of ", describe(current)));
        }
        break;
      default:
        return invalid(str_cat("unknown membership change type ", static_cast<int>(c.type)));
    }
  }
  if (voters.empty()) {
    return invalid(str_cat("the change ", describe(change), " leaves no voter"));
  }
  std::size_t voter_changes = 0;
  for (NodeId id : voters) {
    voter_changes += std::count(current.voters.begin(), current.voters.end(), id) == 0 ? 1 : 0;
  }
  for (NodeId id : current.voters) {
    voter_changes += voters.contains(id) ? 0 : 1;
  }
  bool joint = true;
  switch (change.transition) {
    case ConfChangeTransition::kAuto:
      // Thesis §4.2: changing one voter at a time keeps every old majority overlapping every
      // new one, so the change can take effect in one step.
      joint = voter_changes > 1;
      break;
    case ConfChangeTransition::kJointAuto:
    case ConfChangeTransition::kJointExplicit:
      break;
    default:
      return invalid(
          str_cat("unknown membership transition ", static_cast<int>(change.transition)));
  }
  ConfState out;
  out.voters = sorted(voters);
  if (!joint) {
    out.learners = sorted(learners);
  } else {
    out.voters_outgoing = current.voters;
    std::sort(out.voters_outgoing.begin(), out.voters_outgoing.end());
    for (NodeId id : learners) {
      // An outgoing voter keeps voting in C(old) until the joint configuration is left.
      const bool outgoing = std::count(current.voters.begin(), current.voters.end(), id) != 0;
      (outgoing ? out.learners_next : out.learners).push_back(id);
    }
    out.auto_leave = change.transition != ConfChangeTransition::kJointExplicit;
  }
  if (Status s = check_conf_state(out); !s.ok()) {
    return s;
  }
  return out;
}

Bytes encode_conf_change_entry(const ConfChangeEntry& entry) {
  std::string out;
  out.push_back(static_cast<char>(kFormatVersion));
  put_varint(out, entry.change.changes.size());
  for (const ConfChangeSingle& c : entry.change.changes) {
    out.push_back(static_cast<char>(c.type));
    put_varint(out, c.node.value);
  }
  out.push_back(static_cast<char>(entry.change.transition));
  put_varint(out, entry.change.context.size());
  out.append(entry.change.context.view());
  put_ids(out, entry.result.voters);
  put_ids(out, entry.result.learners);
  put_ids(out, entry.result.voters_outgoing);
  put_ids(out, entry.result.learners_next);
  out.push_back(static_cast<char>(entry.result.auto_leave ? 1 : 0));
  return Bytes(std::move(out));
}

Result<ConfChangeEntry> decode_conf_change_entry(std::string_view data) {
  auto corrupt = [](const std::string& why) {
    return Status(ErrorCode::kCorruption, str_cat("configuration entry: ", why));
  };
  Reader r(data);
  std::uint8_t version = 0;
  if (!r.byte(version)) {
    return corrupt("empty");
  }
  if (version != kFormatVersion) {
    return corrupt(str_cat("unknown format version ", static_cast<int>(version)));
  }
  ConfChangeEntry e;
  std::uint64_t n = 0;
  if (!r.varint(n) || n > r.left() / 2) {  // a change takes at least two bytes
    return corrupt("bad change count");
  }
  for (std::uint64_t k = 0; k < n; ++k) {
    std::uint8_t type = 0;
    std::uint64_t node = 0;
    if (!r.byte(type) || !r.varint(node)) {
      return corrupt("truncated change");
    }
    if (type < 1 || type > 3) {
      return corrupt(str_cat("unknown change type ", static_cast<int>(type)));
    }
    if (node == 0) {
      return corrupt("a change names node id 0");
    }
    e.change.changes.push_back(ConfChangeSingle{static_cast<ConfChangeType>(type), NodeId{node}});
  }
  std::uint8_t transition = 0;
  if (!r.byte(transition) || transition > 2) {
    return corrupt("bad transition");
  }
  e.change.transition = static_cast<ConfChangeTransition>(transition);
  std::uint64_t context_size = 0;
  std::string_view context;
  if (!r.varint(context_size) || !r.bytes(context_size, context)) {
    return corrupt("truncated context");
  }
  e.change.context = Bytes::copy_of(context);
  if (!r.ids(e.result.voters) || !r.ids(e.result.learners) || !r.ids(e.result.voters_outgoing) ||
      !r.ids(e.result.learners_next)) {
    return corrupt("truncated membership");
  }
  std::uint8_t auto_leave = 0;
  if (!r.byte(auto_leave) || auto_leave > 1) {
    return corrupt("bad auto_leave flag");
  }
  e.result.auto_leave = auto_leave == 1;
  if (r.left() != 0) {
    return corrupt(str_cat(r.left(), " trailing bytes"));
  }
  if (Status s = check_conf_state(e.result); !s.ok()) {
    return corrupt(s.message());
  }
  if (e.result.voters.empty()) {
    // apply_conf_change never produces this: a group without voters could never decide.
    return corrupt("the resulting membership has no voter");
  }
  return e;
}

std::string describe(const ConfChange& cc) {
  std::string out;
  for (const ConfChangeSingle& c : cc.changes) {
    const char* sign = c.type == ConfChangeType::kAddVoter     ? "+v"
                       : c.type == ConfChangeType::kAddLearner ? "+l"
                                                               : "-";
    out += str_cat(out.empty() ? "" : " ", sign, c.node);
  }
  if (cc.changes.empty()) {
    out = "leave-joint";
  }
  switch (cc.transition) {
    case ConfChangeTransition::kAuto:
      break;
    case ConfChangeTransition::kJointAuto:
      out += " joint";
      break;
    case ConfChangeTransition::kJointExplicit:
      out += " joint-explicit";
      break;
  }
  return out;
}

}  // namespace skiff
