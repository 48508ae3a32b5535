#include "core/validate_message.h"

#include <gtest/gtest.h>

#include "core/test_entries.h"

#include <limits>
#include <string>

#include "skiff/conf_change.h"
#include "skiff/memory_storage.h"
#include "skiff/raw_node.h"

namespace skiff::detail {
namespace {

using test_entries::ent;

constexpr NodeId kSelf{1};
constexpr std::uint64_t kMaxIndex = std::numeric_limits<std::uint64_t>::max() / 2;

// A well-formed message of each type from node 2 to node 1 at term 3; each test breaks one rule.
Message append() {
  return Message{.type = MessageType::kAppend,
                 .from = NodeId{2},
                 .to = kSelf,
                 .term = Term{3},
                 .log_term = Term{2},
                 .index = Index{7},
                 .entries = {ent(8, 2), ent(9, 3)},
                 .commit = Index{6}};
}

Message append_response() {
  return Message{.type = MessageType::kAppendResponse,
                 .from = NodeId{2},
                 .to = kSelf,
                 .term = Term{3},
                 .log_term = Term{1},
                 .index = Index{7},
                 .reject = true,
                 .reject_hint = Index{4}};
}

Message of_type(MessageType type) {
  return Message{.type = type, .from = NodeId{2}, .to = kSelf, .term = Term{3}};
}

Message propose() {
  return Message{.type = MessageType::kPropose,
                 .from = NodeId{2},
                 .to = kSelf,
                 .entries = {Entry{.data = Bytes::copy_of("x")}}};
}

// Expects kInvalidArgument with a message containing `why`.
void expect_invalid(const Message& m, const std::string& why) {
  Status st = validate_message(m, kSelf);
  EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument) << describe(m);
  EXPECT_NE(st.message().find(why), std::string::npos)
      << "\"" << st.message() << "\" does not say " << why;
}

TEST(ValidateMessage, WellFormedMessagesPass) {
  // The baseline every rejection test breaks in exactly one way.
  EXPECT_TRUE(validate_message(append(), kSelf).ok())
      << validate_message(append(), kSelf).message();
  EXPECT_TRUE(validate_message(append_response(), kSelf).ok());
  EXPECT_TRUE(validate_message(propose(), kSelf).ok());
  for (MessageType t :
       {MessageType::kAppendResponse, MessageType::kHeartbeat, MessageType::kHeartbeatResponse,
        MessageType::kVote, MessageType::kVoteResponse, MessageType::kPreVote,
        MessageType::kPreVoteResponse}) {
    EXPECT_TRUE(validate_message(of_type(t), kSelf).ok()) << describe(of_type(t));
  }
  Message heartbeat_append = append();
  heartbeat_append.entries.clear();  // an empty Append (probe or commit update)
  EXPECT_TRUE(validate_message(heartbeat_append, kSelf).ok());
  Message noop = append();
  noop.entries[1].type = EntryType::kNoop;
  EXPECT_TRUE(validate_message(noop, kSelf).ok());
}

TEST(ValidateMessage, WrongRecipient) {
  Message m = append();
  m.to = NodeId{3};
  expect_invalid(m, "addressed to 3");
  m.to = kNoNode;
  expect_invalid(m, "addressed to 0");
}

TEST(ValidateMessage, SenderMustBeAnotherNode) {
  Message m = append();
  m.from = kNoNode;
  expect_invalid(m, "sender");
  m.from = kSelf;
  expect_invalid(m, "sender");
}

TEST(ValidateMessage, UnknownType) {
  Message m = of_type(static_cast<MessageType>(0));
  expect_invalid(m, "unknown type 0");
  m.type = static_cast<MessageType>(99);
  expect_invalid(m, "unknown type 99");
}

TEST(ValidateMessage, TermZeroOnlyForProposals) {
  for (MessageType t :
       {MessageType::kAppend, MessageType::kAppendResponse, MessageType::kHeartbeat,
        MessageType::kHeartbeatResponse, MessageType::kVote, MessageType::kVoteResponse,
        MessageType::kPreVote, MessageType::kPreVoteResponse}) {
    Message m = of_type(t);
    m.term = Term{0};
    expect_invalid(m, "term 0");
  }
}

TEST(ValidateMessage, LogTermAboveMessageTerm) {
  Message m = of_type(MessageType::kVote);
  m.log_term = Term{4};
  expect_invalid(m, "log term above message term");
}

TEST(ValidateMessage, EntriesOnlyOnAppendAndPropose) {
  for (MessageType t :
       {MessageType::kAppendResponse, MessageType::kHeartbeat, MessageType::kHeartbeatResponse,
        MessageType::kVote, MessageType::kVoteResponse, MessageType::kPreVote,
        MessageType::kPreVoteResponse}) {
    Message m = of_type(t);
    m.entries = {ent(1, 1)};
    expect_invalid(m, "only Append and Propose carry entries");
  }
}

TEST(ValidateMessage, AppendEntriesMustFollowPrevContiguously) {
  Message m = append();
  m.entries = {ent(9, 2)};  // should start at 8
  expect_invalid(m, "entry 0 has index 9, expected 8");
  m.entries = {ent(8, 2), ent(10, 2)};  // gap
  expect_invalid(m, "entry 1 has index 10, expected 9");
  m.entries = {ent(8, 2), ent(8, 2)};  // repeated
  expect_invalid(m, "entry 1 has index 8, expected 9");
}

TEST(ValidateMessage, AppendEntryTermsMustNotDecrease) {
  Message m = append();
  m.entries = {ent(8, 3), ent(9, 2)};
  expect_invalid(m, "entry 9 has term 2");
  // Nor go below the term of the entry before them.
  m.entries = {ent(8, 1)};
  expect_invalid(m, "entry 8 has term 1");
}

TEST(ValidateMessage, AppendEntryTermsMustNotExceedTheLeadersTerm) {
  Message m = append();
  m.entries = {ent(8, 2), ent(9, 4)};
  expect_invalid(m, "entry 9 has term 4");
}

TEST(ValidateMessage, AppendEntryOfUnknownType) {
  Message m = append();
  m.entries[0].type = static_cast<EntryType>(7);
  expect_invalid(m, "unknown type");
}

TEST(ValidateMessage, RejectHintAboveTheRejectedIndex) {
  Message m = append_response();
  m.reject_hint = Index{8};
  expect_invalid(m, "reject hint above the rejected index");
  m.reject_hint = Index{7};  // equal is fine
  EXPECT_TRUE(validate_message(m, kSelf).ok());
  // The hint only means something on a rejection.
  m.reject = false;
  m.reject_hint = Index{8};
  EXPECT_TRUE(validate_message(m, kSelf).ok());
}

TEST(ValidateMessage, ProposeCarriesTermZero) {
  Message m = propose();
  m.term = Term{3};
  expect_invalid(m, "forwarded proposal carries term 0");
}

TEST(ValidateMessage, ProposeCarriesEntries) {
  Message m = propose();
  m.entries.clear();
  expect_invalid(m, "forwarded proposal carries entries");
}

TEST(ValidateMessage, ProposedEntriesAreNormalWithoutTermOrIndex) {
  Message m = propose();
  m.entries[0].term = Term{1};
  expect_invalid(m, "forwarded entries");
  m = propose();
  m.entries[0].index = Index{5};
  expect_invalid(m, "forwarded entries");
  m = propose();
  m.entries[0].type = EntryType::kNoop;
  expect_invalid(m, "forwarded entries");
}

TEST(ValidateMessage, HugeIndexesAreRejected) {
  // Indexes near the top of the range would overflow index + entries arithmetic.
  Message m = of_type(MessageType::kHeartbeat);
  m.commit = Index{kMaxIndex + 1};
  expect_invalid(m, "index out of range");
  m = of_type(MessageType::kVote);
  m.index = Index{std::numeric_limits<std::uint64_t>::max()};
  expect_invalid(m, "index out of range");
  m = append_response();
  m.index = Index{kMaxIndex + 2};
  m.reject_hint = Index{kMaxIndex + 1};
  expect_invalid(m, "index out of range");
  m = propose();
  m.index = Index{kMaxIndex + 1};
  expect_invalid(m, "index out of range");
  // The largest allowed index is fine on its own...
  m = of_type(MessageType::kVote);
  m.index = Index{kMaxIndex};
  EXPECT_TRUE(validate_message(m, kSelf).ok());
  // ...but an Append there has no room for entries.
  m = append();
  m.index = Index{kMaxIndex};
  m.entries = {};
  EXPECT_TRUE(validate_message(m, kSelf).ok());
  m.entries = {Entry{.term = Term{2}, .index = Index{kMaxIndex + 1}}};
  expect_invalid(m, "too many entries");
}

// kMaxTerm (types.h): a term with no successor every peer accepts would end elections.
TEST(ValidateMessage, TermsAboveTheCeilingAreRejected) {
  for (MessageType t :
       {MessageType::kAppend, MessageType::kAppendResponse, MessageType::kHeartbeat,
        MessageType::kHeartbeatResponse, MessageType::kVote, MessageType::kVoteResponse,
        MessageType::kPreVote, MessageType::kPreVoteResponse, MessageType::kTimeoutNow}) {
    for (Term term : {kMaxTerm.next(), Term{std::numeric_limits<std::uint64_t>::max() / 2},
                      Term{std::numeric_limits<std::uint64_t>::max()}}) {
      Message m = of_type(t);
      m.term = term;
      expect_invalid(m, "term above the ceiling");
    }
    Message m = of_type(t);
    m.term = kMaxTerm;
    m.log_term = kMaxTerm;
    EXPECT_TRUE(validate_message(m, kSelf).ok()) << describe(m);
  }
}

// --- Snapshot, ReadIndex and configuration entries ---

ConfState three_voters() {
  return ConfState{.voters = {NodeId{1}, NodeId{2}, NodeId{3}}};
}

// A leader at term 3 sends its snapshot at 10/2.
Message snapshot() {
  return Message{.type = MessageType::kSnapshot,
                 .from = NodeId{2},
                 .to = kSelf,
                 .term = Term{3},
                 .snapshot = Snapshot{.meta = SnapshotMeta{.last = EntryId{Term{2}, Index{10}},
                                                           .conf_state = three_voters()},
                                      .data = Bytes::copy_of("state")}};
}

Message read_index() {
  return Message{.type = MessageType::kReadIndex,
                 .from = NodeId{2},
                 .to = kSelf,
                 .context = Bytes::copy_of("req-1")};
}

// A configuration entry at `index`/`term` adding voter 4 to three voters.
Entry conf_entry(std::uint64_t index, std::uint64_t term) {
  const ConfChangeEntry payload{
      .change = ConfChange{.changes = {ConfChangeSingle{ConfChangeType::kAddVoter, NodeId{4}}}},
      .result = ConfState{.voters = {NodeId{1}, NodeId{2}, NodeId{3}, NodeId{4}}}};
  return Entry{.term = Term{term},
               .index = Index{index},
               .type = EntryType::kConfChange,
               .data = encode_conf_change_entry(payload)};
}

TEST(ValidateMessage, NewMessageTypesPassWhenWellFormed) {
  EXPECT_TRUE(validate_message(snapshot(), kSelf).ok())
      << validate_message(snapshot(), kSelf).message();
  EXPECT_TRUE(validate_message(read_index(), kSelf).ok());
  for (MessageType t : {MessageType::kTimeoutNow, MessageType::kReadIndexResponse}) {
    EXPECT_TRUE(validate_message(of_type(t), kSelf).ok()) << describe(of_type(t));
  }
  Message reconfigure = append();
  reconfigure.entries[1] = conf_entry(9, 3);
  EXPECT_TRUE(validate_message(reconfigure, kSelf).ok())
      << validate_message(reconfigure, kSelf).message();
}

TEST(ValidateMessage, SnapshotAtTheLeadersTermIsFine) {
  Message m = snapshot();
  m.snapshot.meta.last.term = Term{3};
  EXPECT_TRUE(validate_message(m, kSelf).ok());
}

TEST(ValidateMessage, SnapshotIndexZeroOrHugeIsRejected) {
  // Index 0 is the "no snapshot" value: there is nothing to install.
  Message m = snapshot();
  m.snapshot.meta.last.index = Index{0};
  expect_invalid(m, "snapshot index out of range");
  m.snapshot.meta.last.index = Index{kMaxIndex + 1};
  expect_invalid(m, "snapshot index out of range");
  m.snapshot.meta.last.index = Index{kMaxIndex};
  EXPECT_TRUE(validate_message(m, kSelf).ok());
}

TEST(ValidateMessage, SnapshotTermMustBeBetweenOneAndTheLeadersTerm) {
  // The snapshot covers committed entries, all of terms up to the sender's own.
  Message m = snapshot();
  m.snapshot.meta.last.term = Term{4};
  expect_invalid(m, "snapshot term is 0 or above the leader's term");
  m.snapshot.meta.last.term = Term{0};
  expect_invalid(m, "snapshot term is 0 or above the leader's term");
}

TEST(ValidateMessage, SnapshotWithAnIllFormedMembershipIsRejected) {
  Message m = snapshot();
  m.snapshot.meta.conf_state.voters.push_back(kNoNode);
  expect_invalid(m, "snapshot membership: voters contains node id 0");
  m = snapshot();
  m.snapshot.meta.conf_state.learners = {NodeId{2}};
  expect_invalid(m, "node 2 is both a voter and a learner");
  m = snapshot();
  m.snapshot.meta.conf_state.auto_leave = true;
  expect_invalid(m, "need a joint configuration");
}

TEST(ValidateMessage, SnapshotWithoutVotersIsRejected) {
  // A group always has a voter; a membership without one could never elect a leader.
  Message m = snapshot();
  m.snapshot.meta.conf_state = ConfState{};
  expect_invalid(m, "snapshot membership has no voter");
  m.snapshot.meta.conf_state = ConfState{.learners = {NodeId{1}, NodeId{2}}};
  expect_invalid(m, "snapshot membership has no voter");
}

TEST(ValidateMessage, SnapshotCarriesNoEntries) {
  Message m = snapshot();
  m.entries = {ent(11, 2)};
  expect_invalid(m, "only Append and Propose carry entries");
}

TEST(ValidateMessage, OnlySnapshotMessagesCarryASnapshot) {
  for (MessageType t : {MessageType::kHeartbeat, MessageType::kAppendResponse, MessageType::kVote,
                        MessageType::kTimeoutNow, MessageType::kReadIndexResponse}) {
    Message m = of_type(t);
    m.snapshot = snapshot().snapshot;
    expect_invalid(m, "only Snapshot carries a snapshot");
  }
  Message m = append();
  m.snapshot = snapshot().snapshot;
  expect_invalid(m, "only Snapshot carries a snapshot");
}

TEST(ValidateMessage, ForwardedReadCarriesTermZeroAndNoEntries) {
  // Like a forwarded proposal: the follower's term means nothing to the leader.
  Message m = read_index();
  m.term = Term{3};
  expect_invalid(m, "a forwarded read carries term 0");
  m = read_index();
  m.entries = {ent(1, 1)};
  expect_invalid(m, "a forwarded read carries term 0 and no entries");
  // A read with no context is still a read.
  m = read_index();
  m.context = Bytes();
  EXPECT_TRUE(validate_message(m, kSelf).ok());
}

TEST(ValidateMessage, TermZeroOnlyForForwardedMessages) {
  for (MessageType t :
       {MessageType::kSnapshot, MessageType::kTimeoutNow, MessageType::kReadIndexResponse}) {
    Message m = t == MessageType::kSnapshot ? snapshot() : of_type(t);
    m.term = Term{0};
    expect_invalid(m, "term 0");
  }
}

TEST(ValidateMessage, UnknownTypeJustPastTheLastOne) {
  expect_invalid(of_type(static_cast<MessageType>(14)), "unknown type 14");
}

TEST(ValidateMessage, AppendWithAnUndecodableConfigurationEntry) {
  // The core acts on a configuration entry as soon as it is appended (thesis §4.1), so one it
  // cannot decode must be stopped at the gateway.
  Message m = append();
  m.entries[1] = conf_entry(9, 3);
  m.entries[1].data = Bytes::copy_of("garbage");
  expect_invalid(m, "entry 9: configuration entry: unknown format version");
  m.entries[1].data = Bytes();
  expect_invalid(m, "entry 9: configuration entry: empty");
  // Cut one byte short.
  const std::string whole(conf_entry(9, 3).data.view());
  m.entries[1].data = Bytes(whole.substr(0, whole.size() - 1));
  expect_invalid(m, "entry 9: configuration entry");
  // Well framed, but the membership it names is ill-formed.
  m.entries[1].data = encode_conf_change_entry(
      ConfChangeEntry{.result = ConfState{.voters = {NodeId{1}, NodeId{1}}}});
  expect_invalid(m, "lists node 1 twice");
}

TEST(ValidateMessage, ForwardedProposalsCannotCarryConfigurationEntries) {
  // Membership changes go through propose_conf_change on the leader, never through forwarding.
  Message m = propose();
  m.entries[0] = Entry{.type = EntryType::kConfChange, .data = conf_entry(9, 3).data};
  expect_invalid(m, "forwarded entries are normal");
}

// The same rules at the gateway of a running node: the error comes back, the counter moves,
// and nothing else changes (DESIGN.md §4).
class StepValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config c;
    c.id = kSelf;
    auto n = RawNode::create(c, storage_);
    ASSERT_TRUE(n.ok()) << n.status().to_string();
    node_.emplace(std::move(n).value());
  }

  // A message from node 2 at term 5 that would make node 1 a follower of node 2 at term 5.
  static Message higher_term_append() {
    return Message{.type = MessageType::kAppend,
                   .from = NodeId{2},
                   .to = kSelf,
                   .term = Term{5},
                   .entries = {ent(1, 5)}};
  }

  void expect_refused(const Message& m) {
    const std::uint64_t rejected = node_->counters().messages_rejected;
    Status st = node_->step(m);
    EXPECT_EQ(st.code(), ErrorCode::kInvalidArgument) << describe(m);
    EXPECT_EQ(node_->counters().messages_rejected, rejected + 1);
    EXPECT_EQ(node_->term(), Term{0});
    EXPECT_EQ(node_->role(), Role::kFollower);
    EXPECT_EQ(node_->leader(), kNoNode);
    EXPECT_EQ(node_->last_index(), Index{0});
    EXPECT_FALSE(node_->has_ready());
    node_->check_invariants();
  }

  MemoryStorage storage_{ConfState{.voters = {NodeId{1}, NodeId{2}, NodeId{3}}}};
  std::optional<RawNode> node_;
};

