#include "skiff/raw_node.h"

#include <optional>

#include "core/raft.h"
#include "core/str.h"

namespace skiff {
namespace detail {

// The Ready bookkeeping around Raft: what the application already has, and what is out.
class RawNodeImpl {
 public:
  explicit RawNodeImpl(std::unique_ptr<Raft> r)
      : raft(std::move(r)), prev_soft(raft->soft_state()), prev_hard(raft->hard_state()) {}

  std::unique_ptr<Raft> raft;
  SoftState prev_soft;
  HardState prev_hard;
  std::uint64_t next_number = 1;
  // The Ready handed out and not yet advanced, with what advance() must acknowledge.
  std::optional<std::uint64_t> outstanding;
  std::optional<EntryId> outstanding_last_entry;
  std::optional<Index> outstanding_snapshot;
  std::optional<Index> outstanding_last_committed;
};

}  // namespace detail

using detail::str_cat;

Result<RawNode> RawNode::create(const Config& config, LogStorage& storage) {
  auto raft = detail::Raft::create(config, storage);
  if (!raft.ok()) {
    return raft.status();
  }
  return RawNode(std::make_unique<detail::RawNodeImpl>(std::move(raft).value()));
}

RawNode::RawNode(std::unique_ptr<detail::RawNodeImpl> impl) : impl_(std::move(impl)) {}
RawNode::RawNode(RawNode&&) noexcept = default;
RawNode& RawNode::operator=(RawNode&&) noexcept = default;
RawNode::~RawNode() = default;

void RawNode::tick() {
  impl_->raft->tick();
}

Status RawNode::step(const Message& m) {
  return impl_->raft->step(m);
}

Result<Proposal> RawNode::propose(Bytes data) {
  return impl_->raft->propose(std::move(data));
}

Result<Proposal> RawNode::propose_conf_change(const ConfChange& change) {
  return impl_->raft->propose_conf_change(change);
}

Status RawNode::read_index(Bytes context) {
  return impl_->raft->read_index(std::move(context));
}

Status RawNode::transfer_leadership(NodeId to) {
  return impl_->raft->transfer_leadership(to);
}

void RawNode::report_snapshot(NodeId to, Index snapshot, bool ok) {
  impl_->raft->report_snapshot(to, snapshot, ok);
}

void RawNode::report_snapshot(NodeId to, bool ok) {
  impl_->raft->report_snapshot(to, std::nullopt, ok);
}

void RawNode::report_unreachable(NodeId to) {
  impl_->raft->report_unreachable(to);
}

Status RawNode::campaign() {
  return impl_->raft->campaign();
}

bool RawNode::has_ready() const {
  const detail::RawNodeImpl& n = *impl_;
  if (n.outstanding.has_value()) {
    return false;
  }
  const detail::Raft& r = *n.raft;
  return r.has_pending_broadcast() || r.soft_state() != n.prev_soft ||
         r.hard_state() != n.prev_hard || r.log().has_next_snapshot() || !r.read_states().empty() ||
         r.log().has_next_unstable_entries() || r.log().has_next_committed_entries() ||
         !r.messages().empty() || !r.messages_after_persist().empty();
}

Result<Ready> RawNode::ready() {
  detail::RawNodeImpl& n = *impl_;
  detail::Raft& r = *n.raft;
  if (n.outstanding.has_value()) {
    return Status(ErrorCode::kFailedPrecondition,
                  str_cat("Ready ", *n.outstanding, " has not been advanced"));
  }
  r.flush_broadcast();
  Ready rd;
  rd.number = n.next_number++;

  const SoftState ss = r.soft_state();
  if (ss != n.prev_soft) {
    rd.soft_state = ss;
    n.prev_soft = ss;
  }
  const HardState hs = r.hard_state();
  bool term_or_vote_changed = false;
  if (hs != n.prev_hard) {
    term_or_vote_changed = hs.term != n.prev_hard.term || hs.vote != n.prev_hard.vote;
    rd.hard_state = hs;
    n.prev_hard = hs;
  }

  detail::RaftLog& log = r.log();
  const bool snapshot = log.has_next_snapshot();
  if (snapshot) {
    rd.snapshot = *log.pending_snapshot();
  }
  if (snapshot || log.has_next_unstable_entries()) {
    rd.entries = log.next_unstable_entries();
    log.accept_unstable();
  }
  if (log.has_next_committed_entries()) {
    auto committed = log.next_committed_entries(r.config().max_committed_size_per_ready);
    if (committed.ok()) {
      rd.committed_entries = std::move(committed).value();
    } else {
      ++r.counters().storage_read_errors;
    }
    if (!rd.committed_entries.empty()) {
      log.accept_applying(rd.committed_entries.back().index);
      r.on_committed_handed_out(rd.committed_entries);
    }
  }

  rd.read_states = std::move(r.read_states());
  r.read_states().clear();
  rd.messages = std::move(r.messages());
  r.messages().clear();
  rd.persisted_messages = std::move(r.messages_after_persist());
  r.messages_after_persist().clear();
  if (term_or_vote_changed && !rd.messages.empty()) {
    // Nothing may leave in a term (or after a vote) that is not yet durable: a node that
    // crashed and forgot it could lead the same term twice. Rare (role changes), so simply
    // hold every message of such a Ready until the write is done.
    rd.messages.insert(rd.messages.end(), std::make_move_iterator(rd.persisted_messages.begin()),
                       std::make_move_iterator(rd.persisted_messages.end()));
    rd.persisted_messages = std::move(rd.messages);
    rd.messages.clear();
  }
  rd.must_sync = !rd.entries.empty() || rd.snapshot.has_value() || term_or_vote_changed;

  n.outstanding = rd.number;
  n.outstanding_last_entry.reset();
  if (!rd.entries.empty()) {
    n.outstanding_last_entry = rd.entries.back().id();
  }
  n.outstanding_snapshot.reset();
  if (rd.snapshot) {
    n.outstanding_snapshot = rd.snapshot->meta.last.index;
  }
  n.outstanding_last_committed.reset();
  if (!rd.committed_entries.empty()) {
    n.outstanding_last_committed = rd.committed_entries.back().index;
  }
  return rd;
}

Status RawNode::advance(const Ready& rd) {
  detail::RawNodeImpl& n = *impl_;
  if (!n.outstanding.has_value() || rd.number != *n.outstanding) {
    return Status(ErrorCode::kFailedPrecondition,
                  n.outstanding.has_value()
                      ? str_cat("advance of Ready ", rd.number, " but Ready ", *n.outstanding,
                                " is outstanding")
                      : str_cat("advance of Ready ", rd.number, " but no Ready is outstanding"));
  }
  // Use what was handed out, not what the caller passes back (it may have moved from it).
  if (n.outstanding_snapshot.has_value()) {
    n.raft->snapshot_installed(*n.outstanding_snapshot);
  }
  if (n.outstanding_last_entry.has_value()) {
    n.raft->on_persisted(*n.outstanding_last_entry);
  }
  if (n.outstanding_last_committed.has_value()) {
    n.raft->applied_to(*n.outstanding_last_committed);
  }
  n.outstanding.reset();
  return Status();
}

NodeId RawNode::id() const {
  return impl_->raft->id();
}
Term RawNode::term() const {
  return impl_->raft->term();
}
NodeId RawNode::leader() const {
  return impl_->raft->leader();
}
Role RawNode::role() const {
  return impl_->raft->role();
}
Index RawNode::commit_index() const {
  return impl_->raft->log().committed();
}
Index RawNode::applied_index() const {
  return impl_->raft->log().applied();
}
Index RawNode::last_index() const {
  return impl_->raft->log().last_index();
}
ConfState RawNode::applied_conf_state() const {
  return impl_->raft->applied_conf_state();
}
NodeStatus RawNode::status() const {
  return impl_->raft->status();
}
const Counters& RawNode::counters() const {
  return impl_->raft->counters();
}
void RawNode::check_invariants() const {
  impl_->raft->check_invariants();
}

}  // namespace skiff
