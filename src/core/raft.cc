#include "core/raft.h"

#include <algorithm>
#include <limits>
#include <set>

#include "core/assert.h"
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
  return t == MessageType::kAppend || t == MessageType::kHeartbeat;
}

Status check_conf_state(const ConfState& cs) {
  std::set<NodeId> seen;
  for (const auto* list : {&cs.voters, &cs.learners}) {
    for (NodeId id : *list) {
      if (id == kNoNode) {
        return Status(ErrorCode::kCorruption, "stored membership contains node id 0");
      }
      if (!seen.insert(id).second) {
        return Status(ErrorCode::kCorruption,
                      str_cat("stored membership lists node ", id, " twice: ", describe(cs)));
      }
    }
  }
  return Status();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Creation

Result<std::unique_ptr<Raft>> Raft::create(const Config& config, const LogStorage& storage) {
  if (Status s = config.validate(); !s.ok()) {
    return s;
  }
  auto init = storage.initial_state();
  if (!init.ok()) {
    return init.status();
  }
  if (Status s = check_conf_state(init->conf_state); !s.ok()) {
    return s;
  }
  const HardState& hs = init->hard_state;
  const Index last = storage.last_index();
  if (storage.first_index() > last + 1) {
    return Status(ErrorCode::kCorruption, str_cat("storage first index ", storage.first_index(),
                                                  " is past last index ", last, " + 1"));
  }
  if (hs.commit > last) {
    return Status(ErrorCode::kCorruption, str_cat("stored commit index ", hs.commit,
                                                  " is past the last stored entry ", last));
  }
  // Entries and hard state are persisted together (Ready contract), and a node only accepts
  // entries from leaders of its own term: a last entry above the stored term means the
  // storage lost or mixed writes.
  auto last_term = storage.term(last);
  if (!last_term.ok()) {
    return last_term.status();
  }
  if (*last_term > hs.term) {
    return Status(ErrorCode::kCorruption,
                  str_cat("last stored entry ", describe(EntryId{*last_term, last}),
                          " has a term above the stored term ", hs.term));
  }
  if (config.applied > hs.commit) {
    return Status(ErrorCode::kInvalidArgument,
                  str_cat("Config::applied ", config.applied, " is past the stored commit index ",
                          hs.commit));
  }
  return std::unique_ptr<Raft>(new Raft(config, storage, *init));
}

Raft::Raft(const Config& config, const LogStorage& storage, const InitialState& init)
    : config_(config),
      id_(config.id),
      term_(init.hard_state.term),
      vote_(init.hard_state.vote),
      log_(storage, init.hard_state.commit, config.applied),
      voters_(std::set<NodeId>(init.conf_state.voters.begin(), init.conf_state.voters.end())),
      learners_(init.conf_state.learners.begin(), init.conf_state.learners.end()),
      rng_(config.seed, config.id.value) {
  become_follower(term_, kNoNode);
  log(LogLevel::kInfo, str_cat("node ", id_, " starts at term ", term_, ", ", log_.describe(),
                               ", voters ", voters_.describe()));
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
  LeaderState leader;
  const Index next = log_.last_index() + 1;
  auto add = [&](NodeId id) {
    Progress pr(next, config_.max_inflight_msgs, config_.max_inflight_bytes);
    if (id == id_) {
      // The leader's own acknowledgement is its durable log, nothing more (PITFALLS #10).
      pr.maybe_update(log_.persisted_index());
      pr.become_replicate();
      pr.set_recent_active(true);
    }
    leader.progress.emplace(id, std::move(pr));
  };
  for (NodeId id : voters_.voters()) {
    add(id);
  }
  for (NodeId id : learners_) {
    add(id);
  }
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
  if (promotable() && past_election_timeout()) {
    election_elapsed_ = 0;
    start_election(config_.pre_vote);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
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
  return voters_.contains(id_);
}

bool Raft::in_lease() const {
  // Thesis §4.2.3: a node that heard from a leader within the minimum election timeout ignores
  // vote requests, so a removed or partitioned node cannot disrupt a healthy leader.
  return config_.check_quorum && lead_ != kNoNode && election_elapsed_ < config_.election_tick;
}

bool Raft::check_quorum_active() {
  auto& progress = leader_state().progress;
  const VoteResult result = voters_.vote_result([&](NodeId id) -> std::optional<bool> {
    auto it = progress.find(id);
    return it != progress.end() && (id == id_ || it->second.recent_active());
  });
  for (auto& [id, pr] : progress) {
    pr.set_recent_active(id == id_);
  }
  return result == VoteResult::kWon;
}

// ---------------------------------------------------------------------------------------------
// Elections

Status Raft::campaign() {
  if (is_leader()) {
    return Status(ErrorCode::kFailedPrecondition, str_cat("node ", id_, " is already the leader"));
  }
  if (!promotable()) {
    return Status(ErrorCode::kFailedPrecondition,
                  str_cat("node ", id_, " is not a voter in ", voters_.describe()));
  }
  start_election(config_.pre_vote);
  return Status();
}

void Raft::start_election(bool pre_vote) {
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
  for (NodeId id : voters_.voters()) {
    if (id == id_) {
      continue;
    }
    Message m;
    m.type = type;
    m.to = id;
    m.term = vote_term;
    m.index = last.index;
    m.log_term = last.term;
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
  if (m.type != MessageType::kPropose && m.term > term_) {
    if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
      if (in_lease()) {
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
  } else if (m.type != MessageType::kPropose && m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) && from_leader(m.type)) {
      // A stale leader may be cut off from everyone else; tell it our term so it steps down
      // (with pre-vote it could otherwise never learn it: etcd-io/etcd #8334).
      Message resp;
      resp.type = MessageType::kAppendResponse;
      resp.to = m.from;
      send(std::move(resp));
    } else if (m.type == MessageType::kPreVote) {
      Message resp;
      resp.type = MessageType::kPreVoteResponse;
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
  switch (role()) {
    case Role::kLeader:
      return step_leader(m);
    case Role::kCandidate:
    case Role::kPreCandidate:
      return step_candidate(m);
    case Role::kFollower:
      return step_follower(m);
  }
  return Status();
}

Result<Proposal> Raft::propose(Bytes data) {
  if (is_leader()) {
    Entry e;
    e.data = std::move(data);
    if (!append_entries({e})) {
      ++counters_.proposals_dropped;
      return Status(ErrorCode::kProposalDropped,
                    str_cat("uncommitted entries hold ", leader_state().uncommitted_size,
                            " bytes, limit is ", config_.max_uncommitted_size));
    }
    return Proposal{log_.last_entry_id(), kNoNode};
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

// ---------------------------------------------------------------------------------------------
// Leader

Progress* Raft::progress(NodeId id) {
  auto& progress = leader_state().progress;
  auto it = progress.find(id);
  return it == progress.end() ? nullptr : &it->second;
}

bool Raft::append_entries(std::vector<Entry> ents) {
  LeaderState& leader = leader_state();
  std::uint64_t payload = 0;
  for (const Entry& e : ents) {
    payload += e.data.size();
  }
  // Refuse only when something is already pending, so one large proposal still goes through;
  // never refuse payload-free entries (a new leader's no-op must commit to free the budget it
  // may have inherited above the limit).
  if (config_.max_uncommitted_size > 0 && payload > 0 && leader.uncommitted_size > 0 &&
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
  // Our own copy counts once it is durable: see on_persisted.
  broadcast_append();
  return true;
}

void Raft::on_persisted(EntryId id) {
  log_.stable_to(id);
  if (!is_leader()) {
    return;
  }
  if (Progress* self = progress(id_);
      self != nullptr && self->maybe_update(log_.persisted_index())) {
    if (maybe_commit()) {
      broadcast_append();
    }
  }
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
  auto& progress = leader_state().progress;
  const Index index = voters_.committed_index([&](NodeId id) -> std::optional<Index> {
    auto it = progress.find(id);
    if (it == progress.end()) {
      return std::nullopt;
    }
    return it->second.match();
  });
  // Raft §5.4.2, Figure 8: only an entry of the current term is committed by counting
  // replicas; earlier entries commit with it (PITFALLS #1).
  return log_.maybe_commit(index, term_);
}

void Raft::broadcast_append() {
  leader_state().broadcast_pending = true;
}

bool Raft::has_pending_broadcast() const {
  const auto* leader = std::get_if<LeaderState>(&role_);
  return leader != nullptr && leader->broadcast_pending;
}

void Raft::flush_broadcast() {
  if (!has_pending_broadcast()) {
    return;
  }
  LeaderState& leader = leader_state();
  leader.broadcast_pending = false;
  for (auto& [id, pr] : leader.progress) {
    if (id != id_) {
      send_appends_to(id, pr.can_bump_commit(log_.committed()));
    }
  }
}

void Raft::send_appends_to(NodeId to, bool send_if_empty) {
  if (!maybe_send_append(to, send_if_empty)) {
    return;
  }
  // Pipelining: in the replicate state, keep sending while the window allows.
  while (progress(to)->state() == ProgressState::kReplicate && maybe_send_append(to, false)) {
  }
}

bool Raft::maybe_send_append(NodeId to, bool send_if_empty) {
  Progress* pr = progress(to);
  if (pr == nullptr || pr->is_paused()) {
    return false;
  }
  const Index prev = pr->next() - 1;
  auto prev_term = log_.term(prev);
  if (!prev_term.ok()) {
    if (prev_term.status().code() != ErrorCode::kCompacted) {
      ++counters_.storage_read_errors;
    }
    // TODO(#4): send a snapshot when the follower needs compacted entries.
    log(LogLevel::kWarning,
        str_cat("node ", id_, " cannot send Append to ", to, ": ", prev_term.status().to_string()));
    return false;
  }
  auto ents = log_.slice(pr->next(), log_.last_index() + 1, config_.max_size_per_msg);
  if (!ents.ok()) {
    if (ents.status().code() != ErrorCode::kCompacted) {
      ++counters_.storage_read_errors;
    }
    log(LogLevel::kWarning,
        str_cat("node ", id_, " cannot read entries for ", to, ": ", ents.status().to_string()));
    return false;
  }
  if (ents->empty() && !send_if_empty) {
    return false;
  }
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  pr->sent_entries(prev, ents->size(), entries_size(*ents), m.commit);
  m.entries = std::move(ents).value();
  send(std::move(m));
  return true;
}

void Raft::broadcast_heartbeat() {
  for (auto& [id, pr] : leader_state().progress) {
    if (id != id_) {
      send_heartbeat(id);
    }
  }
}

void Raft::send_heartbeat(NodeId to) {
  Progress* pr = progress(to);
  // The follower may lack entries past its match, so it can only learn a commit up to it.
  const Index commit = std::min(pr->match(), log_.committed());
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  m.commit = commit;
  pr->sent_commit_index(commit);
  send(std::move(m));
}

Status Raft::step_leader(const Message& m) {
  switch (m.type) {
    case MessageType::kPropose: {
      std::vector<Entry> ents = m.entries;
      if (!append_entries(std::move(ents))) {
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
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
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

Status Raft::handle_append_response(const Message& m) {
  Progress* pr = progress(m.from);
  if (pr == nullptr) {
    log(LogLevel::kDebug, str_cat("node ", id_, " ignores answer from unknown node ", m.from));
    return Status();
  }
  if (m.index > log_.last_index()) {
    // Nobody can hold or reject entries this leader never had in its term: a broken peer.
    ++counters_.messages_rejected;
    const std::string why = str_cat("node ", id_, " refuses ", describe(m),
                                    ": index past its last ", log_.last_index());
    log(LogLevel::kError, why);
    return Status(ErrorCode::kInvalidArgument, why);
  }
  pr->set_recent_active(true);
  if (m.reject) {
    // Fast backtracking: skip every entry of the follower's conflicting term at once. The
    // follower's hint (index, term) says its log has `term` at `index`; we jump to the last
    // index where our term is <= that term.
    Index next_probe = m.reject_hint;
    if (m.log_term > Term{0}) {
      next_probe = log_.find_conflict_by_term(m.reject_hint, m.log_term).index;
    }
    if (pr->maybe_decrease_to(m.index, next_probe)) {
      if (pr->state() == ProgressState::kReplicate) {
        pr->become_probe();
      }
      send_appends_to(m.from, true);
    }
    return Status();
  }
  if (m.index == Index{0}) {
    // A leader's log is never empty, so a real acknowledgement names an entry. Index 0 is a
    // node of a newer term telling a stale leader about it (see step()); if we have since been
    // elected in that term, it carries no news and must not reset the follower's progress.
    return Status();
  }
  const bool was_paused = pr->is_paused();
  if (pr->maybe_update(m.index) ||
      (pr->match() == m.index && pr->state() == ProgressState::kProbe)) {
    if (pr->state() == ProgressState::kProbe) {
      pr->become_replicate();
    } else {
      pr->free_inflights_le(m.index);
    }
    if (maybe_commit()) {
      broadcast_append();
    }
    if (was_paused || pr->next() <= log_.last_index()) {
      send_appends_to(m.from, false);
    }
  }
  return Status();
}

void Raft::handle_heartbeat_response(const Message& m) {
  Progress* pr = progress(m.from);
  if (pr == nullptr) {
    return;
  }
  pr->set_recent_active(true);
  pr->on_heartbeat_response();
  if (pr->match() < log_.last_index() || pr->can_bump_commit(log_.committed())) {
    send_appends_to(m.from, true);
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
    resp.index = **appended;
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
      m.term = Term{0};
      break;
    default:
      m.term = term_;
      break;
  }
  // Raft Figure 2: answers and our own vote requests promise persisted state (term, vote,
  // entries); they leave only after the Ready that holds that state is durable.
  if (is_response(m.type) || m.type == MessageType::kVote) {
    msgs_after_persist_.push_back(std::move(m));
  } else {
    msgs_.push_back(std::move(m));
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

void Raft::check_invariants() const {
  log_.check_invariants();
  SKIFF_ASSERT(role() != Role::kCandidate || vote_ == id_, "a candidate votes for itself");
  if (const auto* leader = std::get_if<LeaderState>(&role_)) {
    SKIFF_ASSERT(lead_ == id_, str_cat("leader ", id_, " names ", lead_, " as leader"));
    for (const auto& [id, pr] : leader->progress) {
      pr.check_invariants();
      SKIFF_ASSERT(pr.match() <= log_.last_index(),
                   str_cat("progress of ", id, " ", pr.describe(), " past ", log_.describe()));
    }
    auto self = leader->progress.find(id_);
    if (self != leader->progress.end()) {
      SKIFF_ASSERT(self->second.match() <= log_.persisted_index(),
                   str_cat("leader counts itself at ", self->second.match(),
                           " but has persisted only ", log_.persisted_index()));
    }
  }
}

}  // namespace skiff::detail