TEST_F(StepValidationTest, AWellFormedMessageChangesTheNode) {
  // The control for the tests below: the unbroken message is accepted and takes effect.
  ASSERT_TRUE(node_->step(higher_term_append()).ok());
  EXPECT_EQ(node_->term(), Term{5});
  EXPECT_EQ(node_->leader(), NodeId{2});
  EXPECT_EQ(node_->last_index(), Index{1});
  EXPECT_EQ(node_->counters().messages_rejected, 0U);
  EXPECT_TRUE(node_->has_ready());
}

TEST_F(StepValidationTest, WrongRecipient) {
  Message m = higher_term_append();
  m.to = NodeId{3};
  expect_refused(m);
}

TEST_F(StepValidationTest, FromSelf) {
  Message m = higher_term_append();
  m.from = kSelf;
  expect_refused(m);
}

TEST_F(StepValidationTest, NonContiguousEntries) {
  Message m = higher_term_append();
  m.entries = {ent(1, 5), ent(3, 5)};
  expect_refused(m);
}

TEST_F(StepValidationTest, EntryTermAboveTheMessageTerm) {
  Message m = higher_term_append();
  m.entries = {ent(1, 6)};
  expect_refused(m);
}

TEST_F(StepValidationTest, VoteWithEntries) {
  Message m = higher_term_append();
  m.type = MessageType::kVote;
  expect_refused(m);
}

