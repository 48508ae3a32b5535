// Transcript tests: each file in testdata/ is a story of commands against an in-process
// cluster, each followed by the output it must produce (etcd-io/raft's interaction tests are
// the model). Run with SKIFF_REWRITE=1 to regenerate the expected output in place; commit a
// rewrite only when the diff is understood.
//
// File format:
//   # comment (kept)
//   > command args...
//   expected output lines (everything up to the next "> " line or blank line + comment)
//
// Commands:
//   cluster size=N [pre_vote=0|1] [check_quorum=0|1] [seed=S] [election=T] [heartbeat=H]
//           [inflight=W] [max_msg=B] [forward=0|1]
//   campaign ID | tick ID [N] | propose ID DATA
//   tick-all [N]         N times: tick every live node, stabilize; prints delivered messages
//                        except heartbeats and their responses
//   stabilize            deliver until quiet; prints every delivered message
//   round                one round: handle every Ready, deliver what was in flight
//   isolate ID | cut A B | cut-one-way FROM TO | partition A,B/C,D | heal
//   crash ID | restart ID | crash-before-persist ID
//   status               one line per node: role, term, leader, commit, applied, last index
//   log ID               the node's stored entries and hard state
//   applied ID           the normal entries the node applied since its last start
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/cluster.h"

namespace skiff::test {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) {
        out.push_back(cur);
      }
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) {
    out.push_back(cur);
  }
  return out;
}

struct Block {
  std::vector<std::string> comments;  // lines before the command
  std::string command;
  std::string expected;
};

std::vector<Block> parse(std::istream& in) {
  std::vector<Block> blocks;
  Block cur;
  bool in_output = false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("> ", 0) == 0) {
      if (in_output) {
        blocks.push_back(cur);
        cur = Block{};
      }
      cur.command = line.substr(2);
      in_output = true;
    } else if (in_output && !(line.empty() || line[0] == '#')) {
      cur.expected += line + "\n";
    } else if (in_output) {
      // A blank or comment line ends the output; it belongs to the next block.
      blocks.push_back(cur);
      cur = Block{};
      in_output = false;
      cur.comments.push_back(line);
    } else {
      cur.comments.push_back(line);
    }
  }
  if (in_output) {
    blocks.push_back(cur);
  }
  return blocks;
}

class Runner {
 public:
  std::string run(const std::string& command) {
    std::vector<std::string> args = split(command, ' ');
    if (args.empty()) {
      return "error: empty command\n";
    }
    const std::string& cmd = args[0];
    auto id = [&](std::size_t k) { return std::stoull(args.at(k)); };
    if (cmd == "cluster") {
      return make_cluster(args);
    }
    if (!cluster_) {
      return "error: no cluster yet\n";
    }
    Cluster& c = *cluster_;
    if (cmd == "campaign") {
      return status_line(c.campaign(id(1)));
    }
    if (cmd == "tick") {
      c.tick(id(1), args.size() > 2 ? std::stoi(args[2]) : 1);
      return "";
    }
    if (cmd == "tick-all") {
      const std::size_t before = c.transcript().size();
      c.run_ticks(args.size() > 1 ? std::stoi(args[1]) : 1);
      return since(before, /*hide_heartbeats=*/true);
    }
    if (cmd == "propose") {
      auto p = c.propose(id(1), args.at(2));
      if (!p.ok()) {
        return status_line(p.status());
      }
      if (p->forwarded_to != kNoNode) {
        return "forwarded to " + describe(p->forwarded_to) + "\n";
      }
      return "ok " + describe(p->id) + "\n";
    }
    if (cmd == "stabilize") {
      const std::size_t before = c.transcript().size();
      c.stabilize();
      return since(before);
    }
    if (cmd == "round") {
      const std::size_t before = c.transcript().size();
      c.step_round();
      return since(before);
    }
    if (cmd == "isolate") {
      c.isolate(id(1));
      return "";
    }
    if (cmd == "cut") {
      c.cut(id(1), id(2));
      return "";
    }
    if (cmd == "cut-one-way") {
      c.cut_one_way(id(1), id(2));
      return "";
    }
    if (cmd == "partition") {
      std::vector<std::vector<std::uint64_t>> groups;
      for (const std::string& g : split(args.at(1), '/')) {
        groups.emplace_back();
        for (const std::string& n : split(g, ',')) {
          groups.back().push_back(std::stoull(n));
        }
      }
      c.partition(groups);
      return "";
    }
    if (cmd == "heal") {
      c.heal();
      return "";
    }
    if (cmd == "crash") {
      c.crash(id(1));
      return "";
    }
    if (cmd == "crash-before-persist") {
      c.crash_before_persist(id(1));
      return "";
    }
    if (cmd == "restart") {
      c.restart(id(1));
      return "";
    }
    if (cmd == "status") {
      std::string out;
      for (std::uint64_t n : c.ids()) {
        if (!c.is_up(n)) {
          out += std::to_string(n) + ": down\n";
          continue;
        }
        RawNode& r = c.node(n);
        out += std::to_string(n) + ": " + std::string(to_string(r.role())) + " t" +
               std::to_string(r.term().value) + " leader " + describe(r.leader()) + " commit " +
               std::to_string(r.commit_index().value) + " applied " +
               std::to_string(r.applied_index().value) + " last " +
               std::to_string(r.last_index().value) + "\n";
      }
      return out;
    }
    if (cmd == "log") {
      MemoryStorage& s = c.storage(id(1));
      auto ents = s.entries(s.first_index(), s.last_index() + 1, UINT64_MAX);
      return "hard " + describe(s.hard_state()) + "\n" +
             (ents.ok() ? describe(*ents) : ents.status().to_string()) + "\n";
    }
    if (cmd == "applied") {
      std::string out;
      for (const std::string& a : c.applied(id(1))) {
        out += (out.empty() ? "" : " ") + a;
      }
      return "[" + out + "]\n";
    }
    return "error: unknown command " + cmd + "\n";
  }

