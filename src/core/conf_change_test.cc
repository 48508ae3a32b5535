#include "skiff/conf_change.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace skiff {
namespace {

std::vector<NodeId> ids(std::initializer_list<std::uint64_t> values) {
  std::vector<NodeId> out;
  for (std::uint64_t v : values) {
    out.push_back(NodeId{v});
  }
  return out;
}

ConfState members(std::initializer_list<std::uint64_t> voters,
                  std::initializer_list<std::uint64_t> learners = {}) {
  return ConfState{.voters = ids(voters), .learners = ids(learners)};
}

ConfChangeSingle add_voter(std::uint64_t id) {
  return ConfChangeSingle{ConfChangeType::kAddVoter, NodeId{id}};
}
ConfChangeSingle add_learner(std::uint64_t id) {
  return ConfChangeSingle{ConfChangeType::kAddLearner, NodeId{id}};
}
ConfChangeSingle remove(std::uint64_t id) {
  return ConfChangeSingle{ConfChangeType::kRemoveNode, NodeId{id}};
}

ConfChange change(std::initializer_list<ConfChangeSingle> changes,
                  ConfChangeTransition transition = ConfChangeTransition::kAuto) {
  return ConfChange{.changes = changes, .transition = transition};
}

// Leaving a joint configuration is the change with no steps.
ConfChange leave_joint() {
  return ConfChange{};
}

// The membership `cc` produces from `from`, in its text form (so a failure shows both sides
// readably), or "refused: <status>" if it is not allowed. Every accepted result must itself be
// a well-formed membership.
std::string after(const ConfState& from, const ConfChange& cc) {
  auto r = apply_conf_change(from, cc);
  if (!r.ok()) {
    return "refused: " + r.status().to_string();
  }
  if (Status s = check_conf_state(*r); !s.ok()) {
    return "ill-formed result: " + s.to_string();
  }
  return describe(*r);
}

// Expects `cc` on `from` to be refused with kInvalidArgument and a message containing `why`.
void expect_refused(const ConfState& from, const ConfChange& cc, const std::string& why) {
  auto r = apply_conf_change(from, cc);
  ASSERT_FALSE(r.ok()) << describe(cc) << " on " << describe(from) << " gave "
                       << describe(r.value());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << r.status().to_string();
  EXPECT_NE(r.status().message().find(why), std::string::npos)
      << "\"" << r.status().message() << "\" does not say " << why;
}

// --- Single-step changes (thesis §4.2: one voter at a time, old and new majorities overlap) ---

TEST(ApplyConfChange, AddVoterTakesEffectInOneStep) {
  auto r = apply_conf_change(members({1, 2, 3}), change({add_voter(4)}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->voters, ids({1, 2, 3, 4}));
  EXPECT_FALSE(r->joint());
  EXPECT_FALSE(r->auto_leave);
  EXPECT_TRUE(r->learners.empty());
  EXPECT_TRUE(r->learners_next.empty());
}

TEST(ApplyConfChange, RemoveVoterTakesEffectInOneStep) {
  EXPECT_EQ(after(members({1, 2, 3}), change({remove(3)})), "voters [1 2]");
  EXPECT_EQ(after(members({1, 2, 3}), change({remove(1)})), "voters [2 3]");
}

TEST(ApplyConfChange, AddLearner) {
  EXPECT_EQ(after(members({1, 2, 3}), change({add_learner(4)})), "voters [1 2 3] learners [4]");
}

TEST(ApplyConfChange, RemoveLearner) {
  EXPECT_EQ(after(members({1, 2, 3}, {4, 5}), change({remove(4)})), "voters [1 2 3] learners [5]");
}

TEST(ApplyConfChange, PromoteLearnerToVoter) {
  // The learner leaves the learner list as it joins the voters: never both (ConfState).
  EXPECT_EQ(after(members({1, 2, 3}, {4}), change({add_voter(4)})), "voters [1 2 3 4]");
}

TEST(ApplyConfChange, DemoteVoterToLearnerInOneStep) {
  EXPECT_EQ(after(members({1, 2, 3}), change({add_learner(3)})), "voters [1 2] learners [3]");
}

TEST(ApplyConfChange, LearnerChangesDoNotCountAsVoterChanges) {
  // Learners never vote, so any number of them may change alongside one voter, in one step.
  EXPECT_EQ(after(members({1, 2, 3}, {7}),
                  change({add_learner(4), add_learner(5), remove(7), add_voter(6)})),
            "voters [1 2 3 6] learners [4 5]");
}

TEST(ApplyConfChange, ResultIsSortedWhateverTheOrderOfTheRequest) {
  EXPECT_EQ(after(ConfState{.voters = ids({3, 1, 2})}, change({add_voter(9)})), "voters [1 2 3 9]");
}

// --- Joint consensus (thesis §4.3) ---

TEST(ApplyConfChange, AutoEntersJointWhenTwoVotersChange) {
  // Replacing a voter is two voter changes: {1 3} is a majority of C(old) = {1 2 3} and {2 4}
  // one of C(new) = {1 2 4}, with no node in common, so two leaders could be elected in one
  // term. Both configurations must agree until the change commits.
  auto r = apply_conf_change(members({1, 2, 3}), change({add_voter(4), remove(3)}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->voters, ids({1, 2, 4}));
  EXPECT_EQ(r->voters_outgoing, ids({1, 2, 3}));
  EXPECT_TRUE(r->joint());
  EXPECT_TRUE(r->auto_leave);  // kAuto leaves on its own once the joint entry commits
  EXPECT_TRUE(r->learners_next.empty());
}

TEST(ApplyConfChange, AutoEntersJointWhenTwoVotersAreAdded) {
  EXPECT_EQ(after(members({1, 2, 3}), change({add_voter(4), add_voter(5)})),
            "voters [1 2 3 4 5] outgoing [1 2 3] auto");
}

TEST(ApplyConfChange, JointDemotionWaitsInLearnersNext) {
  // Node 3 still votes in C(old) until the joint configuration is left, so it cannot be a
  // learner yet: it is parked in learners_next.
  auto r = apply_conf_change(members({1, 2, 3}), change({add_voter(4), add_learner(3)}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(describe(*r), "voters [1 2 4] outgoing [1 2 3] learners_next [3] auto");
  EXPECT_TRUE(r->learners.empty());
}

TEST(ApplyConfChange, JointPromotionOfALearner) {
  EXPECT_EQ(after(members({1, 2, 3}, {4}), change({add_voter(4), add_voter(5)})),
            "voters [1 2 3 4 5] outgoing [1 2 3] auto");
}

TEST(ApplyConfChange, JointKeepsExistingLearners) {
  EXPECT_EQ(after(members({1, 2, 3}, {5}), change({add_voter(4), remove(1)})),
            "voters [2 3 4] outgoing [1 2 3] learners [5] auto");
}

TEST(ApplyConfChange, JointAutoIsJointEvenForOneVoter) {
  EXPECT_EQ(after(members({1, 2, 3}), change({add_voter(4)}, ConfChangeTransition::kJointAuto)),
            "voters [1 2 3 4] outgoing [1 2 3] auto");
}

TEST(ApplyConfChange, JointExplicitWaitsForTheApplicationToLeave) {
  auto r = apply_conf_change(members({1, 2, 3}),
                             change({remove(3)}, ConfChangeTransition::kJointExplicit));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(describe(*r), "voters [1 2] outgoing [1 2 3]");
  EXPECT_FALSE(r->auto_leave);
}

TEST(ApplyConfChange, LeavingJointMakesLearnersNextLearners) {
  ConfState joint{.voters = ids({1, 2, 4}),
                  .learners = ids({5}),
                  .voters_outgoing = ids({1, 2, 3}),
                  .learners_next = ids({3}),
                  .auto_leave = true};
  ASSERT_TRUE(check_conf_state(joint).ok());
  auto r = apply_conf_change(joint, leave_joint());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->voters, ids({1, 2, 4}));
  EXPECT_EQ(r->learners, ids({3, 5}));
  EXPECT_TRUE(r->voters_outgoing.empty());
  EXPECT_TRUE(r->learners_next.empty());
  EXPECT_FALSE(r->auto_leave);
}

TEST(ApplyConfChange, LeavingJointDropsRemovedVoters) {
  ConfState joint{.voters = ids({2, 3, 4}), .voters_outgoing = ids({1, 2, 3})};
  EXPECT_EQ(after(joint, leave_joint()), "voters [2 3 4]");
}

TEST(ApplyConfChange, EnterThenLeaveReachesTheRequestedMembership) {
  // The two entries of a joint change end where a one-step change would have.
  auto entered = apply_conf_change(members({1, 2, 3}, {6}),
                                   change({add_voter(4), add_voter(5), add_learner(1), remove(2)}));
  ASSERT_TRUE(entered.ok()) << entered.status().to_string();
  EXPECT_EQ(describe(*entered),
            "voters [3 4 5] outgoing [1 2 3] learners [6] learners_next [1] auto");
  EXPECT_EQ(after(*entered, leave_joint()), "voters [3 4 5] learners [1 6]");
}

// --- Refusals: kInvalidArgument naming the problem ---

TEST(ApplyConfChange, RemovingAnUnknownNodeIsRefused) {
  expect_refused(members({1, 2, 3}, {4}), change({remove(9)}), "cannot remove node 9");
  expect_refused(members({1, 2, 3}, {4}), change({remove(9)}), "not a member");
}

TEST(ApplyConfChange, RemovingTheSameNodeTwiceIsRefused) {
  // The second step sees the membership after the first.
  expect_refused(members({1, 2, 3}), change({remove(3), remove(3)}), "cannot remove node 3");
}

TEST(ApplyConfChange, NodeIdZeroIsRefused) {
  for (ConfChangeSingle c : {add_voter(0), add_learner(0), remove(0)}) {
    expect_refused(members({1, 2, 3}), change({c}), "node id 0");
  }
  // Also when it is not the first step.
  expect_refused(members({1, 2, 3}), change({add_voter(4), add_learner(0)}), "node id 0");
}

TEST(ApplyConfChange, LeavingNoVoterIsRefused) {
  expect_refused(members({1}), change({remove(1)}), "leaves no voter");
  expect_refused(members({1}, {2}), change({add_learner(1)}), "leaves no voter");
  expect_refused(members({1, 2}), change({remove(1), remove(2)}, ConfChangeTransition::kJointAuto),
                 "leaves no voter");
}

TEST(ApplyConfChange, ChangingWhileJointIsRefused) {
  // Thesis §4.3: C(old,new) must be left before the next configuration is proposed.
  ConfState joint{.voters = ids({1, 2, 4}), .voters_outgoing = ids({1, 2, 3}), .auto_leave = true};
  expect_refused(joint, change({add_voter(5)}), "must be left before the next change");
  expect_refused(joint, change({add_learner(6)}, ConfChangeTransition::kJointExplicit),
                 "must be left before the next change");
}

TEST(ApplyConfChange, LeavingWhenNotJointIsRefused) {
  expect_refused(members({1, 2, 3}), leave_joint(), "not in one");
  expect_refused(members({1, 2, 3}), leave_joint(), "cannot leave a joint configuration");
}

TEST(ApplyConfChange, UnknownTypeOrTransitionIsRefused) {
  expect_refused(members({1, 2, 3}),
                 change({ConfChangeSingle{static_cast<ConfChangeType>(9), NodeId{4}}}),
                 "unknown membership change type 9");
  expect_refused(members({1, 2, 3}), change({add_voter(4)}, static_cast<ConfChangeTransition>(7)),
                 "unknown membership transition 7");
}

// --- check_conf_state ---

void expect_ill_formed(const ConfState& cs, const std::string& why) {
  Status s = check_conf_state(cs);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << describe(cs);
  EXPECT_NE(s.message().find(why), std::string::npos)
      << "\"" << s.message() << "\" does not say " << why;
}

TEST(CheckConfState, WellFormedMemberships) {
  EXPECT_TRUE(check_conf_state(members({1, 2, 3})).ok());
  EXPECT_TRUE(check_conf_state(members({1}, {2, 3})).ok());
  // A node that waits to be added starts from an empty membership (MemoryStorage()).
  EXPECT_TRUE(check_conf_state(ConfState{}).ok());
  // Joint, with an old voter on its way to becoming a learner.
  EXPECT_TRUE(check_conf_state(ConfState{.voters = ids({1, 2, 4}),
                                         .learners = ids({5}),
                                         .voters_outgoing = ids({1, 2, 3}),
                                         .learners_next = ids({3}),
                                         .auto_leave = true})
                  .ok());
}

TEST(CheckConfState, NodeIdZeroInAnyList) {
  expect_ill_formed(ConfState{.voters = ids({1, 0})}, "voters contains node id 0");
  expect_ill_formed(ConfState{.voters = ids({1}), .learners = ids({0})},
                    "learners contains node id 0");
  expect_ill_formed(ConfState{.voters = ids({1}), .voters_outgoing = ids({0, 1})},
                    "voters_outgoing contains node id 0");
  expect_ill_formed(
      ConfState{.voters = ids({1}), .voters_outgoing = ids({1, 2}), .learners_next = ids({0})},
      "learners_next contains node id 0");
}

TEST(CheckConfState, NodeListedTwice) {
  expect_ill_formed(ConfState{.voters = ids({1, 2, 2})}, "voters lists node 2 twice");
  expect_ill_formed(ConfState{.voters = ids({1}), .learners = ids({3, 3})},
                    "learners lists node 3 twice");
}

TEST(CheckConfState, VoterAndLearnerAtOnce) {
  expect_ill_formed(members({1, 2, 3}, {3}), "node 3 is both a voter and a learner");
  // An outgoing voter still votes: it cannot be a learner before the joint config is left.
  expect_ill_formed(
      ConfState{.voters = ids({1, 2}), .learners = ids({3}), .voters_outgoing = ids({1, 2, 3})},
      "node 3 is both a voter and a learner");
}

TEST(CheckConfState, LearnersNextMustBeOutgoingVotersOnly) {
  expect_ill_formed(
      ConfState{
          .voters = ids({1, 2}), .voters_outgoing = ids({1, 2, 3}), .learners_next = ids({4})},
      "learners_next node 4 must be an outgoing voter");
  // Still an incoming voter: it cannot also be on its way to learner.
  expect_ill_formed(
      ConfState{
          .voters = ids({1, 2}), .voters_outgoing = ids({1, 2, 3}), .learners_next = ids({2})},
      "learners_next node 2 must be an outgoing voter that is not an incoming one");
  // Outside a joint configuration there are no outgoing voters at all.
  expect_ill_formed(ConfState{.voters = ids({1, 2}), .learners_next = ids({3})},
                    "learners_next node 3");
}

TEST(CheckConfState, AutoLeaveNeedsAJointConfiguration) {
  ConfState cs = members({1, 2, 3});
  cs.auto_leave = true;
  expect_ill_formed(cs, "need a joint configuration");
}

// --- Configuration entry encoding ---

ConfChangeEntry simple_entry() {
  return ConfChangeEntry{
      .change = ConfChange{.changes = {add_voter(4)}, .context = Bytes::copy_of("ab")},
      .result = members({1, 2, 3, 4})};
}

ConfChangeEntry joint_entry() {
  return ConfChangeEntry{.change = ConfChange{.changes = {add_voter(4), add_learner(3), remove(7)},
                                              .transition = ConfChangeTransition::kJointAuto,
                                              .context = Bytes::copy_of("10.0.0.4:7000")},
                         .result = ConfState{.voters = ids({1, 2, 4}),
                                             .learners = ids({5}),
                                             .voters_outgoing = ids({1, 2, 3}),
                                             .learners_next = ids({3}),
                                             .auto_leave = true}};
}

ConfChangeEntry leave_entry() {
  return ConfChangeEntry{.change = ConfChange{.transition = ConfChangeTransition::kJointExplicit},
                         .result = members({1, 2, 4}, {3, 5})};
}

// Ids and a context that need multi-byte varints.
ConfChangeEntry wide_entry() {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  return ConfChangeEntry{.change = ConfChange{.changes = {add_voter(kMax), remove(300)},
                                              .context = Bytes(std::string(300, 'x'))},
                         .result = members({1, 128, 16384, kMax})};
}

std::vector<ConfChangeEntry> sample_entries() {
  return {simple_entry(), joint_entry(), leave_entry(), wide_entry()};
}

// Bytes from their values, so that zero bytes and hex escapes stay readable.
std::string raw(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) {
    out.push_back(static_cast<char>(v));
  }
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

TEST(ConfChangeEntryFormat, RoundTrips) {
  for (const ConfChangeEntry& e : sample_entries()) {
    const Bytes encoded = encode_conf_change_entry(e);
    auto decoded = decode_conf_change_entry(encoded.view());
    ASSERT_TRUE(decoded.ok()) << describe(e.change) << ": " << decoded.status().to_string();
    EXPECT_EQ(*decoded, e) << describe(e.change);
  }
}

// `text` without spaces and bars: lets expected bytes be written field by field.
std::string unspaced(std::string text) {
  std::erase(text, ' ');
  std::erase(text, '|');
  return text;
}

TEST(ConfChangeEntryFormat, VersionOneBytesAreStable) {
  // The payload is stored in logs: these bytes must decode the same way forever (format at the
  // top of conf_change.cc). Fields: version | change count, then type and node per change |
  // transition | context length and bytes | voters | learners | voters_outgoing |
  // learners_next | auto_leave.
  EXPECT_EQ(hex(encode_conf_change_entry(simple_entry()).view()),
            unspaced("01 | 01 0104 | 00 | 02 6162 | 04 01020304 | 00 | 00 | 00 | 00"));
  // Multi-byte varints are little-endian groups of seven bits: 300 = 0xac 0x02.
  ConfChangeEntry e = simple_entry();
  e.change.changes = {remove(300)};
  e.change.context = Bytes();
  e.result = members({1, 2, 3});
  EXPECT_EQ(hex(encode_conf_change_entry(e).view()),
            unspaced("01 | 01 03ac02 | 00 | 00 | 03 010203 | 00 | 00 | 00 | 00"));
}

void expect_corrupt(std::string_view data, const std::string& why) {
  auto r = decode_conf_change_entry(data);
  ASSERT_FALSE(r.ok()) << hex(data) << " decoded";
  EXPECT_EQ(r.status().code(), ErrorCode::kCorruption) << hex(data);
  EXPECT_NE(r.status().message().find(why), std::string::npos)
      << hex(data) << ": \"" << r.status().message() << "\" does not say " << why;
}

TEST(ConfChangeEntryFormat, EmptyInputIsCorruption) {
  expect_corrupt("", "empty");
}

TEST(ConfChangeEntryFormat, UnknownVersionIsCorruption) {
  std::string data(encode_conf_change_entry(simple_entry()).view());
  data[0] = 2;
  expect_corrupt(data, "unknown format version 2");
  data[0] = 0;
  expect_corrupt(data, "unknown format version 0");
}

TEST(ConfChangeEntryFormat, EveryTruncationIsCorruption) {
  for (const ConfChangeEntry& e : sample_entries()) {
    const std::string data(encode_conf_change_entry(e).view());
    for (std::size_t n = 0; n < data.size(); ++n) {
      auto r = decode_conf_change_entry(std::string_view(data).substr(0, n));
      EXPECT_EQ(r.status().code(), ErrorCode::kCorruption)
          << describe(e.change) << " cut to " << n << " of " << data.size() << " bytes";
    }
  }
}

TEST(ConfChangeEntryFormat, TrailingBytesAreCorruption) {
  std::string data(encode_conf_change_entry(joint_entry()).view());
  expect_corrupt(data + '\0', "1 trailing bytes");
  expect_corrupt(data + "xyz", "3 trailing bytes");
}

TEST(ConfChangeEntryFormat, HugeCountsAreCorruptionNotAllocations) {
  // A hostile count must be rejected against the bytes left, before anything is allocated.
  const std::string huge = raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f});  // 2^63-1
  expect_corrupt(raw({0x01}) + huge, "bad change count");
  // A count that fits in memory but not in the bytes left: 2 changes need at least 4 bytes.
  expect_corrupt(raw({0x01, 0x02, 0x01, 0x04, 0x00}), "bad change count");
  // Context length past the end.
  expect_corrupt(raw({0x01, 0x00, 0x00}) + huge, "truncated context");
  expect_corrupt(raw({0x01, 0x00, 0x00, 0x05, 'a', 'b', 'c', 'd'}), "truncated context");
  // Voter count past the end.
  expect_corrupt(raw({0x01, 0x00, 0x00, 0x00}) + huge, "truncated membership");
  expect_corrupt(raw({0x01, 0x00, 0x00, 0x00, 0x03, 0x01, 0x02}), "truncated membership");
}

TEST(ConfChangeEntryFormat, VarintsLongerThan64BitsAreCorruption) {
  // One AddVoter change whose node id is `id`, then a valid tail (voters [1]).
  auto with_node = [](const std::string& id) {
    return raw({0x01, 0x01, 0x01}) + id + raw({0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00});
  };
  const std::string nine_groups = raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  // The control: 63 bits of ones and a tenth group holding bit 63 is the largest id.
  auto max = decode_conf_change_entry(with_node(nine_groups + raw({0x01})));
  ASSERT_TRUE(max.ok()) << max.status().to_string();
  EXPECT_EQ(max->change.changes.at(0).node, NodeId{std::numeric_limits<std::uint64_t>::max()});
  // A tenth group with more than one bit, or an eleventh group, is past 64 bits.
  expect_corrupt(with_node(nine_groups + raw({0x02})), "truncated change");
  expect_corrupt(with_node(nine_groups + raw({0x81, 0x00})), "truncated change");
}

TEST(ConfChangeEntryFormat, UnknownEnumValuesAreCorruption) {
  std::string data(encode_conf_change_entry(simple_entry()).view());
  // Bytes: [0] version, [1] change count, [2] change type, [3] node, [4] transition, ...
  for (char type : {'\x00', '\x04', '\xff'}) {
    std::string bad = data;
    bad[2] = type;
    expect_corrupt(bad, "unknown change type");
  }
  std::string bad_transition = data;
  bad_transition[4] = 3;
  expect_corrupt(bad_transition, "bad transition");
  std::string bad_auto_leave = data;
  bad_auto_leave.back() = 2;
  expect_corrupt(bad_auto_leave, "bad auto_leave flag");
}

TEST(ConfChangeEntryFormat, IllFormedResultIsCorruption) {
  // Well-framed bytes whose membership breaks check_conf_state.
  ConfChangeEntry both = simple_entry();
  both.result.learners = ids({4});
  expect_corrupt(encode_conf_change_entry(both).view(), "node 4 is both a voter and a learner");

  ConfChangeEntry zero = simple_entry();
  zero.result.voters = ids({1, 0});
  expect_corrupt(encode_conf_change_entry(zero).view(), "voters contains node id 0");

  ConfChangeEntry auto_leave = simple_entry();
  auto_leave.result.auto_leave = true;
  expect_corrupt(encode_conf_change_entry(auto_leave).view(), "need a joint configuration");
}

TEST(ConfChangeEntryFormat, EverySingleByteCorruptionIsHandled) {
  // No byte value at any position makes the decoder misbehave: it answers kCorruption, or a
  // well-formed entry (e.g. a different node id).
  for (const ConfChangeEntry& e : {simple_entry(), joint_entry(), leave_entry()}) {
    const std::string data(encode_conf_change_entry(e).view());
    for (std::size_t pos = 0; pos < data.size(); ++pos) {
      for (int v = 0; v < 256; ++v) {
        std::string bad = data;
        bad[pos] = static_cast<char>(v);
        auto r = decode_conf_change_entry(bad);
        if (r.ok()) {
          EXPECT_TRUE(check_conf_state(r->result).ok()) << hex(bad);
        } else {
          EXPECT_EQ(r.status().code(), ErrorCode::kCorruption) << hex(bad);
        }
      }
    }
  }
}

TEST(ConfChangeDescribe, NamesEachStepAndTheTransition) {
  EXPECT_EQ(
      describe(change({add_voter(4), add_learner(5), remove(3)}, ConfChangeTransition::kJointAuto)),
      "+v4 +l5 -3 joint");
  EXPECT_EQ(describe(change({remove(2)}, ConfChangeTransition::kJointExplicit)),
            "-2 joint-explicit");
  EXPECT_EQ(describe(leave_joint()).substr(0, 11), "leave-joint");
}

// A change naming node 0 is malformed even when its result is valid: the request is handed
// back to the application with the committed entry.
TEST(ConfChangeEntryFormat, ChangeNamingNodeZeroIsCorruption) {
  const ConfChangeEntry payload{.change = ConfChange{.changes = {add_voter(0)}},
                                .result = members({1, 2})};
  auto decoded = decode_conf_change_entry(encode_conf_change_entry(payload).view());
  EXPECT_EQ(decoded.status().code(), ErrorCode::kCorruption);
}

// A membership without voters could never decide; apply_conf_change never produces one, so an
// entry carrying one is corrupt (as a snapshot without voters is refused at the gateway).
TEST(ConfChangeEntryFormat, ResultWithoutVotersIsCorruption) {
  for (const ConfState& no_voter :
       {ConfState{}, ConfState{.learners = ids({1})}, ConfState{.voters_outgoing = ids({1, 2})}}) {
    auto decoded = decode_conf_change_entry(
        encode_conf_change_entry(ConfChangeEntry{.result = no_voter}).view());
    EXPECT_EQ(decoded.status().code(), ErrorCode::kCorruption) << describe(no_voter);
  }
}

TEST(ConfChangeDescribe, MatchesItsDocumentedForm) {
  const ConfChange cc{.changes = {add_voter(4),
                                  ConfChangeSingle{ConfChangeType::kAddLearner, NodeId{5}},
                                  ConfChangeSingle{ConfChangeType::kRemoveNode, NodeId{3}}}};
  EXPECT_EQ(describe(cc), "+v4 +l5 -3");
  EXPECT_EQ(describe(ConfChange{}), "leave-joint");
}

}  // namespace
}  // namespace skiff