TEST_F(StepValidationTest, ProposeWithATerm) {
  Message m = propose();
  m.term = Term{5};
  expect_refused(m);
}

TEST_F(StepValidationTest, SnapshotWithoutVoters) {
  Message m{.type = MessageType::kSnapshot,
            .from = NodeId{2},
            .to = kSelf,
            .term = Term{5},
            .snapshot = Snapshot{.meta = SnapshotMeta{.last = EntryId{Term{4}, Index{10}}}}};
  expect_refused(m);
}

TEST_F(StepValidationTest, UndecodableConfigurationEntry) {
  Message m = higher_term_append();
  m.entries[0].type = EntryType::kConfChange;  // its payload "data" is not a configuration
  expect_refused(m);
}

TEST_F(StepValidationTest, EveryRejectionIsCounted) {
  Message m = higher_term_append();
  m.to = NodeId{3};
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(node_->step(m).code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(node_->counters().messages_rejected, 3U);
}

// A configuration entry whose membership has no voter is refused at the gateway, like a
// snapshot without one: a follower acting on it could never elect a leader again.
TEST(ValidateMessage, ConfigurationEntryWithoutVotersIsRefused) {
  for (const ConfState& no_voter : {ConfState{}, ConfState{.learners = {NodeId{1}}},
                                    ConfState{.voters_outgoing = {NodeId{1}, NodeId{2}}}}) {
    Message m = append();
    m.entries[1] = Entry{.term = Term{3},
                         .index = Index{9},
                         .type = EntryType::kConfChange,
                         .data = encode_conf_change_entry(ConfChangeEntry{.result = no_voter})};
    expect_invalid(m, "no voter");
  }
}

}  // namespace
}  // namespace skiff::detail