 private:
  std::string make_cluster(const std::vector<std::string>& args) {
    ClusterOptions o;
    std::uint32_t inflight = 0;
    std::uint64_t max_msg = 0;
    bool forward = false;
    for (std::size_t k = 1; k < args.size(); ++k) {
      auto kv = split(args[k], '=');
      if (kv.size() != 2) {
        return "error: bad argument " + args[k] + "\n";
      }
      const std::uint64_t v = std::stoull(kv[1]);
      if (kv[0] == "size") {
        o.size = v;
      } else if (kv[0] == "pre_vote") {
        o.pre_vote = v != 0;
      } else if (kv[0] == "check_quorum") {
        o.check_quorum = v != 0;
      } else if (kv[0] == "seed") {
        o.seed = v;
      } else if (kv[0] == "election") {
        o.election_tick = static_cast<std::uint32_t>(v);
      } else if (kv[0] == "heartbeat") {
        o.heartbeat_tick = static_cast<std::uint32_t>(v);
      } else if (kv[0] == "inflight") {
        inflight = static_cast<std::uint32_t>(v);
      } else if (kv[0] == "max_msg") {
        max_msg = v;
      } else if (kv[0] == "forward") {
        forward = v != 0;
      } else {
        return "error: unknown option " + kv[0] + "\n";
      }
    }
    o.tweak = [=](Config& c) {
      if (inflight > 0) {
        c.max_inflight_msgs = inflight;
      }
      if (max_msg > 0) {
        c.max_size_per_msg = max_msg;
      }
      c.forward_proposals = forward;
    };
    cluster_ = std::make_unique<Cluster>(o);
    return "";
  }

  std::string since(std::size_t before, bool hide_heartbeats = false) const {
    std::string out;
    const auto& t = cluster_->transcript();
    for (std::size_t k = before; k < t.size(); ++k) {
      if (hide_heartbeats && t[k].find(" Heartbeat") != std::string::npos) {
        continue;
      }
      out += t[k] + "\n";
    }
    return out;
  }

  static std::string status_line(const Status& s) { return s.ok() ? "ok\n" : s.to_string() + "\n"; }

  std::unique_ptr<Cluster> cluster_;
};

class TranscriptTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TranscriptTest, Matches) {
  const std::filesystem::path path = GetParam();
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot open " << path;
  std::vector<Block> blocks = parse(in);
  Runner runner;
  const bool rewrite = std::getenv("SKIFF_REWRITE") != nullptr;
  std::string rewritten;
  for (Block& b : blocks) {
    for (const std::string& c : b.comments) {
      rewritten += c + "\n";
    }
    const std::string got = runner.run(b.command);
    rewritten += "> " + b.command + "\n" + got;
    if (!rewrite) {
      EXPECT_EQ(b.expected, got) << path.filename() << ": > " << b.command;
    }
  }
  if (rewrite) {
    std::ofstream out(path);
    out << rewritten;
  }
}

std::vector<std::string> transcript_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(SKIFF_TRANSCRIPT_DIR)) {
    if (e.path().extension() == ".txt") {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

INSTANTIATE_TEST_SUITE_P(Testdata, TranscriptTest, ::testing::ValuesIn(transcript_files()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = std::filesystem::path(param.param).stem().string();
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) {
                               ch = '_';
                             }
                           }
                           return name;
                         });

}  // namespace
}  // namespace skiff::test
