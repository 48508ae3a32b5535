#include "core/raft.h"

#include <algorithm>
#include <limits>
#include <set>

#include "core/assert.h"
#include "core/startup.h"
#include "core/str.h"
#include "core/validate_message.h"

namespace skiff::detail {
namespace {

bool is_response(MessageType t) {
  switch (t) {
    case MessageType::kAppendResponse:
    case MessageType::kHeartbeatResponse:
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse:
      return true;
    default:
      return false;
  }
}

bool from_leader(MessageType t) {
  return t == MessageType::kAppend || t == MessageType::kHeartbeat || t == MessageType::kSnapshot ||
         t == MessageType::kTimeoutNow;
}

// Sent by a follower on a caller's behalf, with term 0: no term rules apply.
bool forwarded(MessageType t) {
  return t == MessageType::kPropose || t == MessageType::kReadIndex;
}

// Each Ready takes the outgoing vectors away; start a new one with room for a leader's Appends
// to a few followers instead of growing it (and moving the messages) one message at a time.
void queue_message(std::vector<Message>& out, Message&& m) {
  if (out.capacity() == 0) {
    out.reserve(4);
  }
  out.push_back(std::move(m));
}

MajorityConfig majority(const std::vector<NodeId>& ids) {
  return MajorityConfig(std::set<NodeId>(ids.begin(), ids.end()));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Creation

Result<std::unique_ptr<Raft>> Raft::create(const Config& config, const LogStorage& storage) {
  if (Status s = config.validate(); !s.ok()) {
    return s;
  }
  auto start = load_start_state(config, storage);
  if (!start.ok()) {
    return start.status();
  }
  std::unique_ptr<Raft> raft(new Raft(config, storage, std::move(start).value()));
  raft->apply_membership();
  raft->log(LogLevel::kInfo,
            str_cat("node ", raft->id_, " starts at term ", raft->term_, ", ",
                    raft->log_.describe(), ", config ", describe(raft->membership_.current())));
  return raft;
}

Raft::Raft(const Config& config, const LogStorage& storage, StartState start)
    : config_(config),
      id_(config.id),
      term_(start.hard_state.term),
      vote_(start.hard_state.vote),
      log_(storage, start.commit, config.applied),
      membership_(std::move(start.membership)),
      lease_guard_at_start_(config.read_mode == ReadMode::kLease),
      rng_(config.seed, config.id.value) {
  become_follower(term_, kNoNode);
}

// ---------------------------------------------------------------------------------------------
// Role transitions

void Raft::reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  lead_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
}

void Raft::reset_randomized_election_timeout() {
  // Raft §5.2: randomized in [T, 2T) so that split votes are rare and resolve quickly.
  randomized_election_timeout_ =
      config_.election_tick + static_cast<std::uint32_t>(rng_.uniform(config_.election_tick));
}

void Raft::become_follower(Term term, NodeId lead) {
  const bool was_leader = is_leader();
  reset(term);
  role_ = FollowerState{};
  lead_ = lead;
  if (was_leader) {
    log(LogLevel::kInfo, str_cat("node ", id_, " steps down at term ", term_));
  }
}

void Raft::become_pre_candidate() {
  SKIFF_ASSERT(!is_leader(), "leader cannot become pre-candidate");
  // Thesis §9.6: the term and vote stay as they are until a pre-vote quorum is reached.
  role_ = PreCandidateState{};
  lead_ = kNoNode;
  election_elapsed_ = 0;
  reset_randomized_election_timeout();
}

void Raft::become_candidate() {
  SKIFF_ASSERT(!is_leader(), "leader cannot become candidate");
  reset(term_.next());
  role_ = CandidateState{};
  vote_ = id_;
  ++counters_.elections_started;
  log(LogLevel::kInfo, str_cat("node ", id_, " campaigns at term ", term_));
}

void Raft::become_leader() {
  reset(term_);
  lead_ = id_;
  LeaderState leader(config_);
  leader.progress.sync(voters_, learners_, log_.last_index() + 1, id_, log_.persisted_index(),
                       /*new_active=*/false);
  if (config_.max_uncommitted_size > 0) {
    // Count what earlier terms left uncommitted so the limit holds across leadership changes
    // (PITFALLS #14), not just within one term.
    auto pending = log_.slice(log_.applying() + 1, log_.last_index() + 1,
                              std::numeric_limits<std::uint64_t>::max());
    if (pending.ok()) {
      for (const Entry& e : *pending) {
        leader.uncommitted_size += e.data.size();
      }
    } else {
      ++counters_.storage_read_errors;
      log(LogLevel::kWarning,
          str_cat("cannot size uncommitted entries: ", pending.status().to_string()));
    }
  }
  role_ = std::move(leader);
  ++counters_.leader_elected;
  log(LogLevel::kInfo, str_cat("node ", id_, " becomes leader at term ", term_));
  // Raft §5.4.2 / thesis §6.4: commit an entry of our own term so that earlier entries commit.
  Entry noop;
  noop.type = EntryType::kNoop;
  const bool appended = append_entries({noop});
  SKIFF_ASSERT(appended, "a new leader's no-op entry is never refused");
}

Role Raft::role() const {
  switch (role_.index()) {
    case 0:
      return Role::kFollower;
    case 1:
      return Role::kPreCandidate;
    case 2:
      return Role::kCandidate;
    default:
      return Role::kLeader;
  }
}

SoftState Raft::soft_state() const {
  return SoftState{lead_, role()};
}

HardState Raft::hard_state() const {
  return HardState{term_, vote_, log_.committed()};
}

// ---------------------------------------------------------------------------------------------
// Ticks

void Raft::tick() {
  if (is_leader()) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Raft::tick_election() {
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick) {
    lease_guard_at_start_ = false;
  }
  if (promotable() && past_election_timeout()) {
    election_elapsed_ = 0;
    start_election(config_.pre_vote);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  LeaderState& leader = leader_state();
  leader.reads.tick();
  if (leader.transfer_target != kNoNode && ++leader.transfer_elapsed >= config_.election_tick) {
    // Thesis §3.10: a transfer that has not completed within an election timeout is abandoned
    // so the old leader serves clients again (PITFALLS #17).
    abort_transfer("it did not complete within an election timeout");
  }
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    // Thesis §6.2: a leader cut off from a quorum for an election timeout steps down, so that
    // clients stop waiting on it and it stops blocking reads (check-quorum).
    if (config_.check_quorum && !check_quorum_active()) {
      log(LogLevel::kWarning,
          str_cat("node ", id_, " has not heard from a quorum at term ", term_, "; stepping down"));
      become_follower(term_, kNoNode);
      return;
    }
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

bool Raft::past_election_timeout() const {
  return election_elapsed_ >= randomized_election_timeout_;
}

bool Raft::promotable() const {
  if (log_.pending_snapshot().has_value()) {
    return false;  // the snapshot waiting to be installed may change the configuration
  }
  if (voters_.contains(id_)) {
    return true;
  }
  // A voter removed by a configuration that is not committed yet still campaigns (PITFALLS
  // #12): it may hold the only log that can commit its removal, e.g. a leader that demoted
  // itself and then lost its quorum before the one remaining voter heard of the change. Its
  // votes are still counted over its latest configuration, so this is only about liveness.
  if (membership_.current_index() > log_.committed()) {
    const ConfState& before = membership_.at(log_.committed());
    auto has = [&](const std::vector<NodeId>& ids) {
      return std::find(ids.begin(), ids.end(), id_) != ids.end();
    };
    return has(before.voters) || has(before.voters_outgoing);
  }
  return false;
}

bool Raft::in_lease() const {
  // Thesis §4.2.3: a node that heard from a leader within the minimum election timeout ignores
  // vote requests, so a removed or partitioned node cannot disrupt a healthy leader.
  return config_.check_quorum && (lead_ != kNoNode || lease_guard_at_start_) &&
         election_elapsed_ < config_.election_tick;
}

bool Raft::check_quorum_active() {
  return leader_state().progress.quorum_active(voters_, id_);
}

// ---------------------------------------------------------------------------------------------
// Elections

Status Raft::campaign() {
  if (is_leader()) {
    return Status(ErrorCode::kFailedPrecondition, str_cat("node ", id_, " is already the leader"));
  }
  if (!promotable()) {
    return Status(ErrorCode::kFailedPrecondition,
                  str_cat("node ", id_, " is not a voter in ", voters_.describe(),
                          log_.pending_snapshot() ? " (a snapshot waits to be installed)" : ""));
  }
  if (at_term_ceiling()) {
    return Status(ErrorCode::kFailedPrecondition,
                  str_cat("node ", id_, " is at the term ceiling ", term_,
                          " (kMaxTerm): no later term can be campaigned for"));
  }
  start_election(config_.pre_vote);
  return Status();
}

bool Raft::at_term_ceiling() const {
  return term_ >= kMaxTerm;
}

void Raft::start_election(bool pre_vote, bool transfer) {
  if (at_term_ceiling()) {
    // Every peer refuses a term past the ceiling (validate_message): campaigning for one would
    // only raise this node's term beyond anyone's reach. It stays a follower at the ceiling.
    log(LogLevel::kError, str_cat("node ", id_, " is at the term ceiling ", term_,
                                  " and cannot campaign; the group needs a leader of this term"));
    return;
  }
  MessageType type;
  Term vote_term;
  if (pre_vote) {
    become_pre_candidate();
    type = MessageType::kPreVote;
    vote_term = term_.next();
  } else {
    become_candidate();
    type = MessageType::kVote;
    vote_term = term_;
  }
  // Vote for ourselves; a one-voter group wins at once.
  Message self;
  self.type = pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  self.from = id_;
  self.term = vote_term;
  handle_vote_response(self);
  if (role() != (pre_vote ? Role::kPreCandidate : Role::kCandidate)) {
    return;
  }
  const EntryId last = log_.last_entry_id();
  for (NodeId id : voters_.ids()) {
    if (id == id_) {
      continue;
    }
    Message m;
    m.type = type;
    m.to = id;
    m.term = vote_term;
    m.index = last.index;
    m.log_term = last.term;
    m.leader_transfer = transfer;
    send(std::move(m));
  }
}

void Raft::handle_vote_request(const Message& m) {
  // Raft §5.2 and §5.4.1: grant if we have not voted for someone else this term and the
  // candidate's log is at least as up to date as ours. A pre-vote for a future term is granted
  // on the log check alone (thesis §9.6): it does not change our vote.
  const bool can_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) ||
                        (m.type == MessageType::kPreVote && m.term > term_);
  const MessageType resp_type =
      m.type == MessageType::kVote ? MessageType::kVoteResponse : MessageType::kPreVoteResponse;
  Message resp;
  resp.type = resp_type;
  resp.to = m.from;
  if (can_vote && log_.is_up_to_date(EntryId{m.log_term, m.index})) {
    // Answer in the candidate's term: a pre-candidate has not raised its own yet.
    resp.term = m.term;
    if (m.type == MessageType::kVote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
  }
  send(std::move(resp));
}

void Raft::handle_vote_response(const Message& m) {
  std::map<NodeId, bool>* votes = nullptr;
  if (auto* pre = std::get_if<PreCandidateState>(&role_);
      pre != nullptr && m.type == MessageType::kPreVoteResponse) {
    votes = &pre->votes;
  } else if (auto* cand = std::get_if<CandidateState>(&role_);
             cand != nullptr && m.type == MessageType::kVoteResponse) {
    votes = &cand->votes;
  }
  if (votes == nullptr) {
    return;  // an answer to an election we are no longer running
  }
  votes->emplace(m.from, !m.reject);
  const VoteResult result = voters_.vote_result([&](NodeId id) -> std::optional<bool> {
    auto it = votes->find(id);
    if (it == votes->end()) {
      return std::nullopt;
    }
    return it->second;
  });
  switch (result) {
    case VoteResult::kWon:
      if (role() == Role::kPreCandidate) {
        start_election(false);
      } else {
        become_leader();
      }
      break;
    case VoteResult::kLost:
      // Stay in our term; a later timeout retries (after a fresh random timeout).
      become_follower(term_, kNoNode);
      break;
    case VoteResult::kPending:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs

Status Raft::step(const Message& m) {
  if (Status s = validate_message(m, id_); !s.ok()) {
    ++counters_.messages_rejected;
    log(LogLevel::kWarning, s.message());
    return s;
  }
  if (!forwarded(m.type) && m.term > term_ && m.term.value - term_.value > kMaxTermJump &&
      lead_ != kNoNode && election_elapsed_ < config_.election_tick) {
    // No honest gap is this large (types.h, kMaxTermJump) while this node has a live leader
    // (it leads, or heard from its leader within the election timeout): a forged term would
    // take the group most of the way to the ceiling in one message. A node without one takes
    // it, so a member left behind by a far-ahead group (or a new one at term 0) catches up.
    ++counters_.messages_rejected;
    Status s(ErrorCode::kInvalidArgument,
             str_cat("node ", id_, " refuses ", describe(m),
                     ": its term is more than 2^32 ahead of ", term_.value, " (kMaxTermJump)"));
    log(LogLevel::kWarning, s.message());
    return s;
  }
  if (!forwarded(m.type) && m.term > term_) {
    if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
      if (in_lease() && !m.leader_transfer) {
        log(LogLevel::kDebug, str_cat("node ", id_, " ignores ", describe(m), ": leader ", lead_,
                                      " heard from ", election_elapsed_, " ticks ago"));
        return Status();
      }
    }
    if (m.type == MessageType::kPreVote || (m.type == MessageType::kPreVoteResponse && !m.reject)) {
      // A pre-vote never changes terms; a granted pre-vote answer carries the future term.
    } else {
      become_follower(m.term, from_leader(m.type) ? m.from : kNoNode);
    }
  } else if (!forwarded(m.type) && m.term < term_) {
    if (from_leader(m.type)) {
      // Raft Figure 2: answer a stale leader with our term so it steps down. With pre-vote it
      // could otherwise never learn it (etcd-io/etcd #8334); and a learner, which never
      // campaigns, would otherwise ignore the leader forever once its term got ahead.
      Message resp;
      resp.type = MessageType::kAppendResponse;
      resp.to = m.from;
      send(std::move(resp));
    } else if (m.type == MessageType::kPreVote || m.type == MessageType::kVote) {
      // Raft Figure 2: refuse with our term, so a candidate left behind learns it at once.
      Message resp;
      resp.type =
          m.type == MessageType::kVote ? MessageType::kVoteResponse : MessageType::kPreVoteResponse;
      resp.to = m.from;
      resp.term = term_;
      resp.reject = true;
      send(std::move(resp));
    }
    return Status();
  }

  switch (m.type) {
    case MessageType::kVote:
    case MessageType::kPreVote:
      handle_vote_request(m);
      return Status();
    default:
      break;
  }
  Status s;
  switch (role()) {
    case Role::kLeader:
      s = step_leader(m);
      break;
    case Role::kCandidate:
    case Role::kPreCandidate:
      s = step_candidate(m);
      break;
    case Role::kFollower:
      s = step_follower(m);
      break;
  }
  note_config_commit();
  return s;
}

Result<Proposal> Raft::propose(Bytes data) {
  if (is_leader()) {
    if (NodeId target = leader_state().transfer_target; target != kNoNode) {
      ++counters_.proposals_dropped;
      return Status(ErrorCode::kProposalDropped,
                    str_cat("node ", id_, " is handing leadership to ", target, "; retry there"));
    }
    std::vector<Entry> ents(1);
    ents.front().data = std::move(data);
    if (!append_entries(std::move(ents))) {
      ++counters_.proposals_dropped;
      return Status(ErrorCode::kProposalDropped,
                    str_cat("uncommitted entries hold ", leader_state().uncommitted_size,
                            " bytes, limit is ", config_.max_uncommitted_size));
    }
    // The entry just appended is the last one, in this term: no need to read its term back.
    return Proposal{EntryId{term_, log_.last_index()}, kNoNode};
  }
  if (lead_ == kNoNode) {
    ++counters_.proposals_dropped;
    return Status(ErrorCode::kProposalDropped,
                  str_cat("node ", id_, " knows no leader at term ", term_, "; retry later"));
  }
  if (config_.forward_proposals) {
    Message m;
    m.type = MessageType::kPropose;
    m.to = lead_;
    Entry e;
    e.data = std::move(data);
    m.entries.push_back(std::move(e));
    send(std::move(m));
    return Proposal{EntryId{}, lead_};
  }
  ++counters_.proposals_dropped;
  return Status(ErrorCode::kNotLeader,
                str_cat("node ", id_, " is not the leader; node ", lead_, " is"), lead_);
}

Result<Proposal> Raft::propose_conf_change(const ConfChange& change) {
  if (!is_leader()) {
    ++counters_.proposals_dropped;
    if (lead_ == kNoNode) {
      return Status(ErrorCode::kProposalDropped,
                    str_cat("node ", id_, " knows no leader at term ", term_, "; retry later"));
    }
    return Status(ErrorCode::kNotLeader,
                  str_cat("node ", id_, " is not the leader; node ", lead_, " is"), lead_);
  }
  if (NodeId target = leader_state().transfer_target; target != kNoNode) {
    ++counters_.proposals_dropped;
    return Status(ErrorCode::kProposalDropped,
                  str_cat("node ", id_, " is handing leadership to ", target, "; retry there"));
  }
  // PITFALLS #2 (raft-dev, 2015): until this leader commits an entry of its own term, its log
  // may hold a configuration a previous leader never committed; changing from it could let
  // two configurations without overlapping majorities decide.
  if (!committed_in_term()) {
    return Status(ErrorCode::kFailedPrecondition,
                  str_cat("leader ", id_, " has not yet committed an entry of its term ", term_,
                          "; retry shortly"));
  }
  // Thesis §4.1: one change at a time; the next starts once the previous one is committed. The
  // base is the latest configuration in the log, never a lagging applied one (PITFALLS #13).
  if (membership_.current_index() > log_.committed()) {
    return Status(ErrorCode::kFailedPrecondition,
                  str_cat("the configuration change at index ", membership_.current_index(),
                          " is not committed yet; one change at a time"));
  }
  auto next = apply_conf_change(membership_.current(), change);
  if (!next.ok()) {
    return next.status();
  }
  Entry e;
  e.type = EntryType::kConfChange;
  e.data = encode_conf_change_entry(ConfChangeEntry{change, *next});
  const bool appended = append_entries({e}, /*force=*/true);
  SKIFF_ASSERT(appended, "a forced append is never refused");
  log(LogLevel::kInfo, str_cat("node ", id_, " proposes ", describe(change), " at ",
                               describe(log_.last_entry_id()), ": ", describe(*next)));
  return Proposal{log_.last_entry_id(), kNoNode};
}

Status Raft::read_index(Bytes context) {
  if (is_leader()) {
    accept_read(std::move(context), kNoNode);
    return Status();
  }
  if (lead_ == kNoNode) {
    return Status(ErrorCode::kUnavailable,
                  str_cat("node ", id_, " knows no leader at term ", term_, "; retry later"));
  }
  Message m;
  m.type = MessageType::kReadIndex;
  m.to = lead_;
  m.context = std::move(context);
  send(std::move(m));
  return Status();
}

Status Raft::transfer_leadership(NodeId to) {
  if (!is_leader()) {
    return Status(ErrorCode::kNotLeader,
                  str_cat("node ", id_, " is not the leader; node ", lead_, " is"), lead_);
  }
  if (to == id_) {
    // Leadership stays here: cancel a pending transfer so that proposals are taken again at
    // once instead of after the election timeout (etcd-io/raft treats it the same way).
    if (leader_state().transfer_target == kNoNode) {
      return Status(ErrorCode::kInvalidArgument,
                    str_cat("node ", id_, " already leads and has no transfer to cancel"));
    }
    abort_transfer("the leader cancelled it");
    return Status();
  }
  if (!voters_.contains(to)) {
    return Status(ErrorCode::kInvalidArgument,
                  str_cat("cannot transfer leadership to node ", to, ": it is ",
                          learners_.contains(to) ? "a learner" : "not a member", " of ",
                          describe(membership_.current())));
  }
  LeaderState& leader = leader_state();
  if (leader.transfer_target == to) {
    return Status();
  }
  if (leader.transfer_target != kNoNode) {
    abort_transfer(str_cat("a transfer to ", to, " replaces it"));
  }
  leader.transfer_target = to;
  leader.transfer_elapsed = 0;
  ++counters_.transfers_started;
  log(LogLevel::kInfo, str_cat("node ", id_, " hands leadership to ", to, " at term ", term_));
  // Thesis §3.10: bring the target up to date first, then tell it to campaign at once.
  if (progress(to)->match() == log_.last_index()) {
    send_timeout_now(to);
  } else {
    send_appends_to(to, true);
  }
  return Status();
}

void Raft::report_snapshot(NodeId to, std::optional<Index> snapshot, bool ok) {
  if (!is_leader()) {
    return;
  }
  Progress* pr = progress(to);
  if (pr == nullptr || pr->state() != ProgressState::kSnapshot) {
    return;
  }
  if (snapshot.has_value() && *snapshot != pr->pending_snapshot()) {
    // A late report on a snapshot this leader no longer waits on (it sent a newer one since):
    // applying it would end, or fail, the wait on the one in flight.
    ++counters_.snapshot_reports_ignored;
    log(LogLevel::kDebug, str_cat("node ", id_, " ignores a report on snapshot ", *snapshot, " to ",
                                  to, ": waiting on ", pr->pending_snapshot()));
    return;
  }
  if (ok) {
    pr->snapshot_done();
  } else {
    pr->snapshot_failed();
  }
  log(LogLevel::kDebug, str_cat("node ", id_, ": snapshot to ", to, ok ? " done" : " failed",
                                ", now ", pr->describe()));
}

void Raft::report_unreachable(NodeId to) {
  if (!is_leader()) {
    return;
  }
  Progress* pr = progress(to);
  if (pr != nullptr && pr->state() == ProgressState::kReplicate) {
    pr->become_probe();
  }
}

void Raft::abort_transfer(const std::string& why) {
  LeaderState& leader = leader_state();
  if (leader.transfer_target == kNoNode) {
    return;
  }
  log(LogLevel::kInfo,
      str_cat("node ", id_, " abandons the transfer to ", leader.transfer_target, ": ", why));
  leader.transfer_target = kNoNode;
  leader.transfer_elapsed = 0;
  ++counters_.transfers_aborted;
}

void Raft::send_timeout_now(NodeId to) {
  leader_state().timeout_now_sent = true;
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  send(std::move(m));
}

void Raft::maybe_finish_transfer(NodeId from) {
  const LeaderState& leader = leader_state();
  if (leader.transfer_target == from && progress(from)->match() == log_.last_index()) {
    send_timeout_now(from);
  }
}

// ---------------------------------------------------------------------------------------------
// Linearizable reads (thesis §6.4)

bool Raft::committed_in_term() const {
  return log_.match_term(log_.committed(), term_);
}

void Raft::accept_read(Bytes context, NodeId from) {
  LeaderState& leader = leader_state();
  if (!committed_in_term()) {
    // Step 1: until an entry of this term commits, our commit index may be behind the one
    // the previous leader reported (PITFALLS #5).
    leader.reads.hold(std::move(context), from);
    return;
  }
  if (config_.read_mode == ReadMode::kLease && !leader.timeout_now_sent &&
      leader.reads.in_lease(voters_, id_, config_.lease_ticks())) {
    // Thesis §6.4.1: no follower can have voted for another leader yet. Not once this leader
    // sent TimeoutNow: its target campaigns without waiting for the lease to run out.
    leader.reads.add(std::move(context), from, log_.committed(), 0);
  } else {
    // Steps 2-3: the read waits for a heartbeat round started after it arrived.
    leader.reads.add(std::move(context), from, log_.committed(), leader.reads.upcoming_round());
  }
  release_reads();
}

void Raft::release_reads() {
  LeaderState& leader = leader_state();
  for (PendingRead& r : leader.reads.release(leader.reads.confirmed_round(voters_, id_))) {
    if (r.from == kNoNode) {
      read_states_.push_back(ReadState{r.index, std::move(r.context)});
      ++counters_.reads_confirmed;
    } else {
      Message m;
      m.type = MessageType::kReadIndexResponse;
      m.to = r.from;
      m.index = r.index;
      m.context = std::move(r.context);
      send(std::move(m));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Leader

Progress* Raft::progress(NodeId id) {
  return leader_state().progress.get(id);
}

bool Raft::append_entries(std::vector<Entry> ents, bool force) {
  LeaderState& leader = leader_state();
  std::uint64_t payload = 0;
  for (const Entry& e : ents) {
    payload += e.data.size();
  }
  // Refuse only when something is already pending, so one large proposal still goes through;
  // never refuse payload-free entries (a new leader's no-op must commit to free the budget it
  // may have inherited above the limit) or configuration entries (`force`).
  if (!force && config_.max_uncommitted_size > 0 && payload > 0 && leader.uncommitted_size > 0 &&
      leader.uncommitted_size + payload > config_.max_uncommitted_size) {
    return false;
  }
  leader.uncommitted_size += payload;
  const Index last = log_.last_index();
  for (std::size_t k = 0; k < ents.size(); ++k) {
    ents[k].term = term_;
    ents[k].index = last + (k + 1);
  }
  log_.append(ents);
  log_written(ents.front().index, ents);
  // Our own copy counts once it is durable: see on_persisted.
  broadcast_append();
  return true;
}

void Raft::log_written(Index from, const std::vector<Entry>& ents) {
  const bool had_later = membership_.current_index() >= from;
  const bool has_conf = std::any_of(ents.begin(), ents.end(), [&](const Entry& e) {
    return e.type == EntryType::kConfChange && e.index >= from;
  });
  if (!had_later && !has_conf) {
    return;
  }
  // Entries were validated on the way in (validate_message) or built by this leader.
  const Status s = membership_.on_append(from, ents);
  SKIFF_ASSERT(s.ok(), s.to_string());
  apply_membership();
  ++counters_.conf_changes_applied;
}

void Raft::apply_membership() {
  const ConfState& cs = membership_.current();
  voters_ = JointConfig(majority(cs.voters), majority(cs.voters_outgoing));
  learners_ = std::set<NodeId>(cs.learners.begin(), cs.learners.end());
  log(LogLevel::kInfo, str_cat("node ", id_, " uses configuration ", describe(cs), " (index ",
                               membership_.current_index(), ")"));
  if (!is_leader()) {
    return;
  }
  LeaderState& leader = leader_state();
  // A member added by a configuration change counts as active until the next quorum check,
  // so that adding a voter cannot make check-quorum fail at once.
  if (leader.progress.sync(voters_, learners_, log_.last_index() + 1, id_, log_.persisted_index(),
                           /*new_active=*/true)) {
    broadcast_append();
  }
  if (leader.transfer_target != kNoNode && !voters_.contains(leader.transfer_target)) {
    abort_transfer("the target is no longer a voter");
  }
}

void Raft::on_persisted(EntryId id) {
  log_.stable_to(id);
  if (!is_leader()) {
    return;
  }
  if (Progress* self = progress(id_);
      self != nullptr && self->maybe_update(log_.persisted_index())) {
    if (maybe_commit()) {
      on_commit_advanced();
    }
  }
  note_config_commit();
}

void Raft::note_config_commit() {
  const Index at = membership_.current_index();
  if (at <= config_committed_ || at > log_.committed()) {
    return;
  }
  config_committed_ = at;
  log(LogLevel::kInfo, str_cat("node ", id_, ": configuration ", describe(membership_.current()),
                               " (index ", at, ") is committed"));
  // Idempotent here: the configuration took effect when appended (thesis §4.1). Re-deriving
  // at commit keeps every view of the membership in one place (apply_membership).
  apply_membership();
}

void Raft::applied_to(Index index) {
  log_.applied_to(index);
  membership_.compact_to(index);
}

void Raft::snapshot_installed(Index index) {
  log_.snapshot_installed(index);
  membership_.compact_to(index);
}

void Raft::on_committed_handed_out(const std::vector<Entry>& ents) {
  if (!is_leader()) {
    return;
  }
  std::uint64_t& size = leader_state().uncommitted_size;
  for (const Entry& e : ents) {
    size -= std::min<std::uint64_t>(size, e.data.size());
  }
}

bool Raft::maybe_commit() {
  const Index index = leader_state().progress.committed(voters_);
  // Raft §5.4.2, Figure 8: only an entry of the current term is committed by counting
  // replicas; earlier entries commit with it (PITFALLS #1).
  return log_.maybe_commit(index, term_);
}

void Raft::on_commit_advanced() {
  broadcast_append();
  LeaderState& leader = leader_state();
  if (leader.reads.has_held() && committed_in_term()) {
    leader.reads.activate_held(log_.committed(), leader.reads.upcoming_round());
  }
  if (membership_.current_index() > log_.committed()) {
    return;
  }
  const ConfState& cs = membership_.current();
  if (cs.joint() && cs.auto_leave) {
    // Thesis §4.3: once C(old,new) is committed, the leader appends C(new).
    auto next = apply_conf_change(cs, ConfChange{});
    SKIFF_ASSERT(next.ok(), next.status().to_string());
    Entry e;
    e.type = EntryType::kConfChange;
    e.data = encode_conf_change_entry(ConfChangeEntry{ConfChange{}, *next});
    append_entries({e}, /*force=*/true);
    return;
  }
  if (!cs.joint() && !voters_.contains(id_)) {
    // Thesis §4.2.2: a leader removed (or demoted) by a committed configuration steps down;
    // it replicated that configuration without counting itself (PITFALLS #12).
    log(LogLevel::kInfo, str_cat("node ", id_, " is not a voter of the committed configuration ",
                                 describe(cs), "; stepping down"));
    become_follower(term_, kNoNode);
  }
}

Status Raft::step_leader(const Message& m) {
  switch (m.type) {
    case MessageType::kPropose: {
      std::vector<Entry> ents = m.entries;
      // During a transfer nothing new is appended (thesis §3.10), forwarded or not.
      if (leader_state().transfer_target != kNoNode || !append_entries(std::move(ents))) {
        ++counters_.proposals_dropped;
        log(LogLevel::kDebug, str_cat("node ", id_, " drops forwarded proposal from ", m.from));
      }
      return Status();
    }
    case MessageType::kAppendResponse:
      return handle_append_response(m);
    case MessageType::kHeartbeatResponse:
      handle_heartbeat_response(m);
      return Status();
    case MessageType::kReadIndex:
      accept_read(m.context, m.from);
      return Status();
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
    case MessageType::kTimeoutNow:
      // Two leaders in one term would break election safety (Raft §5.2): a broken peer.
      ++counters_.messages_rejected;
      log(LogLevel::kError, str_cat("node ", id_, " is leader at term ", term_,
                                    " and got a leader's message: ", describe(m)));
      return Status(ErrorCode::kInvalidArgument,
                    str_cat("leader message from ", m.from, " in this leader's own term ", term_));
    default:
      return Status();  // stale vote answers
  }
}

// ---------------------------------------------------------------------------------------------
// Followers and candidates

Status Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kPropose:
      ++counters_.proposals_dropped;
      log(LogLevel::kDebug,
          str_cat("node ", id_, " is not the leader; drops proposal from ", m.from));
      return Status();
    case MessageType::kReadIndex:
      log(LogLevel::kDebug, str_cat("node ", id_, " is not the leader; drops read from ", m.from));
      return Status();
    case MessageType::kReadIndexResponse:
      read_states_.push_back(ReadState{m.index, m.context});
      ++counters_.reads_confirmed;
      return Status();
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_snapshot(m);
      return Status();
    case MessageType::kTimeoutNow:
      // Thesis §3.10: the leader handed over; campaign at once, skipping pre-vote (the leader
      // vouches for this node) and the voters' leader lease.
      if (promotable()) {
        log(LogLevel::kInfo,
            str_cat("node ", id_, " takes over from ", m.from, " at term ", term_));
        start_election(false, /*transfer=*/true);
      }
      return Status();
    case MessageType::kAppend:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_append(m);
      return Status();
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_heartbeat(m);
      return Status();
    default:
      return Status();  // stale answers
  }
}

Status Raft::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kPropose:
      ++counters_.proposals_dropped;
      return Status();
    case MessageType::kAppend:
      // A leader won this term (Raft §5.2): return to follower.
      become_follower(m.term, m.from);
      handle_append(m);
      return Status();
    case MessageType::kHeartbeat:
      become_follower(m.term, m.from);
      handle_heartbeat(m);
      return Status();
    case MessageType::kSnapshot:
      become_follower(m.term, m.from);
      handle_snapshot(m);
      return Status();
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse:
      handle_vote_response(m);
      return Status();
    default:
      return Status();
  }
}

void Raft::handle_append(const Message& m) {
  Message resp;
  resp.type = MessageType::kAppendResponse;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    // Everything up to our commit index matches any leader's log (Raft §5.4): say so, and the
    // leader continues from there.
    resp.index = log_.committed();
    send(std::move(resp));
    return;
  }
  auto appended = log_.maybe_append(EntryId{m.log_term, m.index}, m.commit, m.entries);
  if (!appended.ok()) {
    ++counters_.messages_rejected;
    log(LogLevel::kError,
        str_cat("node ", id_, " refuses ", describe(m), ": ", appended.status().message()));
    return;
  }
  if (appended->has_value()) {
    if ((*appended)->written_from) {
      log_written(*(*appended)->written_from, m.entries);
    }
    resp.index = (*appended)->last_new;
    send(std::move(resp));
    return;
  }
  // Raft §5.3 consistency check failed. Hint where our log might match: the last index at or
  // below the leader's prev index whose term is not above the leader's prev term.
  const EntryId hint = log_.find_conflict_by_term(std::min(m.index, log_.last_index()), m.log_term);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = hint.index;
  resp.log_term = hint.term;
  send(std::move(resp));
}

void Raft::handle_heartbeat(const Message& m) {
  if (m.commit <= log_.last_index()) {
    log_.commit_to(m.commit);
  } else {
    log(LogLevel::kWarning, str_cat("node ", id_, " ignores heartbeat commit ", m.commit,
                                    " past its last index ", log_.last_index()));
  }
  Message resp;
  resp.type = MessageType::kHeartbeatResponse;
  resp.to = m.from;
  resp.index = m.index;  // the round, for the leader's read confirmations
  send(std::move(resp));
}

void Raft::handle_snapshot(const Message& m) {
  const SnapshotMeta& meta = m.snapshot.meta;
  Message resp;
  resp.type = MessageType::kAppendResponse;
  resp.to = m.from;
  if (meta.last.index <= log_.committed()) {
    // Older than what we know is committed (PITFALLS #7b: a duplicate or delayed snapshot):
    // nothing to do; tell the leader where we are.
    resp.index = log_.committed();
  } else if (log_.match_term(meta.last.index, meta.last.term)) {
    // Our log already holds what the snapshot covers: keep it and its matching suffix
    // (Raft §7: "retain the log entries following it"), just learn the commit.
    log_.commit_to(meta.last.index);
    resp.index = log_.committed();
  } else {
    log(LogLevel::kInfo, str_cat("node ", id_, " installs ", describe(m.snapshot), " from ", m.from,
                                 "; had ", log_.describe()));
    log_.restore(m.snapshot);
    membership_.reset(meta.last.index, meta.conf_state);
    apply_membership();
    ++counters_.snapshots_installed;
    resp.index = meta.last.index;
  }
  send(std::move(resp));
}

// ---------------------------------------------------------------------------------------------
// Output and diagnostics

void Raft::send(Message m) {
  m.from = id_;
  switch (m.type) {
    case MessageType::kVote:
    case MessageType::kVoteResponse:
    case MessageType::kPreVote:
    case MessageType::kPreVoteResponse:
      SKIFF_ASSERT(m.term > Term{0}, str_cat("vote message without term: ", describe(m)));
      break;
    case MessageType::kPropose:
    case MessageType::kReadIndex:
      m.term = Term{0};
      break;
    default:
      m.term = term_;
      break;
  }
  // Raft Figure 2: answers and our own vote requests promise persisted state (term, vote,
  // entries); they leave only after the Ready that holds that state is durable.
  if (is_response(m.type) || m.type == MessageType::kVote) {
    queue_message(msgs_after_persist_, std::move(m));
  } else {
    queue_message(msgs_, std::move(m));
  }
}

bool Raft::log_enabled(LogLevel level) const {
  return config_.logger != nullptr && config_.logger->enabled(level);
}

void Raft::log(LogLevel level, const std::string& line) const {
  if (log_enabled(level)) {
    config_.logger->log(level, line);
  }
}

NodeStatus Raft::status() const {
  NodeStatus st;
  st.id = id_;
  st.role = role();
  st.term = term_;
  st.vote = vote_;
  st.leader = lead_;
  st.first_index = log_.first_index();
  st.last_index = log_.last_index();
  st.last_term = log_.last_term();
  st.commit = log_.committed();
  st.applied = log_.applied();
  st.config = membership_.current();
  st.config_index = membership_.current_index();
  st.config_committed = st.config_index <= st.commit;
  if (const auto* leader = std::get_if<LeaderState>(&role_)) {
    st.transfer_target = leader->transfer_target;
    st.pending_reads = leader->reads.pending();
    st.progress = leader->progress.status(voters_);
  }
  return st;
}

void Raft::check_invariants() const {
  log_.check_invariants();
  membership_.check_invariants();
  SKIFF_ASSERT(role() != Role::kCandidate || vote_ == id_, "a candidate votes for itself");
  if (const auto* leader = std::get_if<LeaderState>(&role_)) {
    SKIFF_ASSERT(lead_ == id_, str_cat("leader ", id_, " names ", lead_, " as leader"));
    leader->progress.check_invariants(voters_, learners_, log_.last_index(), id_,
                                      log_.persisted_index());
    SKIFF_ASSERT(leader->transfer_target == kNoNode || voters_.contains(leader->transfer_target),
                 str_cat("leader ", id_, " transfers to non-voter ", leader->transfer_target));
  }
}

}  // namespace skiff::detail
