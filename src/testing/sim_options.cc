// SimOptions' text form and the trace file format.
//
// A trace file is one line of options ("skiff-trace v1 nodes=3 seed=7 ..."), a newline, and
// the run's choices in ByteChooser encoding. Replaying feeds those bytes to a ByteChooser.
#include <charconv>
#include <string>
#include <vector>

#include "core/str.h"
#include "skiff/testing/simulator.h"

namespace skiff::testing {

using detail::str_cat;

namespace {

constexpr std::string_view kTraceMagic = "skiff-trace v1";

// Every option as (name, pointer-to-field): one table for writing and parsing.
template <typename F>
void for_each_field(SimOptions& o, F&& f) {
  f("seed", o.seed);
  f("nodes", o.nodes);
  f("fault_rounds", o.fault_rounds);
  f("heal_rounds", o.heal_rounds);
  f("clients", o.clients);
  f("client_rate", o.client_rate);
  f("client_timeout", o.client_timeout);
  f("pre_vote", o.pre_vote);
  f("check_quorum", o.check_quorum);
  f("election_tick", o.election_tick);
  f("heartbeat_tick", o.heartbeat_tick);
  f("max_inflight_msgs", o.max_inflight_msgs);
  f("max_size_per_msg", o.max_size_per_msg);
  f("spares", o.spares);
  f("lease_reads", o.lease_reads);
  f("loss", o.faults.loss);
  f("duplicate", o.faults.duplicate);
  f("delay", o.faults.delay);
  f("max_delay", o.faults.max_delay);
  f("crash", o.faults.crash);
  f("leader_fault", o.faults.leader_fault);
  f("restart", o.faults.restart);
  f("partition", o.faults.partition);
  f("one_way_cut", o.faults.one_way_cut);
  f("heal", o.faults.heal);
  f("pause", o.faults.pause);
  f("max_pause", o.faults.max_pause);
  f("min_tick_rate", o.faults.min_tick_rate);
  f("snapshot", o.faults.snapshot);
  f("conf_change", o.faults.conf_change);
  f("transfer", o.faults.transfer);
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "1" || text == "true") {
      out = true;
      return true;
    }
    if (text == "0" || text == "false") {
      out = false;
      return true;
    }
    return false;
  } else {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
  }
}

}  // namespace

std::string SimOptions::to_string() const {
  SimOptions copy = *this;
  std::string out;
  for_each_field(copy, [&](std::string_view name, const auto& value) {
    out += str_cat(out.empty() ? "" : " ", name, "=", value);
  });
  return out;
}

Result<SimOptions> SimOptions::parse(std::string_view text) {
  SimOptions o;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && text[pos] == ' ') {
      ++pos;
    }
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view word = text.substr(pos, end - pos);
    pos = end;
    if (word.empty()) {
      continue;
    }
    const std::size_t eq = word.find('=');
    if (eq == std::string_view::npos) {
      return Status(ErrorCode::kInvalidArgument, str_cat("option without '=': ", word));
    }
    const std::string_view key = word.substr(0, eq);
    const std::string_view value = word.substr(eq + 1);
    bool known = false;
    bool valid = false;
    for_each_field(o, [&](std::string_view name, auto& field) {
      if (name == key) {
        known = true;
        valid = parse_number(value, field);
      }
    });
    if (!known) {
      return Status(ErrorCode::kInvalidArgument, str_cat("unknown option: ", key));
    }
    if (!valid) {
      return Status(ErrorCode::kInvalidArgument, str_cat("bad value for ", key, ": ", value));
    }
  }
  if (o.nodes == 0 || o.nodes > 9) {
    return Status(ErrorCode::kInvalidArgument, str_cat("nodes must be 1..9, not ", o.nodes));
  }
  if (o.spares > 4) {
    return Status(ErrorCode::kInvalidArgument, str_cat("spares must be 0..4, not ", o.spares));
  }
  if (o.lease_reads && (!o.check_quorum || o.faults.min_tick_rate == 0)) {
    return Status(ErrorCode::kInvalidArgument,
                  "lease_reads needs check_quorum and min_tick_rate >= 1");
  }
  if (o.heartbeat_tick == 0 || o.election_tick <= o.heartbeat_tick || o.max_inflight_msgs == 0 ||
      o.max_size_per_msg == 0) {
    return Status(
        ErrorCode::kInvalidArgument,
        "need heartbeat_tick >= 1, election_tick > heartbeat_tick, max_inflight_msgs >= 1, "
        "max_size_per_msg >= 1");
  }
  return o;
}

std::string encode_trace(const SimOptions& options, std::string_view choices) {
  return str_cat(kTraceMagic, " ", options.to_string(), "\n", choices);
}

Result<std::pair<SimOptions, std::string>> decode_trace(std::string_view file) {
  const std::size_t nl = file.find('\n');
  if (nl == std::string_view::npos || file.substr(0, kTraceMagic.size()) != kTraceMagic) {
    return Status(ErrorCode::kInvalidArgument,
                  str_cat("not a skiff trace: the first line must start with '", kTraceMagic, "'"));
  }
  auto options = SimOptions::parse(file.substr(kTraceMagic.size(), nl - kTraceMagic.size()));
  if (!options.ok()) {
    return options.status();
  }
  return std::make_pair(std::move(options).value(), std::string(file.substr(nl + 1)));
}

}  // namespace skiff::testing
